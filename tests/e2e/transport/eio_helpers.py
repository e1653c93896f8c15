"""Helpers shared by the transport tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from nestpy.engineio import EngineIOServer


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until *check()* is true (polled every 5 ms), failing after *timeout* seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)


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
