"""Plain-WebSocket frames: NestJS's ``{"event", "data"}`` JSON text, encoded once per value.

Values go through one encoder (DESIGN.md "What a handler returns"): pydantic models are
dumped in JSON mode by alias, dataclasses/datetimes/UUIDs/enums as orjson (or the stdlib
fallback) writes them, sets and tuples as lists, ``Decimal`` as a string.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pydantic

from nestpy.websockets.responses import WsResponse

__all__ = [
    "BadFrame", "MessageParser", "ParsedFrame", "decode_json", "encode", "parse_json_frame",
]

#: ``(event, data, id)`` of one incoming frame; ``id`` is None when the client sent none.
ParsedFrame = tuple[str, Any, Any]
#: A user's parser: the raw frame (``str`` for text, ``bytes`` for binary) → a mapping with
#: ``"event"`` (and optionally ``"data"``, ``"id"``), or None to ignore the frame.
MessageParser = Callable[[str | bytes], Mapping[str, Any] | None]


class BadFrame(ValueError):
    """A frame that cannot be dispatched; its message is sent back as an exception frame."""

    def __init__(self, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.request_id = request_id


def _default(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, WsResponse):
        return {"event": value.event, "data": value.data}
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot encode a {type(value).__qualname__} as JSON")


_loads: Callable[[str | bytes], Any]
encode: Callable[[Any], bytes]
try:  # bound once: runs for every frame
    import orjson

    _orjson_dumps = orjson.dumps
    _OPTS = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_NON_STR_KEYS

    def encode(value: Any) -> bytes:
        """*value* as UTF-8 JSON (raises ``TypeError`` for what cannot be encoded)."""
        try:
            return _orjson_dumps(value, default=_default)
        except TypeError:
            # integers over 64 bits and subclasses of builtins: the stdlib handles them
            return json.dumps(value, default=_default, separators=(",", ":")).encode()

    _loads = orjson.loads
except ImportError:  # pragma: no cover - the speed extra is not installed

    def encode(value: Any) -> bytes:
        """*value* as UTF-8 JSON (raises ``TypeError`` for what cannot be encoded)."""
        return json.dumps(value, default=_default, separators=(",", ":")).encode()

    _loads = json.loads


def decode_json(raw: str | bytes) -> Any:
    """Parse one JSON document (``ValueError`` when malformed)."""
    return _loads(raw)


def parse_json_frame(raw: str | bytes) -> ParsedFrame:
    """``(event, data, id)`` of a NestJS frame ``{"event": ..., "data": ..., "id"?: ...}``.

    Raises:
        BadFrame: malformed JSON, not an object, or no string ``event``.
    """
    try:
        msg = _loads(raw)
    except ValueError:
        raise BadFrame("Malformed JSON frame") from None
    return frame_fields(msg)


def frame_fields(msg: Any) -> ParsedFrame:
    """``(event, data, id)`` of a decoded frame (a mapping with a string ``event``).

    Raises:
        BadFrame: not a mapping, or no non-empty string ``event``.
    """
    if type(msg) is not dict and not isinstance(msg, Mapping):
        raise BadFrame('A frame must be a JSON object {"event": ..., "data": ...}')
    event = msg.get("event")
    rid = msg.get("id")
    if type(event) is not str or not event:
        raise BadFrame('A frame needs a non-empty string "event"', rid)
    return event, msg.get("data"), rid
