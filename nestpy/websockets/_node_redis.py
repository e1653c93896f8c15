"""A python-socketio client manager speaking ``@socket.io/redis-adapter`` 8.x.

Read from the adapter's own source (socket.io-redis-adapter ``lib/index.ts``) — what a Node
socket.io server with ``createAdapter(pub, sub, {key})`` does, this manager does:

- broadcasts: MessagePack ``[uid, packet, {rooms, except, flags}]`` published on
  ``<key>#<ns>#`` (or ``<key>#<ns>#<room>#`` for exactly one room); every node
  pattern-subscribes ``<key>#<ns>#*`` and skips rooms it does not have before decoding;
- requests on ``<key>-request#<ns>#`` (JSON, MessagePack for ``BROADCAST``), answers on
  ``<key>-response#<ns>#`` (JSON, MessagePack for ``BROADCAST_ACK``);
- the number of nodes is ``PUBSUB NUMSUB <key>-request#<ns>#`` (every node subscribes it);
- ``socketsJoin``/``socketsLeave``/``disconnectSockets`` are published without waiting for
  anyone, and applied by each node when it receives them (the sender included in Node;
  here the sender has applied them to its own sockets already and skips its own request).

Local delivery goes through ``FastAsyncManager`` (encoded and framed once per broadcast).
Publishes are queued and written by one task in pipelined batches, in order; while Redis is
unreachable the queue holds up to ``buffer_limit`` messages (the oldest are dropped beyond,
and the count is logged) and is flushed when Redis is back.

.. versionadded:: 0.2
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from nestpy.logger import Logger
from nestpy.websockets import _node_wire as wire
from nestpy.websockets._cluster_errors import (
    BrokerUnavailableError,
    ClusterTimeoutError,
    redact_url,
)
from nestpy.websockets._cluster_wire import Selection
from nestpy.websockets._fanout import FastAsyncManager
from nestpy.websockets._node_common import (
    MAX_BACKOFF as _MAX_BACKOFF,
)
from nestpy.websockets._node_common import NodeClusterMixin, Outbox
from nestpy.websockets._remote import RemoteSocket

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer

__all__ = ["NodeRedisManager"]

_log = Logger("nestpy.websockets.node_redis")
RT = wire.RequestType


class _Waiting:
    """A request of ours waiting for answers."""

    __slots__ = ("expected", "future", "items", "kind", "received")

    def __init__(self, kind: int, expected: int, future: asyncio.Future[None]) -> None:
        self.kind = kind
        self.expected = expected
        self.received = 0
        self.items: list[Any] = []
        self.future = future


class _AckCollect:
    """A broadcast with acknowledgements of ours: client counts and acks from every node."""

    __slots__ = ("acks", "counts", "expected_clients", "future", "nodes_left")

    def __init__(self, nodes: int, local_clients: int, future: asyncio.Future[None]) -> None:
        self.nodes_left = nodes
        self.expected_clients = local_clients
        self.acks: list[Any] = []
        self.future = future

    def check(self) -> None:
        done = self.nodes_left <= 0 and len(self.acks) >= self.expected_clients
        if done and not self.future.done():
            self.future.set_result(None)


class NodeRedisManager(NodeClusterMixin, FastAsyncManager):
    """``socketio.AsyncManager`` on the ``@socket.io/redis-adapter`` 8.x protocol.

    Made by ``SocketIoRedisAdapter``; see the module docstring.
    """

    nest_cluster: ClassVar[bool] = True

    def __init__(
        self,
        url: str,
        key: str = "socket.io",
        *,
        request_timeout: float = 5.0,
        startup_timeout: float = 5.0,
        buffer_limit: int = 10_000,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.key = key
        self.request_timeout = request_timeout
        self.startup_timeout = startup_timeout
        self.redis_options = dict(redis_options or {})
        #: This node's id on the wire (Node: ``uid2(6)``).
        self.uid = uuid.uuid4().hex[:12]
        self._bcast_prefix = f"{key}#".encode()
        self._pub: Any = None
        self._sub: Any = None
        self._outbox = Outbox(self._publish_batch, buffer_limit, "Redis", redact_url(url))
        self._subscribed: set[str] = set()
        self._req_channels: dict[bytes, str] = {}
        self._res_channels: dict[bytes, str] = {}
        self._waiting: dict[str, _Waiting] = {}
        self._acks: dict[str, _AckCollect] = {}
        self._listener: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False
        #: Nodes on ``/`` as last counted (at startup and by every cluster-wide request).
        self.last_server_count = 1

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to Redis and subscribe every served namespace (idempotent).

        Raises:
            BrokerUnavailableError: Redis cannot be reached; nothing is left running.
        """
        if self._started:
            return
        self._started = True
        import redis.asyncio as aioredis

        try:
            self._pub = aioredis.Redis.from_url(self.url, **self.redis_options)
            await asyncio.wait_for(self._pub.ping(), self.startup_timeout)
            self._sub = self._pub.pubsub(ignore_subscribe_messages=True)
            for ns in self.served_namespaces():
                await asyncio.wait_for(self._subscribe(ns), self.startup_timeout)
        except Exception as exc:
            await self.stop()
            raise BrokerUnavailableError(
                "Redis", redact_url(self.url), wire_reason(exc), starting=True,
                fix="Start Redis there, or pass SocketIoRedisAdapter(url=...) the address of "
                "a running server.",
            ) from None
        with contextlib.suppress(BrokerUnavailableError):
            await self.count_nodes("/")
        self._outbox.start()
        self._listener = asyncio.ensure_future(self._listen())
        _log.info("Socket.IO Redis adapter connected", url=redact_url(self.url), key=self.key,
                  uid=self.uid)

    async def stop(self) -> None:
        """Flush what is queued (briefly), stop listening and close the connections."""
        if self._stopped:
            return
        self._stopped = True
        await self._outbox.stop()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
        for waiting in self._waiting.values():
            if not waiting.future.done():
                waiting.future.cancel()
        for sub in (self._sub,):
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.aclose()
        if self._pub is not None:
            with contextlib.suppress(Exception):
                await self._pub.aclose()

    async def _subscribe(self, ns: str) -> None:
        if ns in self._subscribed:
            return
        self._subscribed.add(ns)
        req = f"{self.key}-request#{ns}#"
        res = f"{self.key}-response#{ns}#"
        self._req_channels[req.encode()] = ns
        self._res_channels[res.encode()] = ns
        self._res_channels[f"{res}{self.uid}#".encode()] = ns
        await self._sub.psubscribe(f"{self.key}#{ns}#*")
        await self._sub.subscribe(req, res, f"{res}{self.uid}#")

    def namespace_seen(self, namespace: str) -> None:
        """A namespace got its first connection here: subscribe it (dynamic namespaces)."""
        if namespace not in self._subscribed and self._sub is not None and not self._stopped:
            self.spawn(self._subscribe(namespace))

    async def _publish_batch(self, batch: list[tuple[str, bytes]]) -> None:
        if len(batch) == 1:
            await self._pub.publish(*batch[0])
            return
        pipe = self._pub.pipeline(transaction=False)
        for channel, payload in batch:
            pipe.publish(channel, payload)
        await pipe.execute()

    # -- receiving ------------------------------------------------------------------------

    async def _listen(self) -> None:
        delay = 0.05
        lost = False
        while not self._stopped:
            try:
                async for msg in self._sub.listen():
                    delay = 0.05
                    if lost:
                        lost = False
                        _log.info("Redis subscription back")
                    try:
                        await self._on_message(msg)
                    except Exception:
                        _log.exception("bad Socket.IO cluster message")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:  # once per outage, not per retry
                    _log.warning("Redis subscription lost; reconnecting", error=wire_reason(exc))
                lost = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)

    async def _on_message(self, msg: dict[str, Any]) -> None:
        channel: bytes = msg["channel"]
        data: bytes = msg["data"]
        if msg["type"] == "pmessage":
            await self._on_broadcast(channel, data)
            return
        ns = self._req_channels.get(channel)
        if ns is not None:
            await self._on_request(ns, data)
            return
        if channel in self._res_channels:
            self._on_response(data)

    async def _on_broadcast(self, channel: bytes, data: bytes) -> None:
        rest = channel[len(self._bcast_prefix):]
        ns_b, _, room_b = rest.partition(b"#")
        ns = ns_b.decode()
        if self.recovery is None:  # else: kept for sockets that are away, whatever the room
            rooms = self.rooms.get(ns)
            if rooms is None:
                return
            if room_b and room_b[:-1].decode() not in rooms:
                return  # a room nobody here is in: not worth decoding (as Node does)
        uid, packet, opts = wire.decode(data)
        if uid == self.uid or not isinstance(packet, dict):
            return
        if (packet.get("nsp") or "/") != ns:
            return
        await self.deliver_remote(ns, packet, opts if isinstance(opts, dict) else {})

    async def _on_request(self, ns: str, raw: bytes) -> None:
        request = wire.decode_request(raw, self.json.loads)
        if not isinstance(request, dict):
            return
        kind = request.get("type")
        req_id = request.get("requestId")
        own = request.get("uid") == self.uid
        if kind == RT.REMOTE_FETCH:
            if req_id in self._waiting:
                return
            sockets = [self.socket_details(s) for s in self.select(ns, request.get("opts"))]
            self._respond(ns, {"requestId": req_id, "sockets": sockets})
        elif kind in (RT.REMOTE_JOIN, RT.REMOTE_LEAVE, RT.REMOTE_DISCONNECT):
            if own:
                return  # applied to our own sockets before it was sent
            await self.apply_remote(ns, kind, request)
            if request.get("opts") is None and req_id is not None:
                self._respond(ns, {"requestId": req_id})
        elif kind == RT.SERVER_SIDE_EMIT:
            if own:
                return
            await self.on_server_side_emit(
                ns, request.get("data") or [], req_id,
                lambda arg: self._respond(
                    ns, {"type": RT.SERVER_SIDE_EMIT, "requestId": req_id, "data": arg}
                ),
            )
        elif kind == RT.BROADCAST:
            if req_id in self._acks:
                return
            await self.serve_broadcast_with_ack(
                ns, request,
                lambda count: self._respond(ns, {
                    "type": RT.BROADCAST_CLIENT_COUNT, "requestId": req_id, "clientCount": count,
                }),
                lambda arg: self._outbox.put(self._res_channel(ns), wire.encode({
                    "type": RT.BROADCAST_ACK, "requestId": req_id, "packet": arg,
                })),
            )
        elif kind == RT.ALL_ROOMS:
            if req_id in self._waiting:
                return
            rooms = [r for r in self.rooms.get(ns, {}) if r is not None]
            self._respond(ns, {"requestId": req_id, "rooms": rooms})
        elif kind == RT.SOCKETS:
            if req_id in self._waiting:
                return
            sids = [s.id for s in self.select(ns, {"rooms": request.get("rooms") or []})]
            self._respond(ns, {"requestId": req_id, "sockets": sids})

    def _res_channel(self, ns: str) -> str:
        return f"{self.key}-response#{ns}#"

    def _respond(self, ns: str, body: dict[str, Any]) -> None:
        self._outbox.put(self._res_channel(ns), self.dumps(body))

    def _on_response(self, raw: bytes) -> None:
        response = wire.decode_request(raw, self.json.loads)
        if not isinstance(response, dict):
            return
        req_id = response.get("requestId")
        collect = self._acks.get(req_id) if isinstance(req_id, str) else None
        if collect is not None:
            kind = response.get("type")
            if kind == RT.BROADCAST_CLIENT_COUNT:
                collect.nodes_left -= 1
                collect.expected_clients += int(response.get("clientCount") or 0)
            elif kind == RT.BROADCAST_ACK:
                collect.acks.append(response.get("packet"))
            collect.check()
            return
        waiting = self._waiting.get(req_id) if isinstance(req_id, str) else None
        if waiting is None:
            return
        if waiting.kind == RT.REMOTE_FETCH:
            sockets = response.get("sockets")
            if not isinstance(sockets, list):
                return
            waiting.items.extend(sockets)
        elif waiting.kind == RT.SERVER_SIDE_EMIT:
            waiting.items.append(response.get("data"))
        waiting.received += 1
        if waiting.received >= waiting.expected and not waiting.future.done():
            waiting.future.set_result(None)

    # -- sending ----------------------------------------------------------------------------

    def publish_broadcast(
        self, ns: str, rooms: list[str], except_: list[str], event: str, args: list[Any]
    ) -> None:
        """Queue a broadcast for the other nodes (Node's ``RedisAdapter.broadcast``)."""
        channel = f"{self.key}#{ns}#"
        if len(rooms) == 1:
            channel += rooms[0] + "#"
        payload = wire.encode([
            self.uid,
            {"type": 2, "data": [event, *args], "nsp": ns},
            {"rooms": rooms, "except": except_, "flags": {}},
        ])
        self._outbox.put(channel, payload)

    def publish_request(self, ns: str, body: dict[str, Any], binary: bool = False) -> None:
        """Queue a request for the other nodes (JSON, or MessagePack when *binary*)."""
        body["uid"] = self.uid
        payload = wire.encode(body) if binary else self.dumps(body)
        self._outbox.put(f"{self.key}-request#{ns}#", payload)

    async def count_nodes(self, ns: str) -> int:
        """Nodes subscribed to *ns*'s request channel (this one included)."""
        try:
            answer = await self._pub.pubsub_numsub(f"{self.key}-request#{ns}#")
        except Exception as exc:
            raise BrokerUnavailableError(
                "Redis", redact_url(self.url), wire_reason(exc), starting=False,
                fix="The adapter keeps retrying.",
            ) from None
        count = int(answer[0][1]) if answer else 0
        if ns == "/":
            self.last_server_count = max(count, 1)
        return count

    async def ask(
        self, operation: str, ns: str, kind: int, body: dict[str, Any], local: list[Any],
        timeout: float | None = None,
    ) -> list[Any]:
        """Publish request *body* and gather one answer per other node.

        Raises:
            ClusterTimeoutError: not every node answered in time (``.partial``: what came).
        """
        expected = await self.count_nodes(ns) - 1
        if expected <= 0:
            return []
        req_id = uuid.uuid4().hex[:12]
        loop = asyncio.get_running_loop()
        waiting = self._waiting[req_id] = _Waiting(kind, expected, loop.create_future())
        limit = self.request_timeout if timeout is None else timeout
        try:
            self.publish_request(ns, {**body, "requestId": req_id, "type": kind})
            try:
                await asyncio.wait_for(asyncio.shield(waiting.future), limit)
            except asyncio.TimeoutError:  # not the builtin on 3.10
                raise ClusterTimeoutError(
                    operation, limit, expected, waiting.received, [],
                    list(local) + self.wrap_items(kind, ns, waiting.items),
                ) from None
            return waiting.items
        finally:
            del self._waiting[req_id]

    def wrap_items(self, kind: int, ns: str, items: list[Any]) -> list[Any]:
        if kind != RT.REMOTE_FETCH:
            return list(items)
        return [
            RemoteSocket(self.server, wire.node_socket_to_summary(d, ns), "")
            for d in items if isinstance(d, dict)
        ]

    # -- nestpy's cluster interface (BroadcastOperator, RemoteSocket, Server) --------------

    async def nest_fetch_sockets(self, sel: Selection, local: list[Any]) -> list[Any]:
        """*local* plus the matching sockets of every other node."""
        found = list(local)
        server: NestAsyncServer = self.server
        for ns in server.active_namespaces(sel.namespaces):
            items = await self.ask(
                "fetch_sockets", ns, RT.REMOTE_FETCH,
                {"opts": {"rooms": list(sel.rooms), "except": [*sel.except_rooms, *sel.skip]}},
                found,
            )
            found.extend(self.wrap_items(RT.REMOTE_FETCH, ns, items))
        return found

    async def nest_apply(self, operation: str, op: str, sel: Selection, **args: Any) -> None:
        """Have the other nodes disconnect / join / leave their matching sockets (not
        waiting for them, as Node's adapter)."""
        kind = {"join": RT.REMOTE_JOIN, "leave": RT.REMOTE_LEAVE}.get(op, RT.REMOTE_DISCONNECT)
        server: NestAsyncServer = self.server
        for ns in server.active_namespaces(sel.namespaces):
            body: dict[str, Any] = {
                "type": kind,
                "opts": {"rooms": list(sel.rooms), "except": [*sel.except_rooms, *sel.skip]},
            }
            if kind == RT.REMOTE_DISCONNECT:
                body["close"] = bool(args.get("close"))
            else:
                body["rooms"] = list(args.get("rooms") or ())
            self.publish_request(ns, body)

    async def server_count(self, namespace: str = "/") -> int:
        """Nodes serving *namespace* (``PUBSUB NUMSUB``, as ``io.serverCount()`` in Node)."""
        return max(await self.count_nodes(namespace), 1)

    async def server_side_emit(self, namespace: str, event: str, args: list[Any]) -> None:
        """``serverSideEmit`` without acknowledgement."""
        self.publish_request(namespace, {"type": RT.SERVER_SIDE_EMIT, "data": [event, *args]})

    async def server_side_emit_with_ack(
        self, namespace: str, event: str, args: list[Any], timeout: float | None
    ) -> list[Any]:
        """``serverSideEmitWithAck``: one answer per other node."""
        return await self.ask(
            "server_side_emit_with_ack", namespace, RT.SERVER_SIDE_EMIT,
            {"data": [event, *args]}, [], timeout,
        )

    async def broadcast_with_ack(
        self, namespace: str, rooms: list[str], except_: list[str], event: str,
        args: list[Any], timeout: float,
    ) -> list[Any]:
        """Emit to the selected clients of every node; one ack per client.

        Raises:
            ClusterTimeoutError: some client or node did not answer in *timeout* seconds
                (``.partial`` holds the acks that came).
        """
        nodes = await self.count_nodes(namespace) - 1
        loop = asyncio.get_running_loop()
        collect = _AckCollect(max(nodes, 0), 0, loop.create_future())
        req_id = uuid.uuid4().hex[:12]
        if nodes > 0:
            self._acks[req_id] = collect
            self.publish_request(namespace, {
                "requestId": req_id, "type": RT.BROADCAST,
                "packet": {"type": 2, "data": [event, *args], "nsp": namespace},
                "opts": {"rooms": rooms, "except": except_,
                         "flags": {"timeout": int(timeout * 1000)}},
            }, binary=True)
        try:
            def on_ack(arg: Any) -> None:
                collect.acks.append(arg)
                collect.check()

            count = await self.local_broadcast_with_ack(
                namespace, rooms, except_, event, args, on_ack
            )
            collect.expected_clients += count
            collect.check()
            try:
                await asyncio.wait_for(asyncio.shield(collect.future), timeout)
            except asyncio.TimeoutError:  # not the builtin on 3.10
                raise ClusterTimeoutError(
                    "emit_with_ack", timeout, max(nodes, 0), max(nodes, 0) - collect.nodes_left,
                    [], list(collect.acks),
                ) from None
            return list(collect.acks)
        finally:
            self._acks.pop(req_id, None)

    # -- python-socketio's manager interface ------------------------------------------------

    async def emit(
        self, event: str, data: Any, namespace: str, room: Any = None, skip_sid: Any = None,
        callback: Callable[..., Any] | None = None, to: Any = None, **kwargs: Any,
    ) -> None:
        """Emit to this node's clients and publish to the others (not with a callback:
        per-client acknowledgements are local, as in python-socketio)."""
        room = to or room
        if callback is None and self._started and not self._stopped:
            rooms = [] if room is None else ([room] if isinstance(room, str) else list(room))
            skip = skip_sid if isinstance(skip_sid, list) else ([] if skip_sid is None else
                                                                  [skip_sid])
            args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
            self.publish_broadcast(namespace, rooms, [str(s) for s in skip], event, args)
        await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                           callback=callback, **kwargs)

    async def nest_emit(
        self, event: str, data: Any, namespace: str, room: str | list[str] | None,
        except_rooms: Any, skip_sids: list[str] | None,
    ) -> None:
        """Emit with rooms excluded: every node resolves them against its own rooms."""
        rooms = [] if room is None else ([room] if isinstance(room, str) else list(room))
        except_ = [*except_rooms, *(skip_sids or ())]
        args = list(data) if isinstance(data, tuple) else [data]
        self.publish_broadcast(namespace, rooms, except_, event, args)
        await self.deliver_local(namespace, rooms, except_, event, args)

    async def enter_room(self, sid: str, namespace: str, room: str, eio_sid: Any = None) -> Any:
        """Join *room*; a socket of another node joins through its node (``RemoteSocket``)."""
        if eio_sid is None and not self.is_connected(sid, namespace):
            self.publish_request(namespace, {
                "type": RT.REMOTE_JOIN, "opts": {"rooms": [sid], "except": []}, "rooms": [room],
            })
            return None
        return await super().enter_room(sid, namespace, room, eio_sid=eio_sid)

    async def leave_room(self, sid: str, namespace: str, room: str) -> Any:
        """Leave *room*; a socket of another node leaves through its node."""
        if not self.is_connected(sid, namespace) and not self.is_pre_connected(sid, namespace):
            self.publish_request(namespace, {
                "type": RT.REMOTE_LEAVE, "opts": {"rooms": [sid], "except": []}, "rooms": [room],
            })
            return None
        return await super().leave_room(sid, namespace, room)

    async def connect(self, sid: str, namespace: str) -> Any:
        """Register a connection; a namespace seen for the first time gets subscribed."""
        self.namespace_seen(namespace)
        return await super().connect(sid, namespace)


def wire_reason(exc: BaseException) -> str:
    """A short reason for a Redis error (the URL's password never appears in it)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

