"""Publishers on a broker channel (Redis pub/sub, RabbitMQ fanout exchange): the cluster
managers' query channel and ``Emitter``'s only channel; ``publisher_link`` gives an
``Emitter`` outage handling."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar, Final

from nestpy.websockets._cluster_errors import (
    AdapterError,
    BrokerUnavailableError,
    error_reason,
    redact_url,
    url_scheme,
)
from nestpy.websockets._outage import (
    DEFAULT_BUFFER_BYTES,
    DEFAULT_BUFFER_SIZE,
    DEFAULT_MAX_DELAY,
    DEFAULT_RESUME_TIMEOUT,
    BrokerLink,
)

__all__ = [
    "AMQP_SCHEMES",
    "REDIS_SCHEMES",
    "AmqpPublisher",
    "RedisPublisher",
    "publisher_for",
    "publisher_link",
]

REDIS_SCHEMES: Final = frozenset(
    {"redis", "rediss", "unix", "valkey", "valkeys", "redis+sentinel", "valkey+sentinel"}
)
AMQP_SCHEMES: Final = frozenset({"amqp", "amqps"})


def _quick_retry(retries: int) -> Any:
    """A redis-py retry policy of *retries* immediate retries (redis-py's default retries
    three times with back-off, hiding an outage from the outage logic)."""
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Retry(NoBackoff(), retries)



class RedisPublisher:
    """Publishes raw payloads on a Redis channel with its own client; errors raise."""

    broker: ClassVar[str] = "Redis"

    def __init__(
        self, url: str, channel: str, options: dict[str, Any] | None = None, *, fix: str
    ) -> None:
        self.url = url
        self.channel = channel
        self.options = dict(options or {})
        self.fix = fix
        self._client: Any = None

    def _error(self, exc: BaseException | str, starting: bool) -> BrokerUnavailableError:
        reason = exc if isinstance(exc, str) else error_reason(exc, self.url)
        return BrokerUnavailableError(
            self.broker, redact_url(self.url), reason, starting=starting, fix=self.fix
        )

    def _make_client(self, retries: int = 1) -> Any:
        # One immediate retry for publishing: a pooled connection the server closed while
        # idle is replaced at once, and a server that is down still fails at once.
        try:
            from redis import asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - the extra is missing
            raise AdapterError(
                "Redis support needs the redis package: pip install 'nestpy-io[redis]'"
            ) from exc
        scheme = url_scheme(self.url)
        if scheme.endswith("+sentinel"):
            from socketio.redis_manager import parse_redis_sentinel_url

            sentinels, service, kwargs = parse_redis_sentinel_url(self.url)
            sentinel_cls: Any = aioredis.sentinel.Sentinel
            sentinel = sentinel_cls(sentinels, **{**self.options, **kwargs})
            return sentinel.master_for(service or self.channel)
        opts = {"socket_connect_timeout": 5, "retry": _quick_retry(retries), **self.options}
        return aioredis.Redis.from_url(self.url, **opts)

    def make_client(self) -> Any:
        """A new client on the same server and options for the manager's subscription.

        It never retries: redis-py would otherwise reconnect and resubscribe on its own,
        so nobody would know when delivery stopped and when it resumed.
        """
        return self._make_client(retries=0)

    async def probe(self, timeout: float) -> None:
        """Check the server answers (``PING``).

        Raises:
            BrokerUnavailableError: it does not.
        """
        if self._client is None:
            self._client = self._make_client()
        try:
            await asyncio.wait_for(self._client.ping(), timeout)
        except Exception as exc:
            raise self._error(exc, starting=False) from None

    async def subscribers(self) -> int:
        """How many clients are subscribed to the channel now (``PUBSUB NUMSUB``)."""
        if self._client is None:
            self._client = self._make_client()
        try:
            counts = await self._client.pubsub_numsub(self.channel)
        except Exception as exc:
            raise self._error(exc, starting=False) from None
        return int(counts[0][1]) if counts else 0

    async def connect(self, timeout: float) -> None:
        """Open the client and check the server answers.

        Raises:
            BrokerUnavailableError: the server cannot be reached (or refuses the login).
        """
        client = self._make_client()
        try:
            await asyncio.wait_for(client.ping(), timeout)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await client.aclose()
            raise self._error(exc, starting=True) from None
        self._client = client

    async def publish(self, payload: bytes) -> int | None:
        """Publish *payload*; returns how many subscribers received it.

        Raises:
            BrokerUnavailableError: Redis cannot be reached.
        """
        if self._client is None:
            self._client = self._make_client()
        try:
            return int(await self._client.publish(self.channel, payload))
        except Exception as exc:
            raise self._error(exc, starting=False) from None

    async def close(self) -> None:
        """Close the client (idempotent)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()


