"""Websocket adapters: which python-socketio client manager each Socket.IO server uses.

``app.use_websocket_adapter(RedisIoAdapter(url))`` before ``listen()``. The application asks
the adapter for one client manager per Socket.IO server it creates (one per gateway port and
path). An adapter only *chooses* a manager (python-socketio's strategy seam); the cluster
machinery lives in ``nestpy.websockets._cluster``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from nestpy.websockets._cluster import ClusterManager
from nestpy.websockets._cluster_errors import (
    AdapterError,
    BrokerUnavailableError,
    ClusterTimeoutError,
    redact_url,
)
from nestpy.websockets._cluster_managers import ClusterAioPikaManager, ClusterRedisManager
from nestpy.websockets._fanout import FastAsyncManager
from nestpy.websockets._outage import AdapterHealth, HealthListener

if TYPE_CHECKING:
    from nestpy.websockets._node_redis import NodeRedisManager
    from nestpy.websockets._node_streams import NodeStreamsManager

__all__ = [
    "AdapterError",
    "AdapterHealth",
    "AmqpIoAdapter",
    "BrokerUnavailableError",
    "ClusterTimeoutError",
    "IoAdapter",
    "RedisIoAdapter",
    "SocketIoRedisAdapter",
    "SocketIoRedisStreamsAdapter",
]


class IoAdapter:
    """The in-memory adapter: one process, no broker (NestJS's default ``IoAdapter``).

    .. versionadded:: 0.1
    """

    def create_client_manager(self) -> Any:
        """A new client manager for one Socket.IO server."""
        return FastAsyncManager()

    def server_count(self) -> int:
        """How many nodes serve the cluster, as this process knows (always 1 here)."""
        return 1


class _BrokerAdapter(IoAdapter):
    """Shared by the broker adapters: channel naming, options, managers created."""

    def __init__(
        self,
        url: str,
        channel: str,
        *,
        request_timeout: float,
        heartbeat_interval: float,
        heartbeat_timeout: float | None,
        startup_timeout: float,
        options: dict[str, Any],
    ) -> None:
        if request_timeout <= 0 or heartbeat_interval <= 0 or startup_timeout <= 0:
            raise ValueError("request_timeout, heartbeat_interval and startup_timeout must be > 0")
        self.url = url
        self.channel = channel
        self.request_timeout = request_timeout
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.startup_timeout = startup_timeout
        self._options = options
        self._managers: list[ClusterManager] = []
        self._health_listeners: list[HealthListener] = []

    def _channel_for(self, index: int) -> str:
        # The n-th Socket.IO server of the application (one per gateway port/path) gets its
        # own channel, so gateways on two ports with the same namespace stay apart. Servers
        # are created in the same order on every node running the same application.
        return self.channel if index == 0 else f"{self.channel}#{index + 1}"

    def _manager_kwargs(self) -> dict[str, Any]:
        return {
            "request_timeout": self.request_timeout,
            "heartbeat_interval": self.heartbeat_interval,
            "heartbeat_timeout": self.heartbeat_timeout,
            "startup_timeout": self.startup_timeout,
            "health_listeners": self._health_listeners,
            **self._options,
        }

    @property
    def health(self) -> AdapterHealth:
        """The link to the broker (docs/reliability.md "Broker outages"): the first of this
        adapter's managers that is not ``up``, else the first one; ``starting`` before
        ``listen()``."""
        for manager in self._managers:
            if not manager.health.healthy:
                return manager.health
        if self._managers:
            return self._managers[0].health
        return AdapterHealth("starting", "", redact_url(self.url), 0.0, 0, 0, 0, None)

    @property
    def healthy(self) -> bool:
        """True when cross-node messages are being delivered."""
        return self.health.healthy

    def on_health_change(self, callback: HealthListener) -> None:
        """Call *callback(health)* (sync or async) whenever a manager's link changes state:
        ``up`` → ``down`` when the broker goes away, ``resuming`` → ``up`` once delivery
        has resumed. May be called before or after ``listen()``."""
        self._health_listeners.append(callback)
        for manager in self._managers:
            manager.on_health_change(callback)

    @property
    def managers(self) -> tuple[ClusterManager, ...]:
        """The client managers created so far, one per Socket.IO server."""
        return tuple(self._managers)

    def server_count(self) -> int:
        """Nodes on this adapter's (first) channel as the heartbeats tell, this one included.

        A node is counted from its first message until it says goodbye or stays silent for
        the heartbeat timeout. 1 before ``listen()``.
        """
        return self._managers[0].server_count() if self._managers else 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self.url)!r}, channel={self.channel!r})"


def _require(module: str, extra: str, adapter: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise AdapterError(
            f"{adapter} needs the {module} package: pip install 'nestpy-io[{extra}]'"
        )


class RedisIoAdapter(_BrokerAdapter):
    """Scale out over Redis pub/sub (python-socketio's ``AsyncRedisManager``).

    Broadcasts, room emits, ``except_`` and ack callbacks reach every node on the channel;
    ``fetch_sockets()``, ``disconnect_sockets()`` and ``sockets_join/leave`` act on every
    node (a request/reply over the same channel, as socket.io's Redis adapter does).

    Args:
        url: ``redis://[[user]:password@]host:port/db``, ``rediss://`` (TLS), ``unix://``
            or ``redis+sentinel://``.
        channel: the pub/sub channel; every node of one application uses the same one.
        request_timeout: seconds a cluster-wide query waits for the other nodes.
        heartbeat_interval: seconds between this node's heartbeats.
        heartbeat_timeout: a node silent for this long is dropped (default twice the
            interval).
        startup_timeout: seconds ``listen()`` waits for Redis before failing.
        redis_options: keyword arguments for ``redis.asyncio.Redis.from_url``.
        **options: broker-outage options (``outage_buffer=1000``,
            ``outage_buffer_bytes=8 MiB``, ``resume_timeout=3.0``,
            ``reconnect_max_delay=0.5``: docs/reliability.md "Broker outages"), or other
            ``AsyncRedisManager`` options (``logger``, ``json``).

    Raises:
        AdapterError: the ``redis`` package is not installed.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        channel: str = "nestpy",
        *,
        request_timeout: float = 5.0,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float | None = None,
        startup_timeout: float = 5.0,
        redis_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        _require("redis", "redis", "RedisIoAdapter")
        super().__init__(
            url, channel, request_timeout=request_timeout,
            heartbeat_interval=heartbeat_interval, heartbeat_timeout=heartbeat_timeout,
            startup_timeout=startup_timeout, options=options,
        )
        self.redis_options = dict(redis_options or {})

    def create_client_manager(self) -> ClusterRedisManager:
        """A new Redis client manager for one Socket.IO server."""
        manager = ClusterRedisManager(
            self.url, channel=self._channel_for(len(self._managers)),
            redis_options=dict(self.redis_options), **self._manager_kwargs(),
        )
        self._managers.append(manager)
        return manager


class AmqpIoAdapter(_BrokerAdapter):
    """Scale out over RabbitMQ (python-socketio's ``AsyncAioPikaManager``).

    Same guarantees as ``RedisIoAdapter``; the channel is a fanout exchange and each node
    consumes from its own exclusive queue. RabbitMQ does not tell a publisher how many queues
    got a message, so cluster-wide queries wait for the nodes the heartbeats announced.

    Args:
        url: ``amqp://user:password@host:port/vhost`` or ``amqps://``.
        channel: the exchange name; every node of one application uses the same one.
        request_timeout, heartbeat_interval, heartbeat_timeout, startup_timeout: as
            ``RedisIoAdapter``.
        **options: broker-outage options, as ``RedisIoAdapter``; other
            ``AsyncAioPikaManager`` options (``logger``, ``json``).

    Raises:
        AdapterError: the ``aio-pika`` package is not installed.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        url: str = "amqp://guest:guest@127.0.0.1:5672//",
        channel: str = "nestpy",
        *,
        request_timeout: float = 5.0,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float | None = None,
        startup_timeout: float = 5.0,
        **options: Any,
    ) -> None:
        _require("aio_pika", "amqp", "AmqpIoAdapter")
        super().__init__(
            url, channel, request_timeout=request_timeout,
            heartbeat_interval=heartbeat_interval, heartbeat_timeout=heartbeat_timeout,
            startup_timeout=startup_timeout, options=options,
        )

    def create_client_manager(self) -> ClusterAioPikaManager:
        """A new RabbitMQ client manager for one Socket.IO server."""
        manager = ClusterAioPikaManager(
            self.url, channel=self._channel_for(len(self._managers)), **self._manager_kwargs()
        )
        self._managers.append(manager)
        return manager


class _NodeProtocolAdapter(IoAdapter):
    """What the two Node-protocol adapters share: counting the cluster's nodes."""

    _managers: list[Any]

    def server_count(self) -> int:
        """Nodes of the cluster (nestpy and Node) as last counted: at ``listen()`` and by
        every cluster-wide request; ``await adapter.count_servers()`` counts now. 1 before
        ``listen()``."""
        return self._managers[0].last_server_count if self._managers else 1

    async def count_servers(self, namespace: str = "/") -> int:
        """Nodes serving *namespace* now (``PUBSUB NUMSUB``, as ``io.serverCount()``).

        Raises:
            BrokerUnavailableError: Redis cannot be reached.
        """
        return await self._managers[0].server_count(namespace) if self._managers else 1


class SocketIoRedisAdapter(_NodeProtocolAdapter):
    """Join a Node socket.io cluster: the ``@socket.io/redis-adapter`` 8.x protocol.

    nestpy processes and Node socket.io (or NestJS) processes using
    ``createAdapter(pubClient, subClient, {key})`` on the same Redis form one cluster:
    broadcasts, rooms, ``except_``, ``fetch_sockets()``, ``sockets_join/leave``,
    ``disconnect_sockets()``, server-side emits and broadcast acks cross both ways, and the
    official ``@socket.io/redis-emitter`` reaches nestpy's clients. As in Node, join / leave /
    disconnect requests are published without waiting for the other nodes.

    Args:
        url: ``redis://[[user]:password@]host:port/db``, ``rediss://`` or ``unix://``.
        key: the channel prefix (Node's ``key`` option); the same on every node.
        request_timeout: seconds ``fetch_sockets()`` and server-side emits with acks wait
            for the other nodes (Node's ``requestsTimeout``, 5 s).
        startup_timeout: seconds ``listen()`` waits for Redis before failing.
        buffer_limit: messages kept while Redis is unreachable (oldest dropped beyond, and
            the loss logged with its count).
        redis_options: keyword arguments for ``redis.asyncio.Redis.from_url``.

    Raises:
        AdapterError: the ``redis`` or ``msgpack`` package is not installed.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        key: str = "socket.io",
        *,
        request_timeout: float = 5.0,
        startup_timeout: float = 5.0,
        buffer_limit: int = 10_000,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        _require("redis", "node-cluster", "SocketIoRedisAdapter")
        _require("msgpack", "node-cluster", "SocketIoRedisAdapter")
        if request_timeout <= 0 or startup_timeout <= 0 or buffer_limit < 1:
            raise ValueError("request_timeout and startup_timeout must be > 0, buffer_limit >= 1")
        self.url = url
        self.key = key
        self.request_timeout = request_timeout
        self.startup_timeout = startup_timeout
        self.buffer_limit = buffer_limit
        self.redis_options = dict(redis_options or {})
        self._managers: list[NodeRedisManager] = []

    def create_client_manager(self) -> NodeRedisManager:
        """A new manager for one Socket.IO server (the n-th server gets key ``<key>#n``)."""
        from nestpy.websockets._node_redis import NodeRedisManager

        index = len(self._managers)
        manager = NodeRedisManager(
            self.url, self.key if index == 0 else f"{self.key}#{index + 1}",
            request_timeout=self.request_timeout, startup_timeout=self.startup_timeout,
            buffer_limit=self.buffer_limit, redis_options=dict(self.redis_options),
        )
        self._managers.append(manager)
        return manager

    @property
    def managers(self) -> tuple[NodeRedisManager, ...]:
        """The client managers created so far, one per Socket.IO server."""
        return tuple(self._managers)

    def __repr__(self) -> str:
        return f"SocketIoRedisAdapter({redact_url(self.url)!r}, key={self.key!r})"


class SocketIoRedisStreamsAdapter(_NodeProtocolAdapter):
    """Join a Node socket.io cluster on ``@socket.io/redis-streams-adapter`` 0.3.x.

    Lasting messages (broadcasts, sockets join / leave / disconnect) go through a Redis
    stream that every node reads from where it stopped, so a node cut off from Redis for a
    moment, or a Redis restart, loses nothing sent once Redis is back; what a node sends while
    Redis is away waits in a bounded queue. With the gateway option
    ``connection_state_recovery`` the sessions and offsets live in Redis: a client recovers
    on any node of the cluster, nestpy or Node.

    Args:
        url: ``redis://[[user]:password@]host:port/db``, ``rediss://`` or ``unix://``.
        stream_name: the stream (Node's ``streamName``).
        channel_prefix: the pub/sub prefix (Node's ``channelPrefix``, default ``socket.io``).
        session_key_prefix: where sessions are kept (Node's ``sessionKeyPrefix``).
        max_len: the stream's approximate length cap (Node's ``maxLen``).
        read_count, block_time: entries per ``XREAD`` and its block time in seconds.
        request_timeout: seconds ``fetch_sockets()`` and acked server-side emits wait.
        startup_timeout: seconds ``listen()`` waits for Redis before failing.
        buffer_limit: messages kept while Redis is unreachable (oldest dropped beyond, and
            the loss logged with its count).
        redis_options: keyword arguments for ``redis.asyncio.Redis.from_url``.

    Raises:
        AdapterError: the ``redis`` or ``msgpack`` package is not installed.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        stream_name: str = "socket.io",
        *,
        channel_prefix: str = "socket.io",
        session_key_prefix: str = "sio:session:",
        max_len: int = 10_000,
        read_count: int = 100,
        block_time: float = 5.0,
        request_timeout: float = 5.0,
        startup_timeout: float = 5.0,
        buffer_limit: int = 10_000,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        _require("redis", "node-cluster", "SocketIoRedisStreamsAdapter")
        _require("msgpack", "node-cluster", "SocketIoRedisStreamsAdapter")
        if min(request_timeout, startup_timeout, block_time) <= 0 or min(
            buffer_limit, max_len, read_count
        ) < 1:
            raise ValueError(
                "timeouts and block_time must be > 0; buffer_limit, max_len and read_count >= 1"
            )
        self.url = url
        self.stream_name = stream_name
        self._kwargs: dict[str, Any] = {
            "channel_prefix": channel_prefix, "session_key_prefix": session_key_prefix,
            "max_len": max_len, "read_count": read_count, "block_time": block_time,
            "request_timeout": request_timeout, "startup_timeout": startup_timeout,
            "buffer_limit": buffer_limit,
        }
        self.redis_options = dict(redis_options or {})
        self._managers: list[NodeStreamsManager] = []

    def create_client_manager(self) -> NodeStreamsManager:
        """A new manager for one Socket.IO server (the n-th server gets ``<stream>#n``)."""
        from nestpy.websockets._node_streams import NodeStreamsManager

        index = len(self._managers)
        suffix = "" if index == 0 else f"#{index + 1}"
        kwargs = dict(self._kwargs)
        kwargs["channel_prefix"] += suffix
        manager = NodeStreamsManager(
            self.url, self.stream_name + suffix, redis_options=dict(self.redis_options),
            **kwargs,
        )
        self._managers.append(manager)
        return manager

    @property
    def managers(self) -> tuple[NodeStreamsManager, ...]:
        """The client managers created so far, one per Socket.IO server."""
        return tuple(self._managers)

    def __repr__(self) -> str:
        return (
            f"SocketIoRedisStreamsAdapter({redact_url(self.url)!r}, "
            f"stream_name={self.stream_name!r})"
        )
