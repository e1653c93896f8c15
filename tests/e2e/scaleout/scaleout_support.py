"""Shared pieces of the scale-out suite: the gateway under test, clients, nodes, a Redis.

A *node* is one nestpy application (``NestFactory.create`` + ``listen(0)``) with a cluster
adapter; a test runs two or three of them in one process on one broker channel, so a message
between them really crosses Redis or RabbitMQ.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio
from asyncio_compat import within

from nestpy import Module, NestApplication
from nestpy.websockets import Server, Socket, SubscribeMessage, WebSocketGateway, WebSocketServer
from nestpy.websockets.adapters import IoAdapter

REDIS_URL = "redis://127.0.0.1:6379/0"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
#: How long a test waits for something that should happen at once on loopback.
WAIT = 2.0


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


@WebSocketGateway(namespace="chat")
class ChatGateway:
    """Joins rooms on request and relays to rooms; remembers who connected in ``data``."""

    server: Server = WebSocketServer()

    def handle_connection(self, client: Socket, *args: Any) -> None:
        client.data["user"] = client.handshake.auth.get("user")

    @SubscribeMessage("join")
    async def join(self, client: Socket, room: str) -> bool:
        await client.join(room)
        return True

    @SubscribeMessage("relay")
    async def relay(self, client: Socket, data: dict[str, Any]) -> bool:
        # socket.to(room): everyone in the room on every node, except the sender
        await client.to(data["room"]).emit("relayed", data["text"])
        return True

    @SubscribeMessage("stash")
    def stash(self, client: Socket, data: Any) -> bool:
        client.data["opaque"] = _Opaque()  # JSON cannot carry it
        return True

    @SubscribeMessage("ping")
    def ping(self, client: Socket, data: Any) -> str:
        return "pong"


@Module(providers=[ChatGateway])
class ChatModule:
    """The application every node runs."""


@dataclass
class Node:
    """One running application of the cluster."""

    app: NestApplication
    adapter: IoAdapter

    @property
    def gateway(self) -> ChatGateway:
        gw: ChatGateway = self.app.get(ChatGateway)
        return gw

    @property
    def server(self) -> Server:
        return self.gateway.server

    @property
    def url(self) -> str:
        return self.app.url_for("/chat")


class Client:
    """A ``socketio.AsyncClient`` on ``/chat`` that queues every event it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self._queues: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.disconnected = asyncio.Event()
        self.sio.on("*", self._on_any, namespace="/chat")
        self.sio.on("disconnect", self._on_disconnect, namespace="/chat")

    async def _on_any(self, event: str, *args: Any) -> None:
        self._queues[event].put_nowait(args[0] if len(args) == 1 else args)

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid("/chat")
        assert sid is not None
        return str(sid)

    async def connect(self, node: Node, user: str, rooms: tuple[str, ...] = ()) -> Client:
        await self.sio.connect(
            node.url, namespaces=["/chat"], transports=["websocket"], auth={"user": user},
            wait_timeout=WAIT,
        )
        for room in rooms:
            assert await self.call("join", room) is True
        return self

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, namespace="/chat", timeout=WAIT)

    async def receive(self, event: str, timeout: float = WAIT) -> Any:
        return await asyncio.wait_for(self._queues[event].get(), timeout)

    async def nothing(self, event: str, wait: float = 0.2) -> bool:
        """True when no *event* arrives within *wait* seconds."""
        try:
            await asyncio.wait_for(self._queues[event].get(), wait)
        except asyncio.TimeoutError:
            return True
        return False

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def until(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = WAIT) -> None:
    """Wait until *predicate* holds (polling; bounded by *timeout*)."""
    async with within(timeout):
        while True:
            result = predicate()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)


#: ``await cluster("redis"|"amqp", n=2, url=None, **adapter_options)`` (conftest.py).
Cluster = Callable[..., Awaitable[list[Node]]]
#: ``await connect(node, user, rooms=())`` (conftest.py).
Connect = Callable[..., Awaitable[Client]]
