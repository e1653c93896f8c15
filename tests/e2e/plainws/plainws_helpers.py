"""Helpers for the plain-WebSocket suite (a unique module name: suites share sys.path)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nestpy import NestApplication
from nestpy.testing.ws_client import WsTestClient

Start = Callable[..., Awaitable[NestApplication]]
Open = Callable[..., Awaitable[WsTestClient]]


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until *check()* is true (bounded; tolerant of a loaded machine)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
