"""``Client``: a ``socketio.AsyncClient`` wrapper for the core e2e tests."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from nestpy import NestApplication

#: How long a test waits for something that should happen at once on loopback.
WAIT = 1.0


class Client:
    """A ``socketio.AsyncClient`` on one namespace that queues every event it receives."""

    def __init__(self, namespace: str = "/", **client_options: Any) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False, **client_options)
        self._queues: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.connect_errors: asyncio.Queue[Any] = asyncio.Queue()
        self.disconnects: asyncio.Queue[Any] = asyncio.Queue()
        self.sio.on("*", self._on_any, namespace=namespace)
        self.sio.on("connect_error", self._on_connect_error, namespace=namespace)
        self.sio.on("disconnect", self._on_disconnect, namespace=namespace)

    async def _on_any(self, event: str, *args: Any) -> None:
        self._queues[event].put_nowait(args[0] if len(args) == 1 else args)

    async def _on_connect_error(self, data: Any = None) -> None:
        self.connect_errors.put_nowait(data)

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnects.put_nowait(args[0] if args else None)

    @property
    def sid(self) -> str | None:
        """The Socket.IO session id on this client's namespace."""
        return self.sio.get_sid(self.namespace)  # type: ignore[no-any-return]

    async def connect(self, url: str, transports: list[str] | None = None, **kw: Any) -> Client:
        """Connect to *url* on this client's namespace."""
        await self.sio.connect(
            url, namespaces=[self.namespace], transports=transports or ["websocket"],
            wait_timeout=WAIT, **kw,
        )
        return self

    async def emit(self, event: str, *args: Any) -> None:
        """Emit *event* with *args* (several args arrive as several Socket.IO arguments)."""
        await self.sio.emit(event, args[0] if len(args) == 1 else args, namespace=self.namespace)

    async def call(self, event: str, *args: Any, timeout: float = WAIT) -> Any:
        """Emit and wait for the acknowledgement (a tuple when acked with several args)."""
        data: Any = args[0] if len(args) == 1 else (args if args else None)
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    async def ack_args(self, event: str, *args: Any, timeout: float = WAIT) -> tuple[Any, ...]:
        """Emit and return the acknowledgement's arguments exactly (``()`` for an empty ack)."""
        done: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

        def callback(*ack: Any) -> None:
            if not done.done():
                done.set_result(ack)

        data: Any = args[0] if len(args) == 1 else (args if args else None)
        await self.sio.emit(event, data, namespace=self.namespace, callback=callback)
        return await asyncio.wait_for(done, timeout)

    async def receive(self, event: str, timeout: float = WAIT) -> Any:
        """The next payload of *event* (several arguments arrive as a tuple)."""
        return await asyncio.wait_for(self._queues[event].get(), timeout)

    async def nothing(self, event: str, wait: float = 0.15) -> bool:
        """True when no *event* arrives within *wait* seconds."""
        try:
            await asyncio.wait_for(self._queues[event].get(), wait)
        except asyncio.TimeoutError:
            return True
        return False

    def pending(self, event: str) -> int:
        """How many *event* payloads are queued and not yet received."""
        return self._queues[event].qsize()

    async def close(self) -> None:
        """Disconnect (idempotent)."""
        if self.sio.connected:
            await self.sio.disconnect()
        else:
            # A refused connect leaves python-engineio's aiohttp session open.
            await self.sio.eio._reset()


#: ``start(Module, **create_options)`` fixture type (see conftest.py).
Start = Callable[..., Awaitable[NestApplication]]
#: ``connect(app_or_url, namespace, transports, **connect_kwargs)`` fixture type.
Connect = Callable[..., Awaitable[Client]]
