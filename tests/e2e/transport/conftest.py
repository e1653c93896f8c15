"""Fixtures for the transport suite: a real ``EngineIOServer`` on an ephemeral port.

``engine(**options)`` starts an echo server (every message sent back to its sender) and
returns an ``Engine`` with its base URL and a record of what the server saw.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from nestpy.engineio import EngineIOServer, EngineIOSocket


@dataclass
class Engine:
    """A running echo server and what it saw."""

    server: EngineIOServer
    url: str
    messages: list[tuple[str, str | bytes]] = field(default_factory=list)
    disconnects: list[tuple[str, str]] = field(default_factory=list)

    @property
    def eio(self) -> str:
        """The Engine.IO endpoint."""
        return self.url + "/engine.io/"

    @property
    def ws(self) -> str:
        """The Engine.IO endpoint for websockets."""
        return self.eio.replace("http", "ws", 1)

    async def open_polling(self, http: aiohttp.ClientSession) -> str:
        """A polling handshake; returns the session id."""
        async with http.get(self.eio, params={"EIO": "4", "transport": "polling"}) as resp:
            assert resp.status == 200
            body = await resp.text()
        assert body[0] == "0"
        sid: str = json.loads(body[1:])["sid"]
        return sid

    def poll(self, http: aiohttp.ClientSession, sid: str) -> Any:
        """A long-poll GET on *sid* (a context manager)."""
        return http.get(self.eio, params={"EIO": "4", "transport": "polling", "sid": sid})

    def post(self, http: aiohttp.ClientSession, sid: str, body: str | bytes) -> Any:
        """A POST of *body* on *sid* (a context manager)."""
        return http.post(
            self.eio, params={"EIO": "4", "transport": "polling", "sid": sid}, data=body
        )


StartEngine = Callable[..., Awaitable[Engine]]


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
