"""Lifecycle hooks, from ``NestFactory.create`` to ``app.close()`` (docs/lifecycle.md)."""

from __future__ import annotations

import asyncio
from typing import Any

from nestpy import Injectable, Module
from nestpy.websockets import (
    OnGatewayConnection,
    OnGatewayDisconnect,
    OnGatewayInit,
    Server,
    Socket,
    WebSocketGateway,
)


# --8<-- [start:journal]
@Injectable()
class Journal:
    """Records which hook ran, in order (the test reads it)."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def on_module_init(self) -> None:
        self.entries.append("Journal.on_module_init")

    def on_application_shutdown(self, signal: str | None = None) -> None:
        self.entries.append(f"Journal.on_application_shutdown({signal})")
# --8<-- [end:journal]


# --8<-- [start:gateway]
@WebSocketGateway(namespace="events")
class EventsGateway(OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.ticker: asyncio.Task[None] | None = None
        journal.entries.append("EventsGateway.__init__")

    async def after_init(self, server: Server) -> None:
        # The server exists from here on: a good place to start background work.
        self.journal.entries.append("EventsGateway.after_init")
        self.ticker = asyncio.create_task(self._tick(server))

    def on_module_init(self) -> None:
        self.journal.entries.append("EventsGateway.on_module_init")

    async def on_application_bootstrap(self) -> None:
        self.journal.entries.append("EventsGateway.on_application_bootstrap")

    async def handle_connection(self, client: Socket, *args: Any) -> None:
        self.journal.entries.append("EventsGateway.handle_connection")
        await client.emit("welcome", {"id": client.id})  # sent right after the CONNECT ack

    def handle_disconnect(self, client: Socket, reason: str | None = None) -> None:
        self.journal.entries.append(f"EventsGateway.handle_disconnect({reason})")

    async def on_module_destroy(self) -> None:
        # Stop the background work before the servers close.
        self.journal.entries.append("EventsGateway.on_module_destroy")
        if self.ticker is not None:
            self.ticker.cancel()

    def before_application_shutdown(self, signal: str | None = None) -> None:
        self.journal.entries.append(f"EventsGateway.before_application_shutdown({signal})")

    async def _tick(self, server: Server) -> None:
        while True:
            await asyncio.sleep(1)
            await server.emit("tick")


@Module(providers=[Journal, EventsGateway])
class AppModule:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def on_module_init(self) -> None:
        self.journal.entries.append("AppModule.on_module_init")
# --8<-- [end:gateway]
