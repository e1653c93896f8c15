"""Fixtures for the transport suite: a real ``EngineIOServer`` on an ephemeral port.

``engine(**options)`` starts an echo server (every message sent back to its sender) and
returns an ``Engine`` with its base URL and a record of what the server saw.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from eio_helpers import Engine, StartEngine

from nestpy.engineio import EngineIOServer, EngineIOSocket


@pytest.fixture
async def engine() -> AsyncIterator[StartEngine]:
    """``await engine(**EngineIOServer options)`` → a listening echo server."""
    runners: list[tuple[web.AppRunner, EngineIOServer]] = []

    async def _start(**options: Any) -> Engine:
        holder: list[Engine] = []

        def on_message(sock: EngineIOSocket, data: str | bytes) -> None:
            holder[0].messages.append((sock.sid, data))
            sock.send(data)

        def on_disconnect(sock: EngineIOSocket, reason: str) -> None:
            holder[0].disconnects.append((sock.sid, reason))

        options.setdefault("ping_interval", 5.0)
        options.setdefault("ping_timeout", 5.0)
        server = EngineIOServer(on_message=on_message, on_disconnect=on_disconnect, **options)
        app = web.Application()
        server.attach(app, "/engine.io")
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append((runner, server))
        port = runner.addresses[0][1]
        holder.append(Engine(server, f"http://127.0.0.1:{port}"))
        return holder[0]

    yield _start
    for runner, server in runners:
        await server.shutdown(timeout=0.2)
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session (a connection pool, so concurrent polls use two sockets)."""
    async with aiohttp.ClientSession() as session:
        yield session
