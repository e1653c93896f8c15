"""Fixtures for the scale-out suite: clusters of nestpy nodes on one broker channel."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from scaleout_support import AMQP_URL, ChatModule, Client, Cluster, Connect, Node, until

from nestpy import NestFactory
from nestpy.websockets.adapters import AmqpIoAdapter, IoAdapter, RedisIoAdapter


@pytest.fixture
def channel() -> str:
    """A channel (Redis) / exchange (RabbitMQ) name no other test uses."""
    return f"nestpy-test-{uuid.uuid4().hex}"


@pytest.fixture
async def cluster(channel: str) -> AsyncIterator[Cluster]:
    """``await cluster("redis"|"amqp", n=2, url=None, **adapter_options)`` → running nodes.

    Returns once every node knows every other one; closes them after the test (and deletes
    the RabbitMQ exchange it declared).
    """
    nodes: list[Node] = []
    exchanges: set[str] = set()

    async def start(kind: str, n: int = 2, url: str | None = None, **options: Any) -> list[Node]:
        started: list[Node] = []
        for _ in range(n):
            app = await NestFactory.create(ChatModule)
            adapter: IoAdapter
            if kind == "redis":
                adapter = RedisIoAdapter(url or "redis://127.0.0.1:6379/0", channel, **options)
            else:
                adapter = AmqpIoAdapter(url or AMQP_URL, channel, **options)
                exchanges.add(channel)
            app.use_websocket_adapter(adapter)
            node = Node(app, adapter)
            nodes.append(node)
            await app.listen(0, "127.0.0.1")
            started.append(node)
        await until(lambda: all(x.adapter.server_count() == n for x in started))
        return started

    yield start
    for node in reversed(nodes):
        await node.app.close()
    if exchanges:
        import aio_pika

        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            ch = await connection.channel()
            for name in exchanges:
                with contextlib.suppress(Exception):
                    await ch.exchange_delete(name)


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """``await connect(node, "alice", rooms=("r1",))`` → a connected ``Client``."""
    clients: list[Client] = []

    async def _connect(node: Node, user: str, rooms: tuple[str, ...] = ()) -> Client:
        client = Client()
        clients.append(client)
        return await client.connect(node, user, rooms)

    yield _connect
    for client in clients:
        await client.close()
