"""Cross-process machinery behind ``RedisIoAdapter``, ``AmqpIoAdapter`` and ``Emitter``.

python-socketio's pub/sub managers relay ``emit``, ``disconnect``, ``enter_room``,
``leave_room``, ``close_room`` and ack callbacks between processes, but every query
(``get_participants``) sees local sockets only. ``ClusterManager`` adds what socket.io's
Redis/cluster adapters add, over the same channel:

* **membership** — ``nestpy:hello`` when a node starts (others answer with a heartbeat),
  ``nestpy:heartbeat`` every *heartbeat_interval*, ``nestpy:bye`` on close; a node silent for
  *heartbeat_timeout* is dropped;
* **request/reply** — ``nestpy:req`` (``fetch`` / ``disconnect`` / ``join`` / ``leave`` over a
  selection of namespaces, rooms, excluded rooms and skipped sids), answered by each other
  node with ``nestpy:res``. Redis tells the publisher how many subscribers received the
  request (``PUBLISH``'s reply, what socket.io's adapter gets from ``NUMSUB``), so a Redis
  request waits for exactly that many answers; RabbitMQ does not, so an AMQP request waits for
  the nodes the heartbeats announced;
* **excluded rooms on emits** — an ``emit`` message may carry ``except_rooms``; each node
  resolves them against its own rooms (python-socketio only forwards sids to skip).

Every ``nestpy:*`` message is consumed in ``_listen`` before python-socketio's dispatcher sees
it. Responses start with a fixed prefix naming their recipient, so the other nodes drop them
without parsing the JSON.

The manager starts with the aiohttp application that serves it (``on_startup``, hooked through
python-engineio's ``create_route`` driver entry, the same per-server seam ``_fanout`` uses): a
broker that cannot be reached fails ``app.listen()`` with the URL (password redacted) and the
fix. It stops in ``on_cleanup``.

Upstream internals, written against python-socketio 5.18.1 / python-engineio 4.15.1 (pinned in
pyproject; canaries in ``tests/compat/test_socketio_managers.py`` and
``test_engineio_seams.py``): ``AsyncPubSubManager._publish`` / ``_listen`` (the documented
subclass contract of a pub/sub manager), ``_handle_emit`` (overridden: excluded rooms are
resolved per node, which upstream's message has no field for), ``AsyncAioPikaManager._exchange``
/ ``_queue`` (its exchange and queue, consumed without acks), and the Engine.IO server's
``_async["create_route"]`` (the only per-server hook into the aiohttp app it is attached to).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json as stdjson
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web
from socketio.async_pubsub_manager import AsyncPubSubManager
from socketio.packet import Packet

from nestpy.exceptions import NestpyError
from nestpy.logger import Logger
from nestpy.websockets._fanout import FastAsyncAioPikaManager, FastAsyncRedisManager
from nestpy.websockets._outage import (
    DEFAULT_BUFFER_BYTES,
    DEFAULT_BUFFER_SIZE,
    DEFAULT_MAX_DELAY,
    DEFAULT_RESUME_TIMEOUT,
    AdapterHealth,
    Backoff,
    BrokerLink,
    HealthListener,
)
from nestpy.websockets.socket import BroadcastOperator, RemoteSocket, Socket

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer

__all__ = [
    "AdapterError",
    "AmqpPublisher",
    "BrokerUnavailableError",
    "ClusterAioPikaManager",
    "ClusterManager",
    "ClusterRedisManager",
    "ClusterTimeoutError",
    "RedisPublisher",
    "Selection",
    "emit_message",
    "publisher_for",
    "publisher_link",
    "redact_url",
]

_log = Logger("nestpy.websockets.cluster")

HELLO: Final = "nestpy:hello"
HEARTBEAT: Final = "nestpy:heartbeat"
BYE: Final = "nestpy:bye"
REQUEST: Final = "nestpy:req"
RESPONSE: Final = "nestpy:res"
_RES_HEAD: Final = b'{"method":"nestpy:res","to":"'
_RES_HEAD_STR: Final = _RES_HEAD.decode()

REDIS_SCHEMES: Final = frozenset(
    {"redis", "rediss", "unix", "valkey", "valkeys", "redis+sentinel", "valkey+sentinel"}
)
AMQP_SCHEMES: Final = frozenset({"amqp", "amqps"})
_SECRET_QUERY_KEYS: Final = frozenset({"password", "passwd", "pass", "secret", "token"})


# -- errors -------------------------------------------------------------------------------


class AdapterError(NestpyError):
    """A cluster adapter (Redis, RabbitMQ) could not do what was asked.

    .. versionadded:: 0.1
    """


class BrokerUnavailableError(AdapterError):
    """The broker (Redis or RabbitMQ) cannot be reached.

    Raised by ``app.listen()`` when the broker is down at startup, and by cluster-wide queries
    (``fetch_sockets()`` …) and ``Emitter`` emits while it is down. Local clients keep being
    served either way.

    Attributes:
        broker: ``"Redis"`` or ``"RabbitMQ"``.
        url: the broker URL, password redacted.
        reason: what the client library said.
        starting: True when raised at startup.
        partial: for a query, what this process could answer on its own (its local sockets).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        broker: str,
        url: str,
        reason: str,
        *,
        starting: bool,
        fix: str,
        partial: list[Any] | None = None,
    ) -> None:
        self.broker = broker
        self.url = url
        self.reason = reason
        self.starting = starting
        self.fix = fix
        self.partial: list[Any] = partial or []
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.starting:
            return f"cannot connect to {self.broker} at {self.url} ({self.reason}). {self.fix}"
        return (
            f"{self.broker} at {self.url} is unreachable ({self.reason}); other nodes were not "
            f"asked. Local clients are still served and the adapter reconnects when "
            f"{self.broker} is back. {self.fix}"
        )


