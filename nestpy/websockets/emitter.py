"""``Emitter``: emit to a nestpy cluster from a process that serves no clients.

A worker, a cron job or a web app publishes on the channel the nodes listen to (socket.io's
``@socket.io/redis-emitter``; python-socketio's ``AsyncRedisManager(url, write_only=True)``)::

    async with Emitter("redis://127.0.0.1:6379/0") as emitter:
        await emitter.of("/chat").to("room-1").emit("news", {"id": 7})

It speaks python-socketio's pub/sub message format (``RedisIoAdapter``/``AmqpIoAdapter``), so
plain python-socketio servers on the same channel receive its emits too; with
``protocol="socket.io"`` it speaks ``@socket.io/redis-emitter``'s instead, for nodes on
``SocketIoRedisAdapter`` and Node socket.io servers on ``@socket.io/redis-adapter``. It never
subscribes: ``disconnect_sockets()`` and ``sockets_join/leave`` are sent without waiting for
the nodes (as socket.io's emitter does).

.. versionadded:: 0.1
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from nestpy._pipeline.encoding import to_wire_args
from nestpy._speed import default_json
from nestpy.websockets._brokers import (
    AmqpPublisher,
    RedisPublisher,
    publisher_for,
    publisher_link,
)
from nestpy.websockets._cluster_errors import AdapterError, redact_url
from nestpy.websockets._cluster_wire import REQUEST, Selection, emit_message
from nestpy.websockets._outage import DEFAULT_BUFFER_SIZE, AdapterHealth

if TYPE_CHECKING:
    from nestpy.websockets._node_emitter import NodeEmitterBackend

__all__ = ["Emitter", "EmitterOperator"]


class Emitter:
    """Publishes emits and room operations to every node on *channel*.

    Args:
        url: the broker the nodes use: ``redis://…`` (``RedisIoAdapter``) or ``amqp://…``
            (``AmqpIoAdapter``).
        channel: the nodes' channel (their adapter's ``channel``; with
            ``protocol="socket.io"`` their ``key``, default ``"socket.io"``).
        protocol: ``"python-socketio"`` (nodes on ``RedisIoAdapter``/``AmqpIoAdapter``) or
            ``"socket.io"`` (nodes on ``SocketIoRedisAdapter`` or Node's Redis adapter; Redis
            only; also ``server_side_emit``).
        redis_options: keyword arguments for ``redis.asyncio.Redis.from_url``.
        connect_timeout: seconds to wait for the broker when connecting.
        outage_buffer: emits kept while the broker is down once connected (the oldest are
            dropped past it, and counted); 0 counts every such emit lost.

    Raises:
        ValueError: *url* is neither a Redis nor an AMQP URL.

    The connection opens on first use and stays open until ``close()``. A broker that cannot
    be reached at first use raises ``BrokerUnavailableError`` (a wrong address, most
    likely). An outage after that is survived as the adapters survive it (docs/
    reliability.md "Broker outages"): emits are buffered and sent, in order, once the broker
    is back; ``health`` tells the state.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        channel: str | None = None,
        *,
        protocol: Literal["python-socketio", "socket.io"] = "python-socketio",
        redis_options: dict[str, Any] | None = None,
        connect_timeout: float = 5.0,
        outage_buffer: int = DEFAULT_BUFFER_SIZE,
    ) -> None:
        if protocol not in ("python-socketio", "socket.io"):
            raise ValueError(f"protocol must be 'python-socketio' or 'socket.io', not {protocol!r}")
        if channel is None:
            channel = "socket.io" if protocol == "socket.io" else "nestpy"
        self.url = url
        self.channel = channel
        self.protocol = protocol
        self.connect_timeout = connect_timeout
        self._node: NodeEmitterBackend | None = None
        if protocol == "socket.io":
            if not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("Emitter(protocol='socket.io') needs a redis:// URL")
            from nestpy.websockets._node_emitter import NodeEmitterBackend

            self._node = NodeEmitterBackend(url, channel, redis_options, connect_timeout)
        #: Identifies this emitter's messages (nodes ignore nothing from it).
        self.host_id = uuid.uuid4().hex
        self._publisher: RedisPublisher | AmqpPublisher = publisher_for(
            url, channel, redis_options=redis_options,
            fix="Start the broker, or pass Emitter(url=...) the address the nodes use.",
        )
        self._connected = False
        # nestpy's codec (nested models, datetimes... through json_default), whatever
        # python-socketio's Packet.json is in this process (no server here set it).
        self._json: Any = default_json()
        self._outage_buffer = outage_buffer
        self._link = publisher_link(
            self._publisher, connect_timeout=connect_timeout, buffer_size=outage_buffer
        )

    @property
    def health(self) -> AdapterHealth:
        """The link to the broker: ``starting`` before the first emit, then ``up``,
        ``down`` (emits buffered) or ``resuming``."""
        return self._link.health()

    def of(self, namespace: str) -> EmitterOperator:
        """Target *namespace* (``"chat"`` means ``"/chat"``)."""
        ns = namespace if namespace.startswith("/") else "/" + namespace
        return EmitterOperator(self, ns)

    def to(self, room: str | Iterable[str]) -> EmitterOperator:
        """Target *room* of the ``/`` namespace."""
        return self.of("/").to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> EmitterOperator:
        """Everyone in ``/`` except the sockets in *room*."""
        return self.of("/").except_(room)

    async def emit(self, event: str, *args: Any) -> None:
        """Emit *event* with *args* to every socket of the ``/`` namespace."""
        await self.of("/").emit(event, *args)

    async def _publish(self, message: dict[str, Any]) -> None:
        if not self._connected:
            await self._publisher.connect(self.connect_timeout)
            self._connected = True
            self._link.started()
        text: Any = self._json.dumps(message)
        await self._link.publish(text.encode() if isinstance(text, str) else bytes(text))

    async def server_side_emit(self, event: str, *args: Any, namespace: str = "/") -> None:
        """Send *event* to the listeners of every node (``protocol="socket.io"`` only).

        Raises:
            AdapterError: the python-socketio protocol has no server-side emits.
        """
        if self._node is None:
            raise AdapterError("server_side_emit needs Emitter(protocol='socket.io')")
        ns = namespace if namespace.startswith("/") else "/" + namespace
        await self._node.request(ns, {"type": 6, "data": [event, *to_wire_args(args)]})

    async def close(self) -> None:
        """Close the broker connection (idempotent; the next emit reopens it)."""
        self._connected = False
        if self._node is not None:
            await self._node.close()
        await self._link.stop()
        await self._publisher.close()
        self._link = publisher_link(
            self._publisher, connect_timeout=self.connect_timeout,
            buffer_size=self._outage_buffer,
        )

    async def __aenter__(self) -> Emitter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (
            f"Emitter({redact_url(self.url)!r}, channel={self.channel!r}, "
            f"protocol={self.protocol!r})"
        )


