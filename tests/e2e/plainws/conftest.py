"""Fixtures for the plain-WebSocket suite: real apps on 127.0.0.1, real aiohttp clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from plainws_helpers import Open, Start

from nestpy import NestApplication, NestFactory
from nestpy.testing.ws_client import WsTestClient


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """``await start(Module, adapter=None)`` → a listening app (ephemeral ports), closed after."""
    apps: list[NestApplication] = []

    async def _start(module: Any, adapter: Any = None, **options: Any) -> NestApplication:
        app = await NestFactory.create(module, **options)
        apps.append(app)
        if adapter is not None:
            app.use_websocket_adapter(adapter(app) if isinstance(adapter, type) else adapter)
        await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
        return app

    yield _start
    for app in reversed(apps):
        await app.close()


@pytest.fixture
async def ws() -> AsyncIterator[Open]:
    """``await ws(app, "/events", headers=..., query=...)`` → a connected ``WsTestClient``."""
    clients: list[WsTestClient] = []

    async def _open(app: NestApplication, path: str = "/", **options: Any) -> WsTestClient:
        client = app.test_client(path=path, adapter="ws", **options)
        clients.append(client)
        return await client.connect()

    yield _open
    for client in clients:
        await client.disconnect()
