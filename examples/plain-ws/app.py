"""Plain WebSocket rooms, for clients that never load a Socket.IO client (mobile apps, game
engines, IoT devices, a browser's native ``WebSocket``) — next to a Socket.IO gateway, on
one port.

Run with ``python examples/plain-ws/app.py`` and open http://127.0.0.1:3000/ : the page
(``index.html``) talks to ``ws://127.0.0.1:3000/ws`` with ``new WebSocket(...)`` and NestJS's
``{"event", "data"}`` frames; Socket.IO clients use namespace ``/status`` on the same port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field

from nestpy import Logger, Module, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    OnGatewayDisconnect,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsAdapter,
    WsClient,
    WsServer,
)

PAGE = Path(__file__).with_name("index.html")


class JoinRoom(BaseModel):
    """Payload of ``join``."""

    room: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=32)


class Say(BaseModel):
    """Payload of ``say``."""

    text: str = Field(min_length=1, max_length=2000)


@WebSocketGateway(path="/ws", adapter=WsAdapter)
class RoomsGateway(OnGatewayConnection, OnGatewayDisconnect):
    """``join`` a room, then ``say`` something to it; everyone in the room hears it."""

    server: WsServer = WebSocketServer()
    logger = Logger("RoomsGateway")

    def handle_connection(self, client: WsClient, *args: web.Request) -> None:
        self.logger.info("client connected", sid=client.id, address=client.handshake.address)

    async def handle_disconnect(self, client: WsClient, reason: str | None = None) -> None:
        room = client.data.get("room")
        if room is not None:
            await self.server.to(room).broadcast("left", {"name": client.data["name"]})

    @SubscribeMessage("join")
    async def join(
        self, body: Annotated[JoinRoom, MessageBody()],
        client: Annotated[WsClient, ConnectedSocket()],
    ) -> dict[str, str]:
        old = client.data.get("room")
        if old is not None:
            await client.leave(old)
        client.data.update(room=body.room, name=body.name)
        await self.server.to(body.room).broadcast("joined", {"name": body.name})
        await client.join(body.room)
        return {"room": body.room}

    @SubscribeMessage("say")
    async def say(
        self, body: Annotated[Say, MessageBody()], client: Annotated[WsClient, ConnectedSocket()]
    ) -> None:
        room = client.data.get("room")
        if room is None:
            await client.send("exception", {"status": "error", "message": "join a room first"})
            return
        await self.server.to(room).broadcast("said", {"name": client.data["name"],
                                                      "text": body.text})


@WebSocketGateway(namespace="status")
class StatusGateway:
    """A Socket.IO gateway on the same port: how many plain clients are connected."""

    def __init__(self, rooms: RoomsGateway) -> None:
        self.rooms = rooms

    @SubscribeMessage("count")
    def count(self) -> int:
        return len(self.rooms.server.clients)


@Module(providers=[RoomsGateway, StatusGateway])
class AppModule:
    """The example's root module."""


async def page(request: web.Request) -> web.FileResponse:
    """The browser page (same origin as the gateway: CORS stays closed)."""
    return web.FileResponse(PAGE)


async def main(port: int = 3000) -> None:
    """Serve the page and both gateways on *port* until interrupted."""
    import asyncio

    app = await NestFactory.create(AppModule)
    app.http_app.router.add_get("/", page)
    await app.listen(port, "127.0.0.1")
    try:
        await asyncio.Event().wait()
    finally:
        await app.close()


if __name__ == "__main__":
    import asyncio
    import contextlib

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
