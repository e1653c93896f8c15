"""Plain-WebSocket rooms across processes, over the scale-out adapter's broker.

A ``RedisIoAdapter`` or ``AmqpIoAdapter`` gives the URL; plain gateways use their own
channel, ``<adapter channel>#ws`` (Redis pub/sub channel, or an AMQP fanout exchange),
so they never mix with the Socket.IO managers' traffic. A broadcast is delivered locally
and published once; every other node delivers it to its own clients in the rooms named.
Nodes must run the same application (hosts are matched by their creation order).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import TYPE_CHECKING, Any

from nestpy.logger import Logger
from nestpy.websockets._ws.frames import decode_json, encode

if TYPE_CHECKING:
    from nestpy.websockets._ws.host import WsHost

__all__ = ["Bridge", "bridge_for"]

_log = Logger("nestpy.websockets.ws")


class Bridge:
    """Publishes this node's broadcasts and delivers the other nodes' ones."""

    broker = "broker"
    url = ""

    def __init__(self, hosts: list[WsHost], startup_timeout: float = 10.0) -> None:
        self.node = secrets.token_hex(8)
        self.hosts = hosts
        self.startup_timeout = startup_timeout

    async def start(self) -> None:
        """Connect and subscribe (returns once subscribed).

        Raises:
            BrokerUnavailableError: the broker cannot be reached within the startup timeout.
        """
        from nestpy.websockets._cluster_errors import BrokerUnavailableError, redact_url

        try:
            await asyncio.wait_for(self._start(), self.startup_timeout)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await self.close()
            raise BrokerUnavailableError(
                self.broker, redact_url(self.url), repr(exc), starting=True,
                fix="Start it, or check the scale-out adapter's URL (plain WebSocket rooms "
                "use it too).",
            ) from exc

    async def _start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Unsubscribe and disconnect."""
        raise NotImplementedError

    async def _send(self, body: bytes) -> None:
        raise NotImplementedError

    async def publish(
        self, index: int, frame: bytes, rooms: tuple[str, ...] | None, exclude: tuple[str, ...]
    ) -> None:
        """Publish one broadcast of host *index* to the other nodes."""
        body = encode({"n": self.node, "i": index, "r": rooms, "x": exclude,
                       "f": frame.decode()})
        try:
            await self._send(body)
        except Exception as exc:
            # Local clients still get it; other nodes miss this one (logged, not raised).
            _log.error("plain-websocket broadcast not published", error=repr(exc))

    async def _received(self, body: bytes | str) -> None:
        try:
            msg = decode_json(body)
            if msg["n"] == self.node:
                return
            host = self.hosts[msg["i"]]
            rooms = msg["r"]
            await host.deliver(msg["f"].encode(), rooms, msg["x"] or ())
        except Exception as exc:
            _log.warning("bad plain-websocket broker message ignored", error=repr(exc))


class RedisBridge(Bridge):
    """Redis pub/sub on one channel."""

    broker = "Redis"

    def __init__(self, hosts: list[WsHost], url: str, channel: str,
                 options: dict[str, Any], startup_timeout: float) -> None:
        super().__init__(hosts, startup_timeout)
        self.url = url
        self.channel = channel
        self._options = options
        self._redis: Any = None
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(self.url, **self._options)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.channel)
        self._task = asyncio.ensure_future(self._listen())

    async def _listen(self) -> None:
        pubsub = self._pubsub
        while True:
            try:
                msg = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("plain-websocket broker read failed; retrying", error=repr(exc))
                await asyncio.sleep(1.0)
                continue
            if msg is not None and msg.get("type") == "message":
                await self._received(msg["data"])

    async def _send(self, body: bytes) -> None:
        await self._redis.publish(self.channel, body)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe(self.channel)
                await self._pubsub.aclose()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()


class AmqpBridge(Bridge):
    """An AMQP fanout exchange; each node binds its own exclusive queue."""

    broker = "RabbitMQ"

    def __init__(self, hosts: list[WsHost], url: str, channel: str,
                 startup_timeout: float) -> None:
        super().__init__(hosts, startup_timeout)
        self.url = url
        self.channel = channel
        self._conn: Any = None
        self._exchange: Any = None

    async def _start(self) -> None:
        import aio_pika

        self._conn = await aio_pika.connect_robust(self.url)
        chan = await self._conn.channel()
        self._exchange = await chan.declare_exchange(
            self.channel, aio_pika.ExchangeType.FANOUT, auto_delete=True
        )
        queue = await chan.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(self._exchange)

        async def on_message(message: Any) -> None:
            await self._received(message.body)

        await queue.consume(on_message, no_ack=True)

    async def _send(self, body: bytes) -> None:
        import aio_pika

        await self._exchange.publish(aio_pika.Message(body=body), routing_key="")

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


def bridge_for(adapter: Any, hosts: list[WsHost]) -> Bridge | None:
    """The bridge for a scale-out *adapter* (``RedisIoAdapter``/``AmqpIoAdapter``), or None
    for the in-memory adapter (one process)."""
    from nestpy.websockets.adapters import AmqpIoAdapter, RedisIoAdapter

    if isinstance(adapter, RedisIoAdapter):
        return RedisBridge(hosts, adapter.url, adapter.channel + "#ws",
                           dict(adapter.redis_options), adapter.startup_timeout)
    if isinstance(adapter, AmqpIoAdapter):
        return AmqpBridge(hosts, adapter.url, adapter.channel + "#ws", adapter.startup_timeout)
    return None