class EmitterOperator:
    """An immutable selection for an ``Emitter``: a namespace, rooms, excluded rooms.

    .. versionadded:: 0.1
    """

    __slots__ = ("_emitter", "_except", "_namespace", "_rooms")

    def __init__(
        self,
        emitter: Emitter,
        namespace: str,
        rooms: tuple[str, ...] = (),
        except_rooms: tuple[str, ...] = (),
    ) -> None:
        self._emitter = emitter
        self._namespace = namespace
        self._rooms = rooms
        self._except = except_rooms

    def to(self, room: str | Iterable[str]) -> EmitterOperator:
        """Also target *room* (rooms accumulate as a union)."""
        rooms = (room,) if isinstance(room, str) else tuple(room)
        return EmitterOperator(self._emitter, self._namespace, self._rooms + rooms, self._except)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> EmitterOperator:
        """Exclude every socket in *room*."""
        rooms = (room,) if isinstance(room, str) else tuple(room)
        return EmitterOperator(self._emitter, self._namespace, self._rooms, self._except + rooms)

    async def emit(self, event: str, *args: Any) -> None:
        """Emit *event* with *args* to the selected sockets on every node.

        *args* go through nestpy's one wire encoder, as for ``Server.emit``: pydantic
        models, dataclasses, datetimes, UUIDs, Enums (nested too) arrive as JSON values.

        Raises:
            BrokerUnavailableError: the broker cannot be reached.
        """
        # The one wire encoder (as Server.emit): models, dataclasses, datetimes... at the top
        # level here; nested ones by the codec's default hook (JSON) or MessagePack's.
        wire = tuple(to_wire_args(args))
        node = self._emitter._node
        if node is not None:
            await node.emit(self._namespace, self._rooms, self._except, event, wire)
            return
        # python-socketio's rule: a tuple is several arguments, anything else one.
        data: Any = wire[0] if len(wire) == 1 else (wire if wire else None)
        room: str | list[str] | None = (
            list(self._rooms) if len(self._rooms) > 1 else (self._rooms[0] if self._rooms else None)
        )
        await self._emitter._publish(
            emit_message(
                event, data, self._namespace, room, None, self._except, self._emitter.host_id
            )
        )

    async def _operation(self, op: str, **args: Any) -> None:
        node = self._emitter._node
        if node is not None:
            body: dict[str, Any] = {
                "type": {"join": 2, "leave": 3}.get(op, 4),
                "opts": {"rooms": list(self._rooms), "except": list(self._except)},
            }
            if op == "disconnect":
                body["close"] = bool(args.get("close"))
            else:
                body["rooms"] = args["rooms"]
            await node.request(self._namespace, body)
            return
        sel = Selection((self._namespace,), self._rooms, self._except)
        await self._emitter._publish({
            "method": REQUEST, "host_id": self._emitter.host_id, "req_id": uuid.uuid4().hex,
            "op": op, "sel": sel.to_wire(), "args": args, "reply": False,
        })

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets on every node (not waiting for them)."""
        await self._operation("disconnect", close=close)

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the selected sockets join *room* on every node (not waiting for them)."""
        await self._operation("join", rooms=[room] if isinstance(room, str) else list(room))

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the selected sockets leave *room* on every node (not waiting for them)."""
        await self._operation("leave", rooms=[room] if isinstance(room, str) else list(room))

    def __repr__(self) -> str:
        return (
            f"EmitterOperator(namespace={self._namespace!r}, rooms={list(self._rooms)!r}, "
            f"except_rooms={list(self._except)!r})"
        )
