"""Tasks started at once where Python allows it (one definition for the engine and the
Socket.IO layer above it)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, Final

__all__ = ["EAGER", "start_task"]

#: Whether ``start_task`` runs a coroutine's first step before returning (Python 3.12+).
EAGER: Final = sys.version_info >= (3, 12)

if EAGER:

    def start_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task for *coro*, started eagerly: one that finishes without suspending is done
        on return and was never scheduled."""
        # The loop is passed: Python 3.13.0's Task(eager_start=True) without one fails with
        # "'NoneType' object has no attribute 'is_running'".
        return asyncio.Task(  # type: ignore[call-arg,unused-ignore]
            coro, loop=asyncio.get_running_loop(), eager_start=True
        )

else:

    def start_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task for *coro* (scheduled: eager start needs Python 3.12)."""
        return asyncio.ensure_future(coro)
