"""Shared pieces of the reliability suite: a gateway, clients, throwaway brokers, waiting.

Brokers are never the shared ones when a test breaks them: a private ``redis-server`` on a
free port, and for RabbitMQ a TCP proxy on 127.0.0.1 in front of the shared broker that the
test cuts and restores (the broker itself is never touched).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from asyncio_compat import within
from throwaway_redis import free_port

from nestpy import Module
from nestpy.websockets import Server, Socket, SubscribeMessage, WebSocketGateway, WebSocketServer

AMQP_HOST = ("127.0.0.1", 5672)
#: How long a test waits for something that should happen at once on loopback.
WAIT = 5.0


@WebSocketGateway(namespace="chat")
class ChatGateway:
    """Echoes, joins rooms, and relays to rooms."""

    server: Server = WebSocketServer()

    @SubscribeMessage("echo")
    def echo(self, client: Socket, data: Any) -> Any:
        return data

    @SubscribeMessage("join")
    async def join(self, client: Socket, room: str) -> bool:
        await client.join(room)
        return True

    @SubscribeMessage("slow")
    async def slow(self, client: Socket, data: Any) -> Any:
        await asyncio.sleep(0.01)
        return data


@Module(providers=[ChatGateway])
class ChatModule:
    """The application under test."""


class Client:
    """A ``socketio.AsyncClient`` on ``/chat`` that queues every event it receives."""

    def __init__(self, transports: list[str] | None = None) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.transports = transports or ["websocket"]
        self.queues: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.sio.on("*", self._on_any, namespace="/chat")

    async def _on_any(self, event: str, *args: Any) -> None:
        self.queues[event].put_nowait(args[0] if len(args) == 1 else args)

    async def connect(self, url: str) -> Client:
        await self.sio.connect(
            url, namespaces=["/chat"], transports=self.transports, wait_timeout=WAIT
        )
        return self

    async def call(self, event: str, data: Any = None, timeout: float = WAIT) -> Any:
        return await self.sio.call(event, data, namespace="/chat", timeout=timeout)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = WAIT, step: float = 0.01
) -> None:
    """Wait until *predicate* holds (polling; bounded by *timeout*)."""
    async with within(timeout):
        while True:
            result = predicate()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(step)


class TcpProxy:
    """A TCP proxy on 127.0.0.1 (a fixed free port) to *target*; ``cut()`` drops every
    connection and stops listening, ``restore()`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            dst.close()
            self._writers.discard(dst)

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        if server is not None:
            await server.wait_closed()
