"""The concrete cluster managers: ``ClusterManager`` over Redis pub/sub and over a RabbitMQ
fanout exchange, each with a capped reconnect loop that tells the outage logic when delivery
stops and resumes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from nestpy.websockets._brokers import AmqpPublisher, RedisPublisher
from nestpy.websockets._cluster import ClusterManager
from nestpy.websockets._cluster_errors import error_reason, redact_url
from nestpy.websockets._fanout import FastAsyncAioPikaManager, FastAsyncRedisManager
from nestpy.websockets._outage import Backoff

__all__ = ["ClusterAioPikaManager", "ClusterRedisManager"]


class ClusterRedisManager(ClusterManager, FastAsyncRedisManager):
    """``AsyncRedisManager`` + fast local fan-out + nestpy's cluster queries."""

    count_based = True
    broker_name = "Redis"
    adapter_name = "RedisIoAdapter"

    @property
    def broker_url(self) -> str:
        """The Redis URL, password redacted."""
        return redact_url(str(self.redis_url))

    def _make_publisher(self) -> RedisPublisher:
        return RedisPublisher(self.redis_url, self.channel, self.redis_options, fix=self._fix())

    async def _broker_listen(self) -> AsyncIterator[Any]:
        # python-socketio's loop backs off 1, 2, 4 … 60 s between attempts and never says
        # when it is subscribed again; this one is capped (reconnect_max_delay, 1 s) and
        # tells the outage logic both ways.
        publisher = self._get_publisher()
        assert isinstance(publisher, RedisPublisher)
        backoff = Backoff(self.link.max_delay)
        channel = self.channel.encode()
        while True:
            client: Any = None
            pubsub: Any = None
            try:
                client = publisher.make_client()
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self.channel)
                self.link.subscribed()
                backoff.reset()
                async for message in pubsub.listen():
                    if message.get("type") == "message" and message.get("channel") == channel:
                        yield message["data"]
                raise ConnectionError("the subscription ended")
            except Exception as exc:
                self.link.subscription_lost(error_reason(exc, self.redis_url))
            finally:
                for closing in (pubsub, client):
                    if closing is not None:
                        with contextlib.suppress(Exception):
                            await closing.aclose()
            await asyncio.sleep(backoff.next())

    async def _close_backend(self) -> None:
        for name in ("pubsub", "redis"):
            client = getattr(self, name, None)
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()


class ClusterAioPikaManager(ClusterManager, FastAsyncAioPikaManager):
    """``AsyncAioPikaManager`` + fast local fan-out + nestpy's cluster queries."""

    broker_name = "RabbitMQ"
    adapter_name = "AmqpIoAdapter"

    @property
    def broker_url(self) -> str:
        """The AMQP URL, password redacted."""
        return redact_url(str(self.url))

    def _make_publisher(self) -> AmqpPublisher:
        return AmqpPublisher(self.url, self.channel, fix=self._fix())

    async def _broker_listen(self) -> AsyncIterator[Any]:
        # python-socketio's loop, but consuming without acknowledgements: it acks each
        # message with prefetch 1, which caps cross-node traffic near 900 messages/s on
        # loopback. Acks buy nothing here (an exclusive, non-durable queue dies with us).
        # A plain connection and our own retry (capped at reconnect_max_delay) rather than a
        # robust one: its 5 s reconnect clock and silent re-consume hid when delivery resumed.
        import aio_pika

        backoff = Backoff(self.link.max_delay)
        while True:
            connection: Any = None
            try:
                connection = await aio_pika.connect(self.url, timeout=self.startup_timeout)
                # Our own inbox rather than queue.iterator(): closing an iterator that
                # holds unacked-by-us messages logs each one as "lost" at every shutdown.
                # None in the inbox means the connection closed.
                inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
                connection.close_callbacks.add(
                    lambda *_args, inbox=inbox: inbox.put_nowait(None)
                )
                channel = await connection.channel()
                exchange = await self._exchange(channel)
                queue = await self._queue(channel, exchange)

                async def deliver(
                    message: Any, inbox: asyncio.Queue[bytes | None] = inbox
                ) -> None:
                    inbox.put_nowait(message.body)

                await queue.consume(deliver, no_ack=True)
                self.link.subscribed()
                backoff.reset()
                while True:
                    body = await inbox.get()
                    if body is None:
                        raise ConnectionError("the connection to RabbitMQ closed")
                    yield body
            except Exception as exc:
                if self._stopped:
                    # aio-pika turns a cancellation into ChannelInvalidStateError
                    raise asyncio.CancelledError() from None
                self.link.subscription_lost(error_reason(exc, self.url))
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(backoff.next())

    async def _queue(self, channel: Any, exchange: Any) -> Any:
        # Exclusive: the queue dies with this node's connection. python-socketio's queue
        # outlives a stopped node by 5 minutes (x-expires) and keeps collecting messages.
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        return queue

    async def _close_backend(self) -> None:
        self.publisher_connection = self.publisher_channel = self.publisher_exchange = None
