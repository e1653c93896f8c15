"""Optional speed-ups (``pip install "nestpy-io[speed]"``): orjson for Socket.IO packets.

uvloop is picked up by ``NestFactory.run``; orjson here, by every server nestpy creates unless
a gateway passes its own ``json=`` or ``NESTPY_ORJSON=0`` is set. Either codec converts what
JSON cannot carry (models, dataclasses, datetimes, UUIDs, Enums... nested in the data) with
nestpy's encoder as its ``default`` hook: plain JSON data pays nothing for it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from nestpy._pipeline.encoding import json_default

__all__ = ["OrjsonCodec", "StdlibCodec", "default_json"]

_orjson_dumps: Any
_orjson_loads: Any
try:  # bound once: the codec runs for every packet
    from orjson import dumps as _orjson_dumps
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - the speed extra is not installed
    _orjson_dumps = _orjson_loads = None


class OrjsonCodec:
    """A ``json``-module stand-in backed by orjson, for python-socketio's ``json=`` hook."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        """Serialise *obj*; falls back to the stdlib for what orjson refuses (non-str keys,
        integers over 64 bits, custom ``default=``)."""
        if not kwargs.get("default") and not kwargs.get("cls"):
            try:
                # Without default= first: the keyword costs orjson ~100 ns per call, and
                # plain JSON data (nearly every packet) never needs it.
                encoded: bytes = _orjson_dumps(obj)
                return encoded.decode()
            except TypeError:
                pass
            try:
                encoded = _orjson_dumps(obj, default=json_default)
                return encoded.decode()
            except TypeError:
                pass
        kwargs.setdefault("separators", (",", ":"))
        kwargs.setdefault("default", json_default)
        return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(data: str | bytes, **kwargs: Any) -> Any:
        """Parse a JSON document (``orjson.JSONDecodeError`` is a ``ValueError``)."""
        if kwargs:
            return json.loads(data, **kwargs)
        return _orjson_loads(data)


class StdlibCodec:
    """The stdlib ``json`` module with nestpy's encoder as its ``default`` hook."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        """Serialise *obj* (``default`` converts models, datetimes, Enums...)."""
        kwargs.setdefault("default", json_default)
        return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(data: str | bytes, **kwargs: Any) -> Any:
        """Parse a JSON document."""
        return json.loads(data, **kwargs)


def default_json() -> Any:
    """``OrjsonCodec`` when orjson is installed (and not disabled), else ``StdlibCodec``."""
    if _orjson_dumps is None or os.environ.get("NESTPY_ORJSON", "1") in ("0", "false", "no"):
        return StdlibCodec
    return OrjsonCodec
