"""Typed server-to-client events, declared once on the gateway.

A gateway declares what its server emits as a ``Protocol`` of async methods (socket.io's
``ServerToClientEvents`` interface, in Python) and parameterises its ``Server`` with it::

    class RoomEvents(Protocol):
        async def joined(self, data: Joined, /) -> None: ...
        async def ping(self, at: datetime, /) -> Pong: ...   # the client acks with a Pong

    @WebSocketGateway(namespace="rooms")
    class RoomsGateway:
        server: Server[RoomEvents] = WebSocketServer()

        async def greet(self) -> None:
            await self.server.emit(RoomEvents.joined, Joined(room="a"))  # checked by mypy

The method's name is the event name, its parameters after ``self`` are the emitted
arguments, and a return type other than ``None`` is the client's acknowledgement.
``emit(RoomEvents.joined, "oops")`` fails mypy; ``nestpy asyncapi`` and ``nestpy client``
read the same declaration. The plain string form ``emit("joined", ...)`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typing_extensions import ParamSpec, TypeVar

__all__ = ["E", "P", "R", "event_name"]

#: The events ``Protocol`` a ``Server``/``Socket`` is parameterised with (``Any``: untyped).
E = TypeVar("E", default=Any)
#: The emitted arguments of one event.
P = ParamSpec("P")
#: The acknowledgement type of one event.
R = TypeVar("R")


def event_name(event: str | Callable[..., Any]) -> str:
    """The wire name of *event*: the string itself, or a protocol method's ``__name__``.

    Raises:
        TypeError: *event* is neither a string nor a function.
    """
    if type(event) is str:
        return event
    name = getattr(event, "__name__", None)
    if not isinstance(name, str) or not callable(event):
        raise TypeError(
            f"an event is a name or a method of an events Protocol (Events.joined), "
            f"got {event!r}"
        )
    return name
