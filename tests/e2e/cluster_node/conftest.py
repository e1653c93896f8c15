"""Fixtures for the mixed nestpy + Node cluster suite (one Redis key prefix per test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from cluster_node_support import REDIS_URL, Client, NestNode, NodeProcess

from nestpy import Module, NestFactory
from nestpy.websockets import (
    IoAdapter,
    Server,
    Socket,
    SocketIoRedisAdapter,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)


@WebSocketGateway(namespace="chat")
class ChatGateway:
    """The same events as node/peer.mjs: join a room, relay to a room."""

    server: Server = WebSocketServer()

    def handle_connection(self, client: Socket, *args: Any) -> None:
        client.data["user"] = client.handshake.auth.get("user")

    @SubscribeMessage("join")
    async def join(self, client: Socket, room: str) -> bool:
        await client.join(room)
        return True

    @SubscribeMessage("relay")
    async def relay(self, client: Socket, data: dict[str, Any]) -> bool:
        await client.to(data["room"]).emit("relayed", data["text"])
        return True


@Module(providers=[ChatGateway])
class ChatModule:
    """What every nestpy node runs."""


@pytest.fixture
def key() -> str:
    """A Redis key prefix no other test uses."""
    return f"nestpy-node-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def nest_node(key: str) -> AsyncIterator[Callable[..., Awaitable[NestNode]]]:
    """``await nest_node(adapter=None)`` → a running nestpy node on *key*."""
    nodes: list[NestNode] = []

    async def start(adapter: IoAdapter | None = None) -> NestNode:
        app = await NestFactory.create(ChatModule)
        adapter = adapter or SocketIoRedisAdapter(REDIS_URL, key)
        app.use_websocket_adapter(adapter)
        node = NestNode(app, adapter, app.get(ChatGateway))
        nodes.append(node)
        await app.listen(0, "127.0.0.1")
        return node

    yield start
    for node in reversed(nodes):
        await node.app.close()


@pytest.fixture
async def node_peer(key: str) -> AsyncIterator[Callable[..., Awaitable[NodeProcess]]]:
    """``await node_peer("redis"|"streams", recovery=False)`` → a running Node socket.io."""
    procs: list[NodeProcess] = []

    async def start(kind: str = "redis", recovery: bool = False, url: str = REDIS_URL
                    ) -> NodeProcess:
        args = [kind, url, key] + (["recovery"] if recovery else [])
        proc = NodeProcess("peer.mjs", *args)
        procs.append(proc)
        return await proc.start()

    yield start
    for proc in reversed(procs):
        await proc.stop()


@pytest.fixture
async def node_emitter(key: str) -> AsyncIterator[Callable[..., Awaitable[NodeProcess]]]:
    """``await node_emitter()`` → the official @socket.io/redis-emitter on *key*."""
    procs: list[NodeProcess] = []

    async def start(url: str = REDIS_URL) -> NodeProcess:
        proc = NodeProcess("emitter.mjs", url, key)
        procs.append(proc)
        return await proc.start()

    yield start
    for proc in reversed(procs):
        await proc.stop()


@pytest.fixture
async def client() -> AsyncIterator[Callable[..., Awaitable[Client]]]:
    """``await client(port, user, rooms=(), namespace="/chat")`` → a connected client."""
    clients: list[Client] = []

    async def _connect(port: int, user: str, rooms: tuple[str, ...] = (),
                       namespace: str = "/chat") -> Client:
        c = Client(namespace)
        clients.append(c)
        return await c.connect(port, user, rooms)

    yield _connect
    for c in clients:
        await c.close()
