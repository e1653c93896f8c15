"""Shared harness for the pipeline tests: a real nestpy app on 127.0.0.1:0 and real
``socketio.AsyncClient``s talking to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import socketio

from nestpy import NestApplication, NestFactory

TIMEOUT = 3.0


class Client:
    """A connected ``socketio.AsyncClient`` on one namespace, recording every event."""

    def __init__(self, sio: socketio.AsyncClient, namespace: str) -> None:
        self.sio = sio
        self.namespace = namespace
        self.events: dict[str, asyncio.Queue[Any]] = {}
        sio.on("*", self._record, namespace=namespace)

    def _queue(self, event: str) -> asyncio.Queue[Any]:
        return self.events.setdefault(event, asyncio.Queue())

    async def _record(self, event: str, *args: Any) -> None:
        await self._queue(event).put(args[0] if len(args) == 1 else args)

    async def call(self, event: str, data: Any = None, timeout: float = TIMEOUT) -> Any:
        """Emit *event* and return the ack."""
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    async def emit(self, event: str, data: Any = None) -> None:
        """Emit *event* without asking for an ack."""
        await self.sio.emit(event, data, namespace=self.namespace)

    async def receive(self, event: str, timeout: float = TIMEOUT) -> Any:
        """The next *event* the server sent."""
        return await asyncio.wait_for(self._queue(event).get(), timeout)

    def pending(self, event: str) -> int:
        """How many *event* messages arrived and were not received yet."""
        return self._queue(event).qsize()


class Refused(Exception):
    """The server refused the connection; ``data`` is what ``connect_error`` carried."""

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.data = data


class Harness:
    """Starts applications and connects clients; closes everything at teardown."""

    def __init__(self) -> None:
        self.apps: list[NestApplication] = []
        self.clients: list[socketio.AsyncClient] = []

    async def start(
        self, module: type, setup: Callable[[NestApplication], Any] | None = None
    ) -> NestApplication:
        app = await NestFactory.create(module)
        if setup is not None:
            setup(app)
        self.apps.append(app)
        await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
        return app

    async def connect(
        self, app: NestApplication, namespace: str = "/ns", auth: Any = None
    ) -> Client:
        sio = socketio.AsyncClient(reconnection=False)
        self.clients.append(sio)
        client = Client(sio, namespace)
        refusals: list[Any] = []
        sio.on("connect_error", refusals.append, namespace=namespace)
        try:
            await sio.connect(
                app.url_for(namespace), namespaces=[namespace], transports=["websocket"],
                auth=auth, wait_timeout=TIMEOUT,
            )
        except socketio.exceptions.ConnectionError:
            if refusals:
                raise Refused(refusals[0]) from None
            raise
        return client

    async def close(self) -> None:
        for sio in self.clients:
            if sio.connected:
                await sio.disconnect()
        for app in self.apps:
            await _settle(app)
            await app.close()


async def _settle(app: NestApplication, timeout: float = 0.5) -> None:
    """Let the server finish closing the sessions of clients that just left (bounded);
    otherwise ``app.close()`` spends its flush timeout on them."""
    registry = app._registry  # test-only peek at the Engine.IO sessions still open
    if registry is None:
        return
    for _ in range(int(timeout / 0.005)):
        if all(s.closed for sio in registry.all_servers() for s in sio.eio.sockets.values()):
            return
        await asyncio.sleep(0.005)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        await h.close()