class AmqpPublisher:
    """Publishes raw payloads on a RabbitMQ fanout exchange; errors raise."""

    broker: ClassVar[str] = "RabbitMQ"

    def __init__(self, url: str, channel: str, *, fix: str) -> None:
        self.url = url
        self.channel = channel
        self.fix = fix
        self.connection: Any = None
        self.amqp_channel: Any = None
        self.exchange: Any = None

    def _error(self, exc: BaseException | str, starting: bool) -> BrokerUnavailableError:
        reason = exc if isinstance(exc, str) else error_reason(exc, self.url)
        return BrokerUnavailableError(
            self.broker, redact_url(self.url), reason, starting=starting, fix=self.fix
        )

    async def connect(self, timeout: float) -> None:
        """Connect, open a channel and declare the exchange.

        Raises:
            BrokerUnavailableError: RabbitMQ cannot be reached (or refuses the login).
        """
        try:
            import aio_pika
        except ImportError as exc:  # pragma: no cover - the extra is missing
            raise AdapterError(
                "AMQP support needs the aio-pika package: pip install 'nestpy-io[amqp]'"
            ) from exc
        connection: Any = None
        try:
            # A plain connection: after a failure the next publish opens a new one at
            # once (a robust connection retries on its own clock, 5 s by default).
            connection = await aio_pika.connect(self.url, timeout=timeout)
            # No publisher confirms: python-socketio's messages are fire-and-forget, and a
            # confirm round trip per emit halves cross-node throughput.
            amqp_channel = await connection.channel(publisher_confirms=False)
            exchange = await amqp_channel.declare_exchange(
                self.channel, aio_pika.ExchangeType.FANOUT
            )
        except Exception as exc:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
            raise self._error(exc, starting=True) from None
        self.connection, self.amqp_channel, self.exchange = connection, amqp_channel, exchange

    async def publish(self, payload: bytes, timeout: float = 5.0) -> int | None:
        """Publish *payload* (RabbitMQ does not say how many queues got it: returns None).

        Raises:
            BrokerUnavailableError: RabbitMQ cannot be reached.
        """
        import aio_pika

        if self.exchange is None:
            await self.connect(timeout)
        try:
            # mandatory=False: with no queue bound yet (a node still subscribing) the broker
            # drops the message instead of returning it to us.
            await asyncio.wait_for(
                self.exchange.publish(
                    aio_pika.Message(body=payload), routing_key="*", mandatory=False
                ),
                timeout,
            )
        except Exception as exc:
            await self.close()  # the next publish reconnects
            raise self._error(exc, starting=False) from None
        return None

    async def probe(self, timeout: float) -> None:
        """Connect when not connected.

        Raises:
            BrokerUnavailableError: RabbitMQ cannot be reached.
        """
        if self.exchange is None:
            await self.connect(timeout)

    async def subscribers(self) -> int | None:
        """RabbitMQ does not say how many queues a fanout exchange feeds: None."""
        return None

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        connection, self.connection = self.connection, None
        self.amqp_channel = self.exchange = None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


def publisher_for(
    url: str, channel: str, *, redis_options: dict[str, Any] | None = None, fix: str
) -> RedisPublisher | AmqpPublisher:
    """A publisher for *url*'s scheme.

    Raises:
        ValueError: a scheme that is neither Redis nor AMQP.
    """
    scheme = url_scheme(url)
    if scheme in REDIS_SCHEMES:
        return RedisPublisher(url, channel, redis_options, fix=fix)
    if scheme in AMQP_SCHEMES:
        return AmqpPublisher(url, channel, fix=fix)
    raise ValueError(
        f"unsupported broker URL scheme {scheme or '(none)'!r} in {redact_url(url)}: use "
        "redis://, rediss://, unix://, redis+sentinel:// (Redis) or amqp://, amqps:// (RabbitMQ)"
    )



def publisher_link(
    publisher: RedisPublisher | AmqpPublisher,
    *,
    connect_timeout: float,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    resume_timeout: float = DEFAULT_RESUME_TIMEOUT,
    max_delay: float = DEFAULT_MAX_DELAY,
) -> BrokerLink:
    """Outage handling for a publisher without a subscription (``Emitter``).

    Recovery: the broker answers (``PING`` / a new connection); then, on Redis, the buffer
    waits (at most *resume_timeout*) until the channel has as many subscribers as the last
    publish reached (``PUBSUB NUMSUB``), so nodes still resubscribing get it too. RabbitMQ
    cannot tell: the buffer goes as soon as the connection is back.
    """
    receivers = 0

    async def send(payload: bytes) -> None:
        nonlocal receivers
        n = await publisher.publish(payload)
        if n:
            receivers = n

    async def confirm() -> bool:
        await publisher.probe(connect_timeout)
        return True

    async def settle(_reconnected: float, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while receivers > 0:
            count = await publisher.subscribers()
            if count is None or count >= receivers or loop.time() >= deadline:
                return
            await asyncio.sleep(0.02)

    return BrokerLink(
        publisher.broker, redact_url(publisher.url), publisher.channel,
        send=send, confirm=confirm, settle=settle, buffer_size=buffer_size,
        buffer_bytes=buffer_bytes, resume_timeout=resume_timeout, max_delay=max_delay,
        has_subscription=False,
    )
