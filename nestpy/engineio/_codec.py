"""Engine.IO v4 wire format: packets, polling payloads, websocket frames.

An *encoded packet* is what one Engine.IO packet is on a websocket: a ``str`` (the type digit
followed by its data, e.g. ``"4hello"``, ``"2"``) or ``bytes`` (a binary MESSAGE). Message data
is opaque: it is never JSON-parsed (python-engineio's ``Packet.decode`` parses it, which is
lossy for an echo, ``4{"a": 1}`` → ``4{"a":1}``, and costs a failed parse per Socket.IO packet).
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Final

__all__ = [
    "CLOSE", "MESSAGE", "NOOP", "OPEN", "PING", "PONG", "UPGRADE",
    "PacketError", "decode_payload", "encode_payload", "frame",
]

OPEN: Final = "0"
CLOSE: Final = "1"
PING: Final = "2"
PONG: Final = "3"
MESSAGE: Final = "4"
UPGRADE: Final = "5"
NOOP: Final = "6"
_TYPES: Final = frozenset("0123456")
SEPARATOR: Final = "\x1e"

_OP_TEXT: Final = 0x1
_OP_BINARY: Final = 0x2
_PACK_LEN1 = struct.Struct("!BB").pack
_PACK_LEN2 = struct.Struct("!BBH").pack
_PACK_LEN3 = struct.Struct("!BBQ").pack


class PacketError(ValueError):
    """A packet or payload that is not Engine.IO v4."""


def frame(packet: str | bytes) -> bytes:
    """One final, unmasked, uncompressed websocket frame (server → client) for *packet*."""
    if isinstance(packet, str):
        payload = packet.encode()
        first = 0x80 | _OP_TEXT
    else:
        payload = packet
        first = 0x80 | _OP_BINARY
    n = len(payload)
    if n < 126:
        return _PACK_LEN1(first, n) + payload
    if n < 65536:
        return _PACK_LEN2(first, 126, n) + payload
    return _PACK_LEN3(first, 127, n) + payload


def encode_payload(packets: list[str | bytes]) -> str:
    """A polling payload: packets joined by ``\\x1e``, binary ones as ``b`` + base64."""
    return SEPARATOR.join(
        p if isinstance(p, str) else "b" + base64.b64encode(p).decode("ascii") for p in packets
    )


def check_text(packet: str) -> None:
    """Raise PacketError unless *packet* (a text packet) starts with a known type digit."""
    if not packet or packet[0] not in _TYPES:
        raise PacketError(f"invalid packet {packet[:20]!r}")


def decode_payload(body: str) -> list[str | bytes]:
    """Split a polling payload into encoded packets (base64 ones decoded to bytes).

    Raises:
        PacketError: an empty or unknown packet, or bad base64.
    """
    out: list[str | bytes] = []
    for part in body.split(SEPARATOR):
        if part[:1] == "b":
            try:
                out.append(base64.b64decode(part[1:], validate=True))
            except (binascii.Error, ValueError) as exc:
                raise PacketError("invalid base64 packet") from exc
            continue
        check_text(part)
        out.append(part)
    return out
