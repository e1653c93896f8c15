"""``Emitter``: emit to a nestpy cluster from a process that serves no clients.

A worker, a cron job or a web app publishes on the channel the nodes listen to (socket.io's
``@socket.io/redis-emitter``; python-socketio's ``AsyncRedisManager(url, write_only=True)``)::

    async with Emitter("redis://127.0.0.1:6379/0") as emitter:
        await emitter.of("/chat").to("room-1").emit("news", {"id": 7})

It speaks python-socketio's pub/sub message format, so plain python-socketio servers on the
same channel receive its emits too. It never subscribes: ``disconnect_sockets()`` and
``sockets_join/leave`` are sent without waiting for the nodes (as socket.io's emitter does).

.. versionadded:: 0.1
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from socketio.packet import Packet

from nestpy.websockets._cluster import (
    REQUEST,
    AmqpPublisher,
    RedisPublisher,
    Selection,
    emit_message,
    publisher_for,
    publisher_link,
    redact_url,
)
from nestpy.websockets._outage import DEFAULT_BUFFER_SIZE, AdapterHealth

__all__ = ["Emitter", "EmitterOperator"]


class Emitter:
    """Publishes emits and room operations to every node on *channel*.

    Args:
        url: the broker the nodes use: ``redis://…`` (``RedisIoAdapter``) or ``amqp://…``
            (``AmqpIoAdapter``).
        channel: the nodes' channel (their adapter's ``channel``).
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
        channel: str = "nestpy",
        *,
        redis_options: dict[str, Any] | None = None,
        connect_timeout: float = 5.0,
        outage_buffer: int = DEFAULT_BUFFER_SIZE,
    ) -> None:
        self.url = url
        self.channel = channel
        self.connect_timeout = connect_timeout
        #: Identifies this emitter's messages (nodes ignore nothing from it).
        self.host_id = uuid.uuid4().hex
        self._publisher: RedisPublisher | AmqpPublisher = publisher_for(
            url, channel, redis_options=redis_options,
            fix="Start the broker, or pass Emitter(url=...) the address the nodes use.",
        )
        self._connected = False
        self._json: Any = Packet.json
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

    async def close(self) -> None:
        """Close the broker connection (idempotent; the next emit reopens it)."""
        self._connected = False
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
        return f"Emitter({redact_url(self.url)!r}, channel={self.channel!r})"


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

        Raises:
            BrokerUnavailableError: the broker cannot be reached.
        """
        data: Any = args[0] if len(args) == 1 else (args if args else None)
        room: str | list[str] | None = (
            list(self._rooms) if len(self._rooms) > 1 else (self._rooms[0] if self._rooms else None)
        )
        await self._emitter._publish(
            emit_message(
                event, data, self._namespace, room, None, self._except, self._emitter.host_id
            )
        )

    async def _operation(self, op: str, **args: Any) -> None:
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
