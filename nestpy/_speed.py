"""Optional speed-ups (``pip install "nestpy-io[speed]"``): orjson for Socket.IO packets.

uvloop is picked up by ``NestFactory.run``; orjson here, by every server nestpy creates unless
a gateway passes its own ``json=`` or ``NESTPY_ORJSON=0`` is set.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["OrjsonCodec", "default_json"]


class OrjsonCodec:
    """A ``json``-module stand-in backed by orjson, for python-socketio's ``json=`` hook."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        """Serialise *obj*; falls back to the stdlib for what orjson refuses (non-str keys,
        integers over 64 bits, custom ``default=``)."""
        import orjson

        if not kwargs.get("default") and not kwargs.get("cls"):
            try:
                return orjson.dumps(obj).decode()
            except TypeError:
                pass
        kwargs.setdefault("separators", (",", ":"))
        return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(data: str | bytes, **kwargs: Any) -> Any:
        """Parse a JSON document (``orjson.JSONDecodeError`` is a ``ValueError``)."""
        import orjson

        if kwargs:
            return json.loads(data, **kwargs)
        return orjson.loads(data)


def default_json() -> Any:
    """``OrjsonCodec`` when orjson is installed (and not disabled), else None."""
    if os.environ.get("NESTPY_ORJSON", "1") in ("0", "false", "no"):
        return None
    try:
        import orjson  # noqa: F401
    except ImportError:
        return None
    return OrjsonCodec
