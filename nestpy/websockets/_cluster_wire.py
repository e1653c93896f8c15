"""The cluster channel's wire format: nestpy's control methods and python-socketio's
``emit`` message (plus ``except_rooms``), and the ``Selection`` a request is about."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from socketio.packet import Packet

__all__ = [
    "BYE",
    "HEARTBEAT",
    "HELLO",
    "REQUEST",
    "RESPONSE",
    "RES_HEAD",
    "Selection",
    "emit_message",
]

HELLO: Final = "nestpy:hello"
HEARTBEAT: Final = "nestpy:heartbeat"
BYE: Final = "nestpy:bye"
REQUEST: Final = "nestpy:req"
RESPONSE: Final = "nestpy:res"
#: Every response starts with this, naming its recipient: other nodes drop it unparsed.
RES_HEAD: Final = b'{"method":"nestpy:res","to":"'


def emit_message(
    event: str,
    data: Any,
    namespace: str,
    room: str | list[str] | None,
    skip_sid: list[str] | None,
    except_rooms: Iterable[str],
    host_id: str,
) -> dict[str, Any]:
    """An ``emit`` message in python-socketio's pub/sub format, plus nestpy's ``except_rooms``.

    *data* follows python-socketio's rule: a tuple is several arguments, anything else one.
    """
    args: Any = list(data) if isinstance(data, tuple) else [data]
    binary = Packet.data_is_binary(args)
    if binary:
        args, attachments = Packet.deconstruct_binary(args)
        args = [args, *[base64.b64encode(a).decode() for a in attachments]]
    message: dict[str, Any] = {
        "method": "emit",
        "event": event,
        "data": args,
        "binary": binary,
        "namespace": namespace,
        "room": room,
        "skip_sid": skip_sid,
        "callback": None,
        "host_id": host_id,
    }
    excluded = list(except_rooms)
    if excluded:
        message["except_rooms"] = excluded
    return message


@dataclass(frozen=True, slots=True)
class Selection:
    """Which sockets a cluster request is about (a ``BroadcastOperator``'s state)."""

    namespaces: tuple[str, ...] | re.Pattern[str]
    rooms: tuple[str, ...] = ()
    except_rooms: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        """A JSON-ready form."""
        ns = self.namespaces
        return {
            "ns": list(ns) if isinstance(ns, tuple) else None,
            "re": None if isinstance(ns, tuple) else [ns.pattern, ns.flags],
            "rooms": list(self.rooms),
            "except": list(self.except_rooms),
            "skip": list(self.skip),
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Selection:
        """The selection *wire* describes."""
        pattern = wire.get("re")
        namespaces: tuple[str, ...] | re.Pattern[str]
        if pattern:
            namespaces = re.compile(str(pattern[0]), int(pattern[1]))
        else:
            namespaces = tuple(str(n) for n in wire.get("ns") or ("/",))
        return cls(
            namespaces,
            tuple(wire.get("rooms") or ()),
            tuple(wire.get("except") or ()),
            tuple(wire.get("skip") or ()),
        )