class ClusterTimeoutError(AdapterError, TimeoutError):
    """Some nodes of the cluster did not answer a query in time.

    Attributes:
        operation: the call that timed out (``"fetch_sockets"``, ``"disconnect_sockets"`` …).
        timeout: the timeout in seconds.
        expected: how many other nodes were asked.
        received: how many answered.
        missing: ids of the nodes that did not answer, when known (heartbeats).
        partial: for ``fetch_sockets()``, the sockets of this node and of the nodes that
            answered.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        operation: str,
        timeout: float,
        expected: int,
        received: int,
        missing: list[str],
        partial: list[Any],
    ) -> None:
        self.operation = operation
        self.timeout = timeout
        self.expected = expected
        self.received = received
        self.missing = missing
        self.partial = partial
        super().__init__(str(self))

    def __str__(self) -> str:
        who = f" (node ids: {', '.join(self.missing)})" if self.missing else ""
        tail = (
            "; .partial holds the sockets of this node and of the nodes that answered"
            if self.operation == "fetch_sockets"
            else "; the nodes that answered have done it"
        )
        return (
            f"{self.operation}(): {self.expected - self.received} of {self.expected} other "
            f"node(s) did not answer within {self.timeout:g} s{who}{tail}. A node that stopped "
            "without saying goodbye is dropped after its heartbeat timeout."
        )


# -- helpers ------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """*url* with its password (user-info or ``?password=``) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        name = user.split(":", 1)[0]
        netloc = f"{name}:***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs],
                safe="*",
            )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def url_scheme(url: str) -> str:
    """The lower-case scheme of *url* (``""`` when it has none)."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _reason(exc: BaseException, url: str | None = None) -> str:
    text = str(exc).strip()
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if url:
        # Client libraries print hosts, not passwords; make sure of it anyway.
        with contextlib.suppress(ValueError):
            password = urlsplit(url).password
            if password:
                reason = reason.replace(password, "***")
    return reason


def _quick_retry(retries: int) -> Any:
    """A redis-py retry policy of *retries* immediate retries (redis-py's default retries
    three times with back-off, hiding an outage from the outage logic)."""
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Retry(NoBackoff(), retries)


def emit_message(
    event: str,
    data: Any,
    namespace: str,
    room: str | list[str] | None,
    skip_sid: list[str] | None,
    except_rooms: Iterable[str],
    host_id: str,
) -> dict[str, Any]:
    """An ``emit`` message in python-socketio's pub/sub format, plus nestpy's ``except_rooms``.

    *data* follows python-socketio's rule: a tuple is several arguments, anything else one.
    """
    args: Any = list(data) if isinstance(data, tuple) else [data]
    binary = Packet.data_is_binary(args)
    if binary:
        args, attachments = Packet.deconstruct_binary(args)
        args = [args, *[base64.b64encode(a).decode() for a in attachments]]
    message: dict[str, Any] = {
        "method": "emit",
        "event": event,
        "data": args,
        "binary": binary,
        "namespace": namespace,
        "room": room,
        "skip_sid": skip_sid,
        "callback": None,
        "host_id": host_id,
    }
    excluded = list(except_rooms)
    if excluded:
        message["except_rooms"] = excluded
    return message


@dataclass(frozen=True, slots=True)
class Selection:
    """Which sockets a cluster request is about (a ``BroadcastOperator``'s state)."""

    namespaces: tuple[str, ...] | re.Pattern[str]
    rooms: tuple[str, ...] = ()
    except_rooms: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        """A JSON-ready form."""
        ns = self.namespaces
        return {
            "ns": list(ns) if isinstance(ns, tuple) else None,
            "re": None if isinstance(ns, tuple) else [ns.pattern, ns.flags],
            "rooms": list(self.rooms),
            "except": list(self.except_rooms),
            "skip": list(self.skip),
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Selection:
        """The selection *wire* describes."""
        pattern = wire.get("re")
        namespaces: tuple[str, ...] | re.Pattern[str]
        if pattern:
            namespaces = re.compile(str(pattern[0]), int(pattern[1]))
        else:
            namespaces = tuple(str(n) for n in wire.get("ns") or ("/",))
        return cls(
            namespaces,
            tuple(wire.get("rooms") or ()),
            tuple(wire.get("except") or ()),
            tuple(wire.get("skip") or ()),
        )


def socket_summary(sock: Socket) -> dict[str, Any]:
    """What another node learns about *sock* (``RemoteSocket``'s fields)."""
    hs = sock.handshake
    return {
        "id": sock.id,
        "nsp": sock.namespace,
        "rooms": sorted(sock.rooms),
        "data": sock.data,
        "hs": {
            "headers": hs.headers,
            "query": hs.query,
            "auth": hs.auth,
            "address": hs.address,
            "time": hs.time,
            "issued": hs.issued,
            "url": hs.url,
            "secure": hs.secure,
        },
    }


# -- publishers (the managers' query channel and Emitter's only channel) -------------------


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
        reason = exc if isinstance(exc, str) else _reason(exc, self.url)
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
        reason = exc if isinstance(exc, str) else _reason(exc, self.url)
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


# -- the manager mixin -----------------------------------------------------------------------


class _Pending:
    """One request waiting for answers."""

    __slots__ = ("expected_count", "expected_nodes", "future", "responses")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.responses: dict[str, dict[str, Any]] = {}
        self.expected_count: int | None = None
        self.expected_nodes: set[str] | None = None

    @property
    def expected(self) -> int:
        if self.expected_count is not None:
            return self.expected_count
        return len(self.expected_nodes or ()) + sum(
            1 for n in self.responses if n not in (self.expected_nodes or ())
        )

    def add(self, node: str, body: dict[str, Any]) -> None:
        self.responses.setdefault(node, body)
        self.check()

    def gone(self, node: str) -> None:
        if node in self.responses:
            return
        if self.expected_nodes is not None:
            self.expected_nodes.discard(node)
        elif self.expected_count is not None:
            self.expected_count -= 1
        self.check()

    def check(self) -> None:
        if self.future.done():
            return
        if self.expected_count is not None:
            done = len(self.responses) >= self.expected_count
        elif self.expected_nodes is not None:
            done = self.expected_nodes <= self.responses.keys()
        else:
            return
        if done:
            self.future.set_result(None)


class ClusterManager(AsyncPubSubManager):  # type: ignore[misc]
    """Mixin for a python-socketio pub/sub manager: membership, queries, excluded rooms.

    Put it first: ``class M(ClusterManager, FastAsyncRedisManager)``. Its ``super()`` calls
    then reach the broker manager (``_listen``) and the fast local fan-out (``emit``).
    """

    #: Read by ``BroadcastOperator``: this manager answers cluster-wide queries.
    nest_cluster: ClassVar[bool] = True
    #: Redis reports how many subscribers a PUBLISH reached; RabbitMQ does not.
    count_based: ClassVar[bool] = False
    broker_name: ClassVar[str] = "broker"
    adapter_name: ClassVar[str] = "IoAdapter"

    def __init__(
        self,
        *args: Any,
        request_timeout: float = 5.0,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float | None = None,
        startup_timeout: float = 5.0,
        outage_buffer: int = DEFAULT_BUFFER_SIZE,
        outage_buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        resume_timeout: float = DEFAULT_RESUME_TIMEOUT,
        reconnect_max_delay: float = DEFAULT_MAX_DELAY,
        health_listeners: Iterable[HealthListener] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = request_timeout
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = (
            heartbeat_timeout if heartbeat_timeout is not None else 2 * heartbeat_interval
        )
        self.startup_timeout = startup_timeout
        self._publisher: RedisPublisher | AmqpPublisher | None = None
        self._host_b = self.host_id.encode()
        self._nodes: dict[str, float] = {}
        self._pending: dict[str, _Pending] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._started = False
        self._stopped = False
        self._echo: asyncio.Future[None] | None = None
        # Outage handling (nestpy.websockets._outage): every cross-node message goes through it.
        self.link = BrokerLink(
            self.broker_name, self.broker_url, self.channel,
            send=self._send_raw, confirm=self._confirm_round_trip, settle=self._settle_peers,
            buffer_size=outage_buffer, buffer_bytes=outage_buffer_bytes,
            resume_timeout=resume_timeout, max_delay=reconnect_max_delay,
        )
        for listener in health_listeners:
            self.link.add_listener(listener)

    # -- health -------------------------------------------------------------------------

    @property
    def health(self) -> AdapterHealth:
        """This manager's link to the broker (see ``nestpy.websockets._outage``)."""
        return self.link.health()

    def on_health_change(self, callback: HealthListener) -> None:
        """Call *callback(health)* whenever the link changes state."""
        self.link.add_listener(callback)

    # -- python-socketio's pub/sub contract ---------------------------------------------

    async def _publish(self, data: Any) -> None:
        """Send one cross-node message (python-socketio's hook): now, or after the outage."""
        await self.link.publish(self._encode(data))

    async def _send_raw(self, payload: bytes) -> None:
        received_by = await self._get_publisher().publish(payload)
        if received_by == 0 and self.count_based:
            # Not even this node's own subscription got it: the broker restarted and we
            # are not subscribed again yet (our listener has not seen the break). The
            # other nodes are in the same case, so the message is kept, not lost.
            raise BrokerUnavailableError(
                self.broker_name, self.broker_url,
                "published to no subscriber, not even this node's own subscription",
                starting=False, fix=self._fix(),
            )

    # -- backend hooks (subclasses) ---------------------------------------------------

    def _make_publisher(self) -> RedisPublisher | AmqpPublisher:
        raise NotImplementedError

    async def _close_backend(self) -> None:
        """Close the broker manager's own connections (after the listener stopped)."""

    @property
    def broker_url(self) -> str:
        """The broker URL, password redacted."""
        raise NotImplementedError

    # -- lifecycle ----------------------------------------------------------------------

    def set_server(self, server: Any) -> None:
        """Attach to *server*; start and stop with the aiohttp application it is attached to."""
        super().set_server(server)
        eio: Any = getattr(server, "eio", None)
        drivers = getattr(eio, "_async", None)
        if not isinstance(drivers, dict) or "create_route" not in drivers:
            return  # not an aiohttp server: python-socketio starts us on the first connection
        original = drivers["create_route"]
        manager = self

        def create_route(app: Any, engineio_server: Any, endpoint: str) -> None:
            original(app, engineio_server, endpoint)
            if isinstance(app, web.Application):
                app.on_startup.append(manager._on_app_startup)
                app.on_cleanup.append(manager._on_app_cleanup)

        # A per-server copy: python-engineio's table is shared by every server.
        eio._async = {**drivers, "create_route": create_route}

    async def _on_app_startup(self, _app: web.Application) -> None:
        await self.start()

    async def _on_app_cleanup(self, _app: web.Application) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect, start listening and announce this node (idempotent).

        Raises:
            BrokerUnavailableError: the broker cannot be reached; nothing is left running.
        """
        if self._started:
            return
        self._started = True
        publisher = self._publisher = self._make_publisher()
        try:
            await publisher.connect(self.startup_timeout)
            await self._connect_backend()
            if not getattr(self.server, "manager_initialized", False):
                self.server.manager_initialized = True
                self.initialize()  # python-socketio's listener task (self.thread)
            await self._announce()
        except BaseException:
            await self.stop(announce=False)
            raise
        self.link.started()
        self._heartbeat = asyncio.ensure_future(self._heartbeat_loop())
        _log.info(
            "cluster adapter connected", broker=self.broker_name, url=self.broker_url,
            channel=self.channel, node=self.host_id,
        )

    async def _connect_backend(self) -> None:
        """Hand the publisher's connection to the broker manager where it can share it."""

    async def _announce(self) -> None:
        # Our own hello coming back through the subscription proves we are subscribed:
        # python-socketio subscribes in a background task and does not say when it is done.
        loop = asyncio.get_running_loop()
        ready = self._ready = loop.create_future()
        deadline = loop.time() + self.startup_timeout
        hello = self._encode({"method": HELLO, "host_id": self.host_id})
        wait = 0.005
        publisher = self._get_publisher()
        while not ready.done():
            try:
                await publisher.publish(hello)
            except BrokerUnavailableError as exc:  # it went away right after the check
                raise BrokerUnavailableError(
                    self.broker_name, self.broker_url, exc.reason, starting=True,
                    fix=self._fix(),
                ) from None
            await asyncio.wait({ready}, timeout=wait)
            wait = min(wait * 2, 0.25)
            if not ready.done() and loop.time() > deadline:
                raise BrokerUnavailableError(
                    self.broker_name, self.broker_url,
                    f"subscribed to channel {self.channel!r} but received nothing on it within "
                    f"{self.startup_timeout:g} s",
                    starting=True, fix=self._fix(),
                )

    async def _confirm_round_trip(self) -> bool:
        """After an outage: our hello goes out and comes back through our subscription."""
        loop = asyncio.get_running_loop()
        echo = self._echo = loop.create_future()
        await self._get_publisher().publish(
            self._encode({"method": HELLO, "host_id": self.host_id})
        )
        try:
            await asyncio.wait_for(asyncio.shield(echo), max(self.link.max_delay, 0.5))
        except asyncio.TimeoutError:  # not the builtin on 3.10
            return False
        return True

    async def _settle_peers(self, reconnected: float, timeout: float) -> None:
        """Wait until every node known before the outage was heard since *reconnected*.

        A node hears our hello once it is subscribed again and answers; or it sends its own
        hello when it resubscribes. Redis pub/sub and RabbitMQ exclusive queues deliver
        nothing to a node that is not subscribed, so the buffer waits for them.
        """
        peers = list(self._nodes)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(self._nodes.get(p, 0.0) < reconnected for p in peers):
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.02)
        for p in peers:
            # Silent during the outage is not gone: give it a fresh heartbeat timeout.
            if p in self._nodes:
                self._nodes[p] = max(self._nodes[p], reconnected)

    def _get_publisher(self) -> RedisPublisher | AmqpPublisher:
        # Normally made by start(); made lazily when python-socketio started the manager
        # itself (a server outside aiohttp: the first connection initialises it).
        if self._publisher is None:
            self._publisher = self._make_publisher()
        return self._publisher

    def _fix(self) -> str:
        return (
            f"Start {self.broker_name} there, or pass {self.adapter_name}(url=...) the address "
            "of a running server (check host, port and credentials)."
        )

    async def stop(self, announce: bool = True) -> None:
        """Say goodbye, stop the listener and close the connections (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        await self.link.stop()
        tasks: list[asyncio.Future[Any]] = []
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            tasks.append(self._heartbeat)
        publisher = self._publisher
        if announce and publisher is not None and self._ready is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    publisher.publish(self._encode({"method": BYE, "host_id": self.host_id})),
                    1.0,
                )
        thread = getattr(self, "thread", None)
        if isinstance(thread, asyncio.Future):
            thread.cancel()
            tasks.append(thread)
        for task in list(self._tasks):
            task.cancel()
            tasks.append(task)
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        if publisher is not None:
            await publisher.close()
        await self._close_backend()

    async def _heartbeat_loop(self) -> None:
        beat = self._encode({"method": HEARTBEAT, "host_id": self.host_id})
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            # While the broker is down the outage logic retries (and logged it once).
            await self._publish_quietly(beat)
            self.alive_nodes()

    # -- membership -----------------------------------------------------------------------

    def alive_nodes(self) -> list[str]:
        """Ids of the other nodes heard from within the heartbeat timeout."""
        if self.link.state in ("down", "resuming"):
            # We hear nobody while the broker is down: silence proves nothing then.
            return list(self._nodes)
        limit = time.monotonic() - self.heartbeat_timeout
        gone = [n for n, seen in self._nodes.items() if seen < limit]
        for node in gone:
            self._node_gone(node)
        return list(self._nodes)

    def server_count(self) -> int:
        """Nodes in the cluster as this node knows them (itself included)."""
        return len(self.alive_nodes()) + 1

    def _node_gone(self, node: str) -> None:
        self._nodes.pop(node, None)
        for pending in self._pending.values():
            pending.gone(node)

    # -- wire -----------------------------------------------------------------------------

    def _encode(self, message: dict[str, Any]) -> bytes:
        try:
            text: Any = self.json.dumps(message)
        except (TypeError, ValueError, OverflowError):
            # socket.data that JSON cannot carry travels as its repr()
            text = stdjson.dumps(message, default=repr)
        return text.encode() if isinstance(text, str) else bytes(text)

    def _encode_response(self, to: str, body: dict[str, Any]) -> bytes:
        rest = self._encode(body)  # a non-empty object: b'{"req_id": ...}'
        return _RES_HEAD + to.encode() + b'",' + rest[1:]

    def _broker_listen(self) -> AsyncIterator[Any]:
        """The broker manager's raw message stream (python-socketio's ``_listen``)."""
        stream: AsyncIterator[Any] = super()._listen()
        return stream

    async def _listen(self) -> AsyncIterator[Any]:
        async for raw in self._broker_listen():
            message = self._receive(raw)
            if message is not None:
                yield message

    def _receive(self, raw: Any) -> dict[str, Any] | None:
        """Handle a ``nestpy:*`` message; return any other message for python-socketio."""
        if isinstance(raw, bytes | bytearray):
            if raw.startswith(_RES_HEAD):
                start = len(_RES_HEAD)
                if raw[start : start + len(self._host_b)] != self._host_b:
                    return None  # a response for another node: not worth parsing
        elif isinstance(raw, str):
            if raw.startswith(_RES_HEAD_STR) and not raw.startswith(
                _RES_HEAD_STR + self.host_id
            ):
                return None
        elif isinstance(raw, dict):
            data: Any = raw
        else:
            return None
        if not isinstance(raw, dict):
            try:
                data = self.json.loads(raw)
            except Exception:
                return None  # python-socketio ignores undecodable messages too
        if not isinstance(data, dict):
            return None
        method = data.get("method")
        if not (isinstance(method, str) and method.startswith("nestpy:")):
            return data
        try:
            self._dispatch(method, data)
        except Exception:
            _log.exception("bad cluster message", method=method)
        return None

    def _dispatch(self, method: str, data: dict[str, Any]) -> None:
        sender = str(data.get("host_id", ""))
        own = sender == self.host_id
        if method == RESPONSE:
            pending = self._pending.get(str(data.get("req_id")))
            if pending is not None and data.get("to") == self.host_id:
                node = str(data.get("from", ""))
                if node and node != self.host_id:
                    self._nodes[node] = time.monotonic()
                pending.add(node, data)
        elif method == HEARTBEAT:
            if not own:
                self._nodes[sender] = time.monotonic()
        elif method == HELLO:
            if own:
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(None)
                echo = self._echo
                if echo is not None and not echo.done():
                    echo.set_result(None)
            else:
                self._nodes[sender] = time.monotonic()
                if self._ready is not None and not self._stopped:
                    # Answer at once (every hello: the newcomer may not have been subscribed
                    # for the first) so it knows us before our next heartbeat.
                    beat = self._encode({"method": HEARTBEAT, "host_id": self.host_id})
                    self._spawn(self._publish_quietly(beat))
        elif method == BYE and not own:
            self._node_gone(sender)
        elif method == REQUEST and not own:
            self._spawn(self._serve(data))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_quietly(self, payload: bytes) -> None:
        """Send a membership message or a reply; not kept during an outage (they are
        about now: the heartbeats resume, a request's asker has timed out)."""
        if self.link.state in ("down", "stopped"):
            return
        try:
            await self._get_publisher().publish(payload)
        except BrokerUnavailableError as exc:
            self.link.broken(exc)

    # -- answering ----------------------------------------------------------------------

    async def _serve(self, request: dict[str, Any]) -> None:
        """Answer another node's request about the sockets connected here."""
        op = request.get("op")
        body: dict[str, Any] = {"req_id": request.get("req_id"), "from": self.host_id}
        try:
            sel = Selection.from_wire(request.get("sel") or {})
            args = request.get("args") or {}
            server: NestAsyncServer = self.server
            local = BroadcastOperator(
                server, sel.namespaces, sel.rooms, sel.except_rooms, sel.skip
            )._local_sockets()
            if op == "fetch":
                body["sockets"] = [socket_summary(s) for s in local]
            elif op == "disconnect":
                close = bool(args.get("close"))
                for sock in local:
                    await sock.disconnect(close=close)
            elif op in ("join", "leave"):
                rooms = [str(r) for r in args.get("rooms") or ()]
                for sock in local:
                    await (sock.join(rooms) if op == "join" else sock.leave(rooms))
            else:
                body["error"] = f"unknown cluster operation {op!r}"
        except Exception as exc:
            _log.exception("cluster request failed", op=op)
            body = {"req_id": request.get("req_id"), "from": self.host_id, "error": _reason(exc)}
        if request.get("reply", True) and request.get("host_id"):
            await self._publish_quietly(self._encode_response(str(request["host_id"]), body))

    # -- asking ---------------------------------------------------------------------------

    async def _request(
        self, operation: str, op: str, sel: Selection, args: dict[str, Any], local: list[Any]
    ) -> list[dict[str, Any]]:
        """Ask every other node; return their answers.

        Raises:
            BrokerUnavailableError: the request could not be published.
            ClusterTimeoutError: some node did not answer within ``request_timeout``.
            AdapterError: a node failed to carry the request out.
        """
        members = self.alive_nodes()
        if self.link.state in ("down", "resuming"):
            # Fail at once during an outage: a query cannot wait for the broker's return.
            raise BrokerUnavailableError(
                self.broker_name, self.broker_url, self.link.health().error or "outage",
                starting=False, fix=self._fix(), partial=list(local),
            )
        if not self.count_based and not members:
            return []  # alone (as far as the heartbeats tell): nobody to ask
        loop = asyncio.get_running_loop()
        req_id = uuid.uuid4().hex
        pending = self._pending[req_id] = _Pending(loop.create_future())
        try:
            payload = self._encode({
                "method": REQUEST, "host_id": self.host_id, "req_id": req_id, "op": op,
                "sel": sel.to_wire(), "args": args, "reply": True,
            })
            try:
                received_by = await self._get_publisher().publish(payload)
            except BrokerUnavailableError as exc:
                exc.partial = list(local)
                self.link.broken(exc)
                raise
            if self.count_based and received_by is not None:
                pending.expected_count = max(received_by - 1, 0)  # minus ourselves
            else:
                pending.expected_nodes = set(members)
            pending.check()
            try:
                await asyncio.wait_for(asyncio.shield(pending.future), self.request_timeout)
            except asyncio.TimeoutError:  # not the builtin on 3.10
                answers = list(pending.responses.values())
                missing = [n for n in self.alive_nodes() if n not in pending.responses]
                raise ClusterTimeoutError(
                    operation, self.request_timeout, pending.expected, len(answers), missing,
                    list(local) + self._remote_sockets(answers) if op == "fetch" else [],
                ) from None
            answers = list(pending.responses.values())
        finally:
            del self._pending[req_id]
        for answer in answers:
            if answer.get("error"):
                raise AdapterError(
                    f"{operation}() failed on node {answer.get('from')}: {answer['error']}"
                )
        return answers

    def _remote_sockets(self, answers: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for answer in answers:
            node = str(answer.get("from", ""))
            for summary in answer.get("sockets") or ():
                out.append(RemoteSocket(self.server, summary, node))
        return out

    async def nest_fetch_sockets(self, sel: Selection, local: list[Any]) -> list[Any]:
        """*local* plus the matching sockets of every other node."""
        answers = await self._request("fetch_sockets", "fetch", sel, {}, local)
        return list(local) + self._remote_sockets(answers)

    async def nest_apply(self, operation: str, op: str, sel: Selection, **args: Any) -> None:
        """Have every other node disconnect / join / leave its matching sockets."""
        await self._request(operation, op, sel, args, [])

    async def nest_emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: str | list[str] | None,
        except_rooms: Iterable[str],
        skip_sids: list[str] | None,
    ) -> None:
        """Emit with rooms excluded on every node (each resolves them locally)."""
        message = emit_message(
            event, data, namespace, room, skip_sids, except_rooms, self.host_id
        )
        await self._handle_emit(message)  # this node
        await self._publish(message)  # the others (buffered during an outage)

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        excluded = message.get("except_rooms")
        if excluded:
            namespace = message.get("namespace") or "/"
            skip = message.get("skip_sid")
            skips: list[Any] = list(skip) if isinstance(skip, list) else (
                [skip] if skip else []
            )
            skips.extend(sid for sid, _eio in self.get_participants(namespace, list(excluded)))
            message = {**message, "skip_sid": skips}
        await super()._handle_emit(message)


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
                self.link.subscription_lost(_reason(exc, self.redis_url))
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
                self.link.subscription_lost(_reason(exc, self.url))
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
