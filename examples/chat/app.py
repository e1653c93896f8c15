"""A multi-room chat that serves its own page.

    bash examples/setup.sh && python examples/chat/app.py     # then open http://127.0.0.1:3000

Nicknames and a token come with the handshake (``auth``); a class guard checks the token
before the connection is accepted. Clients ``join`` a room (the ack carries the room's
history, kept by an injected ``HistoryService``), ``say`` something, show that they are
``typing``, and ``leave``. Payloads are pydantic models: a bad one is answered with the
failing fields, which the page shows. ``say`` is rate-limited with ``@Throttle``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from pathlib import Path
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, Field

from nestpy import Inject, Injectable, Logger, Module, NestApplication, NestFactory, Provider
from nestpy.common import CanActivate, ExecutionContext, Throttle, UseGuards
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    OnGatewayDisconnect,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsException,
)

HERE = Path(__file__).resolve().parent
#: The official browser client, installed by examples/setup.sh (npm's socket.io-client).
CLIENT_BUNDLE = HERE.parent / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
DEFAULT_TOKEN = os.environ.get("CHAT_TOKEN", "letmein")


# --8<-- [start:models]
class Join(BaseModel):
    """Payload of ``join`` and ``leave``."""

    room: str = Field(min_length=1, max_length=32, pattern=r"^[\w-]+$")


class Say(BaseModel):
    """Payload of ``say``."""

    room: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=500)


class Typing(BaseModel):
    """Payload of ``typing``."""

    room: str = Field(min_length=1, max_length=32)
    typing: bool
# --8<-- [end:models]


# --8<-- [start:history]
@Injectable()
class HistoryService:
    """The last messages of each room, in memory (a database in real life)."""

    def __init__(self, size: Annotated[int, Inject("HISTORY_SIZE")]) -> None:
        self.size = size
        self._rooms: dict[str, deque[dict[str, Any]]] = {}

    def add(self, room: str, message: dict[str, Any]) -> None:
        self._rooms.setdefault(room, deque(maxlen=self.size)).append(message)

    def recent(self, room: str) -> list[dict[str, Any]]:
        return list(self._rooms.get(room, ()))
# --8<-- [end:history]


# --8<-- [start:guard]
@Injectable()
class TokenGuard(CanActivate):
    """On the handshake: the ``auth`` token must match and a nickname is required.
    On every message: the connection must have passed the handshake check."""

    def __init__(self, token: Annotated[str, Inject("CHAT_TOKEN")]) -> None:
        self.token = token

    def can_activate(self, context: ExecutionContext) -> bool:
        ws = context.switch_to_ws()
        client: Socket = ws.get_client()
        if ws.get_pattern() != "connection":
            return "nick" in client.data
        auth = ws.get_data() if isinstance(ws.get_data(), dict) else {}
        if auth.get("token") != self.token:
            raise WsException("invalid token")  # the page shows it (connect_error)
        nick = str(auth.get("nick") or "").strip()
        if not 1 <= len(nick) <= 20:
            raise WsException("choose a nickname of 1 to 20 characters")
        client.data["nick"] = nick
        return True
# --8<-- [end:guard]


# --8<-- [start:gateway]
@UseGuards(TokenGuard)  # a class guard also guards the handshake
@WebSocketGateway(namespace="chat")
class ChatGateway(OnGatewayConnection, OnGatewayDisconnect):
    """Rooms, notices, typing indicators and history."""

    server: Server = WebSocketServer()
    logger = Logger("ChatGateway")

    def __init__(self, history: HistoryService) -> None:
        self.history = history

    def handle_connection(self, client: Socket, *args: Any) -> None:
        self.logger.info("connected", nick=client.data["nick"])

    async def handle_disconnect(self, client: Socket, reason: str | None = None) -> None:
        room = client.data.get("room")
        if room is not None:
            await self._notice(room, f"{client.data['nick']} left")

    @SubscribeMessage("join")
    async def join(
        self, body: Annotated[Join, MessageBody()], client: Annotated[Socket, ConnectedSocket()]
    ) -> dict[str, Any]:
        previous = client.data.get("room")
        if previous is not None and previous != body.room:
            await client.leave(previous)
            await self._notice(previous, f"{client.data['nick']} left")
        client.data["room"] = body.room
        await client.join(body.room)
        await self._notice(body.room, f"{client.data['nick']} joined")
        return {"room": body.room, "history": self.history.recent(body.room)}

    @SubscribeMessage("leave")
    async def leave(
        self, body: Annotated[Join, MessageBody()], client: Annotated[Socket, ConnectedSocket()]
    ) -> None:
        if client.data.get("room") == body.room:
            del client.data["room"]
            await client.leave(body.room)
            await self._notice(body.room, f"{client.data['nick']} left")

    @Throttle(limit=5, ttl=10)  # 5 messages per 10 s per socket, then "Too many requests"
    @SubscribeMessage("say")
    async def say(
        self, body: Annotated[Say, MessageBody()], client: Annotated[Socket, ConnectedSocket()]
    ) -> None:
        if client.data.get("room") != body.room:
            raise WsException(f"join {body.room!r} before writing to it")
        message = {"room": body.room, "nick": client.data["nick"], "text": body.text,
                   "at": time.time()}
        self.history.add(body.room, message)
        await self.server.to(body.room).emit("message", message)

    @SubscribeMessage("typing")
    async def typing(
        self, body: Annotated[Typing, MessageBody()], client: Annotated[Socket, ConnectedSocket()]
    ) -> None:
        if client.data.get("room") == body.room:  # everyone in the room but the typist
            await client.to(body.room).emit(
                "typing", {"nick": client.data["nick"], "typing": body.typing}
            )

    async def _notice(self, room: str, text: str) -> None:
        await self.server.to(room).emit("notice", {"room": room, "text": text})
# --8<-- [end:gateway]


def build_module(token: str = DEFAULT_TOKEN, history_size: int = 50) -> type:
    """The application module with its token and history size."""

    @Module(providers=[
        HistoryService, TokenGuard, ChatGateway,
        Provider("CHAT_TOKEN", use_value=token),
        Provider("HISTORY_SIZE", use_value=history_size),
    ])
    class AppModule:
        """The chat application."""

    return AppModule


# --8<-- [start:page]
def add_page(http_app: web.Application) -> None:
    """Serve the page, its script and the socket.io browser client beside the gateway."""

    async def client_bundle(_request: web.Request) -> web.StreamResponse:
        if not CLIENT_BUNDLE.is_file():
            raise web.HTTPNotFound(text="run examples/setup.sh to fetch socket.io.min.js")
        return web.FileResponse(CLIENT_BUNDLE)

    async def index(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(HERE / "static" / "index.html")

    http_app.router.add_get("/", index)
    http_app.router.add_get("/vendor/socket.io.min.js", client_bundle)
    http_app.router.add_static("/static", HERE / "static")
# --8<-- [end:page]


async def create_app(token: str = DEFAULT_TOKEN) -> NestApplication:
    """The application, its page routes added (not listening yet)."""
    app = await NestFactory.create(build_module(token))
    add_page(app.http_app)
    return app


async def serve(host: str, port: int, token: str) -> None:
    """Listen until SIGINT/SIGTERM, then close gracefully."""
    if not CLIENT_BUNDLE.is_file():
        raise SystemExit("the page needs the socket.io browser client: run examples/setup.sh")
    app = await create_app(token)
    await app.listen(port, host)
    print(f"chat on {app.get_url()} (token: {token!r})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await app.close()


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host``, ``--port`` and ``--token``, then serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
