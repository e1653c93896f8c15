"""Handler parameter markers, read once by ``parse_handler`` from ``Annotated`` hints.

Transport-neutral: a Socket.IO gateway and a plain WebSocket gateway take the same markers.
Public under ``nestpy.websockets``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Ack", "ConnectedSocket", "Marker", "MessageBody"]


class Marker:
    """Base of the parameter markers (``parse_handler`` recognises them)."""

    __slots__ = ()


class MessageBody(Marker):
    """Parameter marker: the message payload, or one property of it.

    ``Annotated[T, MessageBody()]`` receives the whole body; ``MessageBody("room")``
    picks ``body["room"]``. Extra arguments are pipes applied to this parameter. A body
    typed as a pydantic model or dataclass is validated and converted.
    """

    __slots__ = ("key", "pipes")

    def __init__(self, key: str | None = None, *pipes: Any) -> None:
        self.key = key
        self.pipes = pipes

    def __repr__(self) -> str:
        return f"MessageBody({self.key!r})" if self.key else "MessageBody()"


class ConnectedSocket(Marker):
    """Parameter marker: the calling client (a ``Socket``, or a ``WsClient`` in a plain
    WebSocket gateway)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ConnectedSocket()"


class Ack(Marker):
    """Parameter marker: a callable that acknowledges the message manually.

    A handler that takes ``Ack()`` is not acknowledged with its return value.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "Ack()"
