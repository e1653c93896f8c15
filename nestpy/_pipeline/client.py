"""What a compiled handler needs from the client that sent a message and from the server it
is bound to: two small protocols, so one compiler serves every transport (Socket.IO's
``Socket`` on ``NestAsyncServer``, plain WebSocket's ``WsClient`` on ``WsHost``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["Client", "PipelineHost"]


class Client(Protocol):
    """One connected client, whatever the transport.

    The pipeline reads ``id`` and ``connected``, and emits the ``exception`` event and a
    ``WsResponse`` with ``emit(event, data)``. Everything else (rooms, handshake, data) is
    the transport's and reaches handlers, guards and filters as the object itself.
    """

    @property
    def id(self) -> str:
        """The client's id (a request-scope key: one ``Scope.REQUEST`` instance per client)."""
        ...

    @property
    def connected(self) -> bool:
        """Whether the client is still connected (nothing is sent to a gone client)."""
        ...

    def emit(self, event: str, data: Any, /) -> Awaitable[None]:
        """Send *event* with *data* to this client."""
        ...


class PipelineHost(Protocol):
    """The server a compiled handler replies through.

    A host may also define ``send_error(client, ack_id, payload, silent)`` (one error frame
    instead of an ``exception`` emit plus an ack) and ``reply_each_item = True`` (every item
    of an async generator is a reply); both are read once, when the handler is compiled.
    """

    async def send_ack(self, client: Any, ack_id: Any, args: list[Any]) -> None:
        """Answer message *ack_id* of *client* with *args* (``[]`` for no value)."""
        ...

    def ack_sender(self, client: Any, ack_id: Any) -> Callable[..., Awaitable[None]]:
        """The callable an ``Ack()`` parameter receives for message *ack_id*."""
        ...
