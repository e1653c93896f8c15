"""The wire format of Node's Socket.IO cluster adapters, as nestpy reads and writes it.

``@socket.io/redis-adapter`` 8.x encodes its messages with notepack.io 3 (MessagePack) or
``JSON.stringify``; ``@socket.io/redis-streams-adapter`` 0.3.x with ``@msgpack/msgpack`` or
JSON. Both read what the other writes. What notepack.io does, and so what this module does:

- a JS object is a map, an array an array, a ``Buffer`` ``bin`` (Python ``bytes``); strings
  are ``str``; ``undefined`` is ``nil`` (notepack.io 3; 2.x wrote ``fixext 1`` type 0, read
  here as ``None`` too); a ``Date`` is the MessagePack timestamp extension (type -1), turned
  into the ISO string ``JSON.stringify`` gives, since that is what a Node server would have
  sent a client; an ``ArrayBuffer``/typed array is ext type 0 (Python ``bytes``).
- Numbers: integers as integers, others as float 64 (Python's ``msgpack`` does the same).

.. versionadded:: 0.2
"""

from __future__ import annotations

import datetime as _dt
import json as _stdjson
from collections.abc import Callable
from typing import Any, Final

from nestpy._pipeline.encoding import json_default

try:  # optional dependency (the ``node-cluster`` extra)
    import msgpack

    _Timestamp: Any = msgpack.Timestamp
except ImportError:  # pragma: no cover - checked by the adapter's constructor
    msgpack = None
    _Timestamp = None

__all__ = [
    "RequestType",
    "decode",
    "decode_request",
    "encode",
    "handshake_summary",
    "node_socket_to_summary",
]


class RequestType:
    """``RequestType`` of ``@socket.io/redis-adapter`` (lib/index.ts)."""

    SOCKETS: Final = 0
    ALL_ROOMS: Final = 1
    REMOTE_JOIN: Final = 2
    REMOTE_LEAVE: Final = 3
    REMOTE_DISCONNECT: Final = 4
    REMOTE_FETCH: Final = 5
    SERVER_SIDE_EMIT: Final = 6
    BROADCAST: Final = 7
    BROADCAST_CLIENT_COUNT: Final = 8
    BROADCAST_ACK: Final = 9


def _iso(ts: Any) -> str:
    """A MessagePack timestamp as JavaScript's ``Date.prototype.toJSON`` writes it."""
    when: _dt.datetime = ts.to_datetime().astimezone(_dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _map_hook(obj: dict[Any, Any]) -> dict[Any, Any]:
    # msgpack decodes the timestamp extension itself (no ext_hook call): fix it up here.
    for key, value in obj.items():
        if type(value) is _Timestamp:
            obj[key] = _iso(value)
    return obj


def _list_hook(items: list[Any]) -> list[Any]:
    for i, value in enumerate(items):
        if type(value) is _Timestamp:
            items[i] = _iso(value)
    return items


def _ext_hook(code: int, data: bytes) -> Any:
    if code == 0:
        # notepack.io's own extension: an ArrayBuffer, or (2.x) ``undefined`` as fixext 1.
        return None if data == b"\x00" else bytes(data)
    return msgpack.ExtType(code, data)


def _default(obj: Any) -> Any:
    """What MessagePack cannot carry natively becomes what nestpy's one wire encoder makes
    of it (models, dataclasses, datetimes, UUIDs, Enums, sets...).

    Raises:
        TypeError: nothing converts *obj* (the message names its type).
    """
    if isinstance(obj, bytearray | memoryview):
        return bytes(obj)
    try:
        return json_default(obj)
    except TypeError as exc:
        raise TypeError(f"cannot send {type(obj).__name__} to the cluster: {exc}") from None


def encode(message: Any) -> bytes:
    """*message* as notepack.io would encode it (``bytes`` as ``bin``).

    Raises:
        TypeError: *message* holds a value MessagePack cannot carry.
    """
    out: bytes = msgpack.packb(message, use_bin_type=True, default=_default)
    return out


def decode(raw: bytes) -> Any:
    """A MessagePack payload written by notepack.io or ``@msgpack/msgpack``."""
    return msgpack.unpackb(
        raw, raw=False, strict_map_key=False, ext_hook=_ext_hook, object_hook=_map_hook,
        list_hook=_list_hook,
    )


def decode_request(raw: bytes, loads: Callable[[Any], Any] = _stdjson.loads) -> Any:
    """A request or response: JSON when it starts with ``{`` (as the Node adapter checks),
    MessagePack otherwise."""
    if raw[:1] == b"{":
        return loads(raw)
    return decode(raw)


def handshake_summary(hs: Any) -> dict[str, Any]:
    """A nestpy ``Handshake`` in the shape of socket.io's ``socket.handshake``."""
    return {
        "headers": hs.headers,
        "time": hs.time,
        "address": hs.address,
        "xdomain": bool(hs.headers.get("origin")),
        "secure": hs.secure,
        "issued": hs.issued,
        "url": hs.url,
        "query": hs.query,
        "auth": hs.auth,
    }


def node_socket_to_summary(details: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A socket from a Node ``REMOTE_FETCH`` answer as ``RemoteSocket`` reads it."""
    hs = details.get("handshake")
    hs = hs if isinstance(hs, dict) else {}
    return {
        "id": details.get("id"),
        "nsp": namespace,
        "rooms": list(details.get("rooms") or ()),
        "data": details.get("data"),
        "hs": hs,
    }
