"""A python-socketio client manager speaking ``@socket.io/redis-streams-adapter`` 0.3.x.

Read from the adapter's source (socket.io-redis-streams-adapter ``lib/adapter.ts``,
``lib/util.ts``) and the ``ClusterAdapter`` it extends (socket.io-adapter
``cluster-adapter.ts``):

- lasting messages (broadcasts without ack, sockets join / leave / disconnect) are ``XADD``-ed
  to the stream ``<stream_name>`` (``MAXLEN ~ 10000``) as fields ``uid``, ``nsp``, ``type``
  (a decimal string) and ``data`` (JSON, or base64 MessagePack when it holds binary); every
  node reads the stream with ``XREAD BLOCK`` from where it was, so a node cut off from Redis
  for a while reads what it missed once it is back;
- ephemeral messages (fetch sockets, server-side emits, broadcasts with acks) are MessagePack
  on the pub/sub channel ``<prefix>#<ns>#``, answers on ``<prefix>#<ns>#<uid>#``;
- the number of nodes is ``PUBSUB NUMSUB <prefix>#<ns>#``;
- connection state recovery: offsets are stream entry ids and sessions live in Redis
  (``_node_streams_recovery``), so a client recovers on any node, nestpy or Node.

.. versionadded:: 0.2
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from nestpy.logger import Logger
from nestpy.websockets import _node_wire as wire
from nestpy.websockets._cluster_errors import BrokerUnavailableError, redact_url
from nestpy.websockets._cluster_wire import Selection
from nestpy.websockets._fanout import FastAsyncManager
from nestpy.websockets._node_common import (
    MAX_BACKOFF as _MAX_BACKOFF,
)
from nestpy.websockets._node_common import NodeClusterMixin, Outbox
from nestpy.websockets._node_redis import _Waiting, wire_reason
from nestpy.websockets._node_streams_recovery import StreamsRecovery
from nestpy.websockets._remote import RemoteSocket

if TYPE_CHECKING:
    from nestpy.websockets._recovery import RecoveryStore

__all__ = ["NodeStreamsManager"]

_log = Logger("nestpy.websockets.node_streams")

# MessageType of socket.io-adapter's cluster-adapter.ts
BROADCAST = 3
SOCKETS_JOIN = 4
SOCKETS_LEAVE = 5
DISCONNECT_SOCKETS = 6
FETCH_SOCKETS = 7
FETCH_SOCKETS_RESPONSE = 8
SERVER_SIDE_EMIT = 9
SERVER_SIDE_EMIT_RESPONSE = 10
BROADCAST_CLIENT_COUNT = 11
BROADCAST_ACK = 12
_MAY_HOLD_BINARY = frozenset({BROADCAST, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT,
                              SERVER_SIDE_EMIT_RESPONSE, BROADCAST_ACK})
_TO_REQUEST = {SOCKETS_JOIN: wire.RequestType.REMOTE_JOIN,
               SOCKETS_LEAVE: wire.RequestType.REMOTE_LEAVE,
               DISCONNECT_SOCKETS: wire.RequestType.REMOTE_DISCONNECT}
_XADD = "\x00xadd"  # Outbox channel marker: the payload is stream fields


def _has_binary(obj: Any) -> bool:
    if isinstance(obj, bytes | bytearray | memoryview):
        return True
    if isinstance(obj, list | tuple):
        return any(_has_binary(x) for x in obj)
    if isinstance(obj, dict):
        return any(_has_binary(v) for v in obj.values())
    return False


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class NodeStreamsManager(NodeClusterMixin, FastAsyncManager):
    """``socketio.AsyncManager`` on the ``@socket.io/redis-streams-adapter`` 0.3.x protocol.

    Made by ``SocketIoRedisStreamsAdapter``; see the module docstring.
    """

    nest_cluster: ClassVar[bool] = True

    def __init__(
        self, url: str, stream_name: str = "socket.io", *, channel_prefix: str = "socket.io",
        session_key_prefix: str = "sio:session:", max_len: int = 10_000, read_count: int = 100,
        block_time: float = 5.0, request_timeout: float = 5.0, startup_timeout: float = 5.0,
        buffer_limit: int = 10_000, redis_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.stream_name = stream_name
        self.channel_prefix = channel_prefix
        self.session_key_prefix = session_key_prefix
        self.max_len = max_len
        self.read_count = read_count
        self.block_ms = int(block_time * 1000)
        self.request_timeout = request_timeout
        self.startup_timeout = startup_timeout
        self.redis_options = dict(redis_options or {})
        self.uid = secrets.token_hex(8)
        self._pub: Any = None
        self._reader: Any = None
        self._sub: Any = None
        self._outbox = Outbox(self._send_batch, buffer_limit, "Redis", redact_url(url))
        self._subscribed: set[str] = set()
        self._waiting: dict[str, _Waiting] = {}
        self._acks: dict[str, Any] = {}
        self._tasks_main: list[asyncio.Future[None]] = []
        self._stream_recovery: StreamsRecovery | None = None
        self._last_id = "$"
        self._started = False
        self._stopped = False
        #: Nodes on ``/`` as last counted (at startup and by every cluster-wide request).
        self.last_server_count = 1

    def attach_recovery(self, store: RecoveryStore) -> StreamsRecovery:
        """Recovery across processes: sessions and offsets in Redis (``attach_recovery``)."""
        self._stream_recovery = self.recovery = StreamsRecovery(self, store)
        return self._stream_recovery

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, subscribe every served namespace, start reading the stream (idempotent).

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
            self._reader = aioredis.Redis.from_url(self.url, **self.redis_options)
            self._sub = self._pub.pubsub(ignore_subscribe_messages=True)
            for ns in self.served_namespaces():
                await asyncio.wait_for(self._subscribe(ns), self.startup_timeout)
        except Exception as exc:
            await self.stop()
            raise BrokerUnavailableError(
                "Redis", redact_url(self.url), wire_reason(exc), starting=True,
                fix="Start Redis there, or pass SocketIoRedisStreamsAdapter(url=...) the "
                "address of a running server.",
            ) from None
        with contextlib.suppress(BrokerUnavailableError):
            await self.count_nodes("/")
        self._outbox.start()
        self._tasks_main = [asyncio.ensure_future(self._listen()),
                            asyncio.ensure_future(self._read_stream())]
        _log.info("Socket.IO Redis Streams adapter connected", url=redact_url(self.url),
                  stream=self.stream_name, uid=self.uid)

    async def stop(self) -> None:
        """Flush what is queued (briefly), stop reading and close the connections."""
        if self._stopped:
            return
        self._stopped = True
        await self._outbox.stop()
        for task in self._tasks_main:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for task in list(self._tasks):
            task.cancel()
        for client in (self._sub, self._reader, self._pub):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()

    def _public(self, ns: str) -> str:
        return f"{self.channel_prefix}#{ns}#"

    async def _subscribe(self, ns: str) -> None:
        if ns in self._subscribed:
            return
        self._subscribed.add(ns)
        await self._sub.subscribe(self._public(ns), f"{self._public(ns)}{self.uid}#")

    async def connect(self, sid: str, namespace: str) -> Any:
        """Register a connection; a namespace seen for the first time gets subscribed."""
        if namespace not in self._subscribed and self._sub is not None and not self._stopped:
            self.spawn(self._subscribe(namespace))
        return await super().connect(sid, namespace)

    # -- sending ----------------------------------------------------------------------------

    def _fields(self, ns: str, kind: int, data: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"uid": self.uid, "nsp": ns, "type": str(kind)}
        if data is not None:
            if kind in _MAY_HOLD_BINARY and _has_binary(data):
                fields["data"] = base64.b64encode(wire.encode(data))
            else:
                fields["data"] = self.dumps(data)
        return fields

    async def _send_batch(self, batch: list[tuple[str, Any]]) -> None:
        pipe = self._pub.pipeline(transaction=False)
        for channel, payload in batch:
            if channel == _XADD:
                pipe.xadd(self.stream_name, payload, maxlen=self.max_len, approximate=True)
            else:
                pipe.publish(channel, payload)
        await pipe.execute()

    async def _append(self, ns: str, kind: int, data: Any, want_offset: bool) -> str | None:
        """XADD a lasting message; its stream id when *want_offset* and Redis answered.
        While Redis is away it waits in the outbox (no offset: not replayable)."""
        fields = self._fields(ns, kind, data)
        if want_offset and not self._outbox.pending and not self._outbox.failing:
            try:
                entry_id = await self._pub.xadd(
                    self.stream_name, fields, maxlen=self.max_len, approximate=True
                )
            except Exception:
                self._outbox.put(_XADD, fields)
                return None
            return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        self._outbox.put(_XADD, fields)
        return None

    def _publish(self, channel: str, message: dict[str, Any]) -> None:
        self._outbox.put(channel, wire.encode(message))

    def _respond(self, ns: str, requester: str, kind: int, data: dict[str, Any]) -> None:
        self._publish(f"{self._public(ns)}{requester}#",
                      {"type": kind, "data": data, "uid": self.uid, "nsp": ns})

    # -- receiving --------------------------------------------------------------------------

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
                    if msg.get("type") != "message":
                        continue
                    try:
                        message = wire.decode(msg["data"])
                        if isinstance(message, dict):
                            await self._on_message(message, None)
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

    async def _read_stream(self) -> None:
        delay = 0.05
        failing = False
        while not self._stopped:
            try:
                answer = await self._reader.xread(
                    {self.stream_name: self._last_id}, count=self.read_count, block=self.block_ms
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    _log.warning("reading the Redis stream failed; retrying",
                               error=wire_reason(exc), stream=self.stream_name)
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            if failing:
                _log.info("reading the Redis stream again", stream=self.stream_name)
            failing = False
            delay = 0.05
            for _stream, entries in answer or ():
                for entry_id, fields in entries:
                    offset = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                    self._last_id = offset
                    try:
                        message = self.decode_entry(fields)
                        if message is not None:
                            await self._on_message(message, offset)
                    except Exception:
                        _log.exception("bad Socket.IO stream entry", id=offset)

    def decode_entry(self, fields: dict[Any, Any]) -> dict[str, Any] | None:
        """A stream entry as a cluster message (``RedisStreamsAdapter.decode``)."""
        get = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}
        nsp = get.get("nsp")
        if not nsp:
            return None
        message: dict[str, Any] = {"uid": _text(get.get("uid")), "nsp": _text(nsp),
                                   "type": int(_text(get.get("type") or "0"))}
        raw = get.get("data")
        if raw:
            raw_b = raw if isinstance(raw, bytes) else str(raw).encode()
            message["data"] = (
                self.json.loads(raw_b) if raw_b[:1] == b"{" else wire.decode(
                    base64.b64decode(raw_b))
            )
        return message

    async def _on_message(self, message: dict[str, Any], offset: str | None) -> None:
        sender = message.get("uid")
        ns = message.get("nsp")
        if sender == self.uid or not isinstance(ns, str) or ns not in self._subscribed:
            return
        kind = message.get("type")
        data = message.get("data")
        data = data if isinstance(data, dict) else {}
        req_id = data.get("requestId")
        if kind == BROADCAST:
            if req_id is not None:
                if req_id in self._acks:
                    return
                await self.serve_broadcast_with_ack(
                    ns, data,
                    lambda n: self._respond(ns, str(sender), BROADCAST_CLIENT_COUNT,
                                            {"requestId": req_id, "clientCount": n}),
                    lambda arg: self._respond(ns, str(sender), BROADCAST_ACK,
                                              {"requestId": req_id, "packet": arg}),
                )
                return
            packet = data.get("packet")
            opts = data.get("opts")
            if isinstance(packet, dict):
                recovery = self._stream_recovery
                if recovery is not None:
                    recovery.next_offset = offset
                try:
                    await self.deliver_remote(ns, packet, opts if isinstance(opts, dict) else {})
                finally:
                    if recovery is not None:
                        recovery.next_offset = None
        elif kind in _TO_REQUEST:
            await self.apply_remote(ns, _TO_REQUEST[kind], data)
        elif kind == FETCH_SOCKETS:
            sockets = [self.socket_details(s) for s in self.select(ns, data.get("opts"))]
            self._respond(ns, str(sender), FETCH_SOCKETS_RESPONSE,
                          {"requestId": req_id, "sockets": sockets})
        elif kind == SERVER_SIDE_EMIT:
            await self.on_server_side_emit(
                ns, data.get("packet") or [], req_id,
                lambda arg: self._respond(ns, str(sender), SERVER_SIDE_EMIT_RESPONSE,
                                          {"requestId": req_id, "packet": arg}),
            )
        elif kind in (BROADCAST_CLIENT_COUNT, BROADCAST_ACK):
            collect = self._acks.get(req_id) if isinstance(req_id, str) else None
            if collect is not None:
                if kind == BROADCAST_CLIENT_COUNT:
                    collect.nodes_left -= 1
                    collect.expected_clients += int(data.get("clientCount") or 0)
                else:
                    collect.acks.append(data.get("packet"))
                collect.check()
        elif kind in (FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT_RESPONSE):
            waiting = self._waiting.get(req_id) if isinstance(req_id, str) else None
            if waiting is None:
                return
            if kind == FETCH_SOCKETS_RESPONSE:
                waiting.items.extend(s for s in data.get("sockets") or () if isinstance(s, dict))
            else:
                waiting.items.append(data.get("packet"))
            waiting.received += 1
            if waiting.received >= waiting.expected and not waiting.future.done():
                waiting.future.set_result(None)

    # -- nestpy's cluster interface -----------------------------------------------------------

    async def count_nodes(self, ns: str) -> int:
        """Nodes subscribed to *ns*'s public channel (this one included)."""
        try:
            answer = await self._pub.pubsub_numsub(self._public(ns))
        except Exception as exc:
            raise BrokerUnavailableError(
                "Redis", redact_url(self.url), wire_reason(exc), starting=False,
                fix="The adapter keeps retrying.",
            ) from None
        count = int(answer[0][1]) if answer else 0
        if ns == "/":
            self.last_server_count = max(count, 1)
        return count

    async def server_count(self, namespace: str = "/") -> int:
        """Nodes serving *namespace* (``PUBSUB NUMSUB``)."""
        return max(await self.count_nodes(namespace), 1)

    async def _ask(self, operation: str, ns: str, kind: int, data: dict[str, Any],
                   local: list[Any], timeout: float | None) -> list[Any]:
        from nestpy.websockets._cluster_errors import ClusterTimeoutError

        expected = await self.count_nodes(ns) - 1
        if expected <= 0:
            return []
        req_id = secrets.token_hex(8)
        loop = asyncio.get_running_loop()
        waiting = self._waiting[req_id] = _Waiting(kind, expected, loop.create_future())
        limit = self.request_timeout if timeout is None else timeout
        try:
            self._publish(self._public(ns), {"type": kind, "data": {**data, "requestId": req_id},
                                             "uid": self.uid, "nsp": ns})
            try:
                await asyncio.wait_for(asyncio.shield(waiting.future), limit)
            except asyncio.TimeoutError:  # not the builtin on 3.10
                partial = waiting.items if kind != FETCH_SOCKETS else list(local) + [
                    RemoteSocket(self.server, wire.node_socket_to_summary(d, ns), "")
                    for d in waiting.items
                ]
                raise ClusterTimeoutError(operation, limit, expected, waiting.received, [],
                                          partial) from None
            return waiting.items
        finally:
            del self._waiting[req_id]

    async def nest_fetch_sockets(self, sel: Selection, local: list[Any]) -> list[Any]:
        """*local* plus the matching sockets of every other node."""
        found = list(local)
        for ns in self.server.active_namespaces(sel.namespaces):
            opts = {"rooms": list(sel.rooms), "except": [*sel.except_rooms, *sel.skip]}
            for d in await self._ask("fetch_sockets", ns, FETCH_SOCKETS, {"opts": opts},
                                     found, None):
                found.append(RemoteSocket(self.server, wire.node_socket_to_summary(d, ns), ""))
        return found

    async def nest_apply(self, operation: str, op: str, sel: Selection, **args: Any) -> None:
        """Have the other nodes join / leave / disconnect their matching sockets (through the
        stream: a node cut off for a moment still does it)."""
        kind = {"join": SOCKETS_JOIN, "leave": SOCKETS_LEAVE}.get(op, DISCONNECT_SOCKETS)
        for ns in self.server.active_namespaces(sel.namespaces):
            data: dict[str, Any] = {
                "opts": {"rooms": list(sel.rooms), "except": [*sel.except_rooms, *sel.skip]}}
            if kind == DISCONNECT_SOCKETS:
                data["close"] = bool(args.get("close"))
            else:
                data["rooms"] = list(args.get("rooms") or ())
            await self._append(ns, kind, data, want_offset=False)

    async def server_side_emit(self, namespace: str, event: str, args: list[Any]) -> None:
        """``serverSideEmit`` without acknowledgement."""
        self._publish(self._public(namespace), {"type": SERVER_SIDE_EMIT, "data": {
            "packet": [event, *args]}, "uid": self.uid, "nsp": namespace})

    async def server_side_emit_with_ack(self, namespace: str, event: str, args: list[Any],
                                        timeout: float | None) -> list[Any]:
        """``serverSideEmitWithAck``: one answer per other node."""
        return await self._ask("server_side_emit_with_ack", namespace, SERVER_SIDE_EMIT,
                               {"packet": [event, *args]}, [], timeout)

    async def broadcast_with_ack(self, namespace: str, rooms: list[str], except_: list[str],
                                 event: str, args: list[Any], timeout: float) -> list[Any]:
        """Emit to the selected clients of every node; one ack per client."""
        from nestpy.websockets._cluster_errors import ClusterTimeoutError
        from nestpy.websockets._node_redis import _AckCollect

        nodes = max(await self.count_nodes(namespace) - 1, 0)
        collect = _AckCollect(nodes, 0, asyncio.get_running_loop().create_future())
        req_id = uuid.uuid4().hex[:16]
        if nodes:
            self._acks[req_id] = collect
            self._publish(self._public(namespace), {"type": BROADCAST, "data": {
                "packet": {"type": 2, "data": [event, *args], "nsp": namespace},
                "requestId": req_id,
                "opts": {"rooms": rooms, "except": except_,
                         "flags": {"timeout": int(timeout * 1000)}},
            }, "uid": self.uid, "nsp": namespace})

        def on_ack(arg: Any) -> None:
            collect.acks.append(arg)
            collect.check()

        try:
            count = await self.local_broadcast_with_ack(namespace, rooms, except_, event, args,
                                                        on_ack)
            collect.expected_clients += count
            collect.check()
            try:
                await asyncio.wait_for(asyncio.shield(collect.future), timeout)
            except asyncio.TimeoutError:  # not the builtin on 3.10
                raise ClusterTimeoutError("emit_with_ack", timeout, nodes,
                                          nodes - collect.nodes_left, [],
                                          list(collect.acks)) from None
            return list(collect.acks)
        finally:
            self._acks.pop(req_id, None)

    # -- python-socketio's manager interface ------------------------------------------------

    async def emit(self, event: str, data: Any, namespace: str, room: Any = None,
                   skip_sid: Any = None, callback: Any = None, to: Any = None,
                   **kwargs: Any) -> None:
        """Append to the stream for the other nodes, then emit to this node's clients (with
        the entry id as offset when recovery is on)."""
        room = to or room
        recovery = self._stream_recovery
        offset: str | None = None
        if callback is None and self._started and not self._stopped:
            rooms = [] if room is None else ([room] if isinstance(room, str) else list(room))
            skip = skip_sid if isinstance(skip_sid, list) else (
                [] if skip_sid is None else [skip_sid])
            args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
            offset = await self._append(namespace, BROADCAST, {
                "packet": {"type": 2, "data": [event, *args], "nsp": namespace},
                "opts": {"rooms": rooms, "except": [str(s) for s in skip], "flags": {}},
            }, want_offset=recovery is not None)
        if recovery is not None:
            recovery.next_offset = offset
        await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                           callback=callback, **kwargs)

    async def nest_emit(self, event: str, data: Any, namespace: str,
                        room: str | list[str] | None, except_rooms: Any,
                        skip_sids: list[str] | None) -> None:
        """Emit with rooms excluded: every node resolves them against its own rooms."""
        rooms = [] if room is None else ([room] if isinstance(room, str) else list(room))
        except_ = [*except_rooms, *(skip_sids or ())]
        args = list(data) if isinstance(data, tuple) else [data]
        recovery = self._stream_recovery
        offset = await self._append(namespace, BROADCAST, {
            "packet": {"type": 2, "data": [event, *args], "nsp": namespace},
            "opts": {"rooms": rooms, "except": except_, "flags": {}},
        }, want_offset=recovery is not None)
        if recovery is not None:
            recovery.next_offset = offset
        await self.deliver_local(namespace, rooms, except_, event, args)

    async def enter_room(self, sid: str, namespace: str, room: str, eio_sid: Any = None) -> Any:
        """Join *room*; a socket of another node joins through its node."""
        if eio_sid is None and not self.is_connected(sid, namespace):
            await self._append(namespace, SOCKETS_JOIN, {
                "opts": {"rooms": [sid], "except": []}, "rooms": [room]}, want_offset=False)
            return None
        return await super().enter_room(sid, namespace, room, eio_sid=eio_sid)

    async def leave_room(self, sid: str, namespace: str, room: str) -> Any:
        """Leave *room*; a socket of another node leaves through its node."""
        if not self.is_connected(sid, namespace) and not self.is_pre_connected(sid, namespace):
            await self._append(namespace, SOCKETS_LEAVE, {
                "opts": {"rooms": [sid], "except": []}, "rooms": [room]}, want_offset=False)
            return None
        return await super().leave_room(sid, namespace, room)
