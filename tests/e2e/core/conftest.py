"""Fixtures for the core e2e suite: a real nestpy app on 127.0.0.1 and real clients.

``start(Module)`` creates and listens (every port ephemeral) and closes the app after the
test; ``connect(app, "/ns")`` returns a connected :class:`Client` that records every event
it receives, and disconnects it after the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from core_client import Client, Connect, Start

from nestpy import NestApplication, NestFactory


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """``await start(Module, **create_options)`` → a listening app, closed after the test."""
    apps: list[NestApplication] = []

    async def _start(module: Any, **options: Any) -> NestApplication:
        app = await NestFactory.create(module, **options)
        apps.append(app)
        await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
        return app

    yield _start
    for app in reversed(apps):
        await _settle(app)
        await app.close()


async def _settle(app: NestApplication, timeout: float = 0.5) -> None:
    """Let the server finish closing sessions whose clients just left (bounded).

    The ``connect`` fixture disconnects its clients first; ``app.close()`` racing the
    server's own processing of those closes spends its flush timeout on them.
    """
    registry = app._registry  # test-only peek: the Engine.IO sessions still open
    if registry is None:
        return
    for _ in range(int(timeout / 0.005)):
        if all(s.closed for sio in registry.all_servers() for s in sio.eio.sockets.values()):
            return
        await asyncio.sleep(0.005)


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """``await connect(app_or_url, "/ns", transports=[...], auth=..., headers=...)``."""
    clients: list[Client] = []

    async def _connect(
        target: NestApplication | str,
        namespace: str = "/",
        transports: list[str] | None = None,
        **kw: Any,
    ) -> Client:
        url = target if isinstance(target, str) else target.url_for(namespace)
        client = Client(namespace)
        clients.append(client)
        return await client.connect(url, transports, **kw)

    yield _connect
    for client in clients:
        await client.close()


@pytest.fixture
def client_factory() -> Callable[[str], Client]:
    """An unconnected :class:`Client` (for tests that expect the connection to fail)."""

    def make(namespace: str = "/") -> Client:
        return Client(namespace)

    return make
