"""``ClusterManager``: the cross-process layer behind ``RedisIoAdapter`` and ``AmqpIoAdapter``
(membership and lifecycle here; queries in ``_cluster_requests``, publishers in ``_brokers``).

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

Upstream internals, written against python-socketio 5.18.1 / python-engineio 4.15.1 (pinned in
pyproject; canaries in ``tests/compat/test_socketio_managers.py`` and
``test_engineio_seams.py``): ``AsyncPubSubManager._publish`` / ``_listen`` (the documented
subclass contract of a pub/sub manager), ``_handle_emit`` (overridden: excluded rooms are
resolved per node, which upstream's message has no field for), ``AsyncAioPikaManager._exchange``
/ ``_queue`` (its exchange and queue, consumed without acks), and the Engine.IO server's
``_async["create_route"]`` (the only per-server hook into the aiohttp app it is attached to).

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
import contextlib
import json as stdjson
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, ClassVar

from aiohttp import web
from socketio.async_pubsub_manager import AsyncPubSubManager

from nestpy.websockets._brokers import AmqpPublisher, RedisPublisher
from nestpy.websockets._cluster_errors import BrokerUnavailableError
from nestpy.websockets._cluster_requests import ClusterRequests, PendingRequest, cluster_log
from nestpy.websockets._cluster_wire import (
    BYE,
    HEARTBEAT,
    HELLO,
    REQUEST,
    RES_HEAD,
    RESPONSE,
    emit_message,
)
from nestpy.websockets._outage import (
    DEFAULT_BUFFER_BYTES,
    DEFAULT_BUFFER_SIZE,
    DEFAULT_MAX_DELAY,
    DEFAULT_RESUME_TIMEOUT,
    AdapterHealth,
    BrokerLink,
    HealthListener,
)

__all__ = ["ClusterManager"]

_log = cluster_log
_RES_HEAD_STR = RES_HEAD.decode()


class ClusterManager(ClusterRequests, AsyncPubSubManager):  # type: ignore[misc]
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
        self._pending: dict[str, PendingRequest] = {}
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
        return RES_HEAD + to.encode() + b'",' + rest[1:]

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
            if raw.startswith(RES_HEAD):
                start = len(RES_HEAD)
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

