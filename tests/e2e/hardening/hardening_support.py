"""Helpers of the hardening e2e suite (issue 10); its ``serve_app`` fixture is in tests/conftest.py.

Deliberately no conftest.py here: the pipeline suite imports its own ``conftest`` by name,
and a second module called ``conftest`` would shadow it depending on the argument order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from nestpy import NestApplication


async def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Wait until *check()* is true, polling; fail after *timeout* seconds (loaded machines)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {what or check}")
        await asyncio.sleep(0.01)


#: ``await serve_app(Module)``: the ``serve_app`` fixture.
Serve = Callable[..., Awaitable[NestApplication]]

