"""A small gateway app the observability tests drive over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field

from nestpy import Module
from nestpy.common import ExecutionContext, UseGuards
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)

T = TypeVar("T")


class Note(BaseModel):
    text: str = Field(min_length=1)


class NoBadGuests:
    """Refuses the handshake of clients whose auth says ``{"bad": true}``."""

    def can_activate(self, context: ExecutionContext) -> bool:
        ws = context.switch_to_ws()
        if ws.get_pattern() != "connection":  # class guards also run per message
            return True
        return not ws.get_data().get("bad")


@UseGuards(NoBadGuests)
@WebSocketGateway(namespace="obs")
class ObsGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("note")
    async def note(self, note: Annotated[Note, MessageBody()]) -> str:
        await asyncio.sleep(0)
        return note.text

    @SubscribeMessage("fail")
    async def fail(self) -> None:
        raise RuntimeError("boom")

    @SubscribeMessage("shout")
    async def shout(self, text: Annotated[str, MessageBody()]) -> None:
        await self.server.emit("shouted", text)

    @SubscribeMessage("ask")
    async def ask(self, client: Annotated[Socket, ConnectedSocket()]) -> str:
        try:
            await client.emit_with_ack("question", "?", timeout=0.2)
        except TimeoutError:
            return "no answer"
        return "answered"


@Module(providers=[ObsGateway])
class ObsModule: ...


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
    """Retry *check* until it stops raising AssertionError (bounded by *timeout*)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.02)
