"""nestpy's Socket.IO server: python-socketio's ``AsyncServer`` on nestpy's Engine.IO server.

The transport is ``nestpy.engineio`` (through ``_transport.EngineBridge``); python-socketio
keeps the rooms, client managers, packet codec and ``emit``/``call``. Dispatch is nestpy's.

python-socketio private names used, written against python-socketio 5.18.1 (pinned in
pyproject, checked by ``tests/compat/test_socketio_seams.py``, which names any that changed):

* ``AsyncServer._engineio_server_class()``: returns the Engine.IO server class to build
  (nestpy's bridge instead of python-engineio's ``AsyncServer``).
* ``_handle_eio_connect`` / ``_handle_eio_disconnect`` (extended: connect timeout),
  ``_handle_eio_message`` (replaced: every invalid packet closes that client's connection
  with one warning line; binary attachments bounded), ``_handle_connect`` (replaced: gateway
  lookup, guards and ``handle_connection`` before the CONNECT reply; refusals as
  CONNECT_ERROR), ``_handle_event`` (replaced: one dict lookup to the compiled handler);
  ``_handle_ack``, ``_handle_disconnect`` and ``_send_packet`` are called as upstream has them;
  ``environ`` (the per-session environ dict) is read.

Insertion points for other features: ``_connect_step`` (one Socket.IO CONNECT, before the
gateway's ``accept``) and ``_dispatch_step`` (one event, before its handler runs).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from socketio import packet as sio_packet

from nestpy._pipeline.encoding import to_wire_args
from nestpy._speed import OrjsonCodec, _orjson_dumps
from nestpy.engineio import DEFAULT_MAX_BUFFER_SIZE
from nestpy.engineio._tasks import start_task
from nestpy.exceptions import BootstrapError
from nestpy.logger import Logger, ws_context
from nestpy.websockets._fanout import FastAsyncManager
from nestpy.websockets._packet import NestPacket, has_binary
from nestpy.websockets._ratelimit import RateLimit, RateLimiter
from nestpy.websockets._recovery import attach_recovery, pre_connect_as, rejoin
from nestpy.websockets._runtime import GatewayRuntime, merge_runtimes
from nestpy.websockets._transport import EngineBridge, bridge_class
from nestpy.websockets.socket import Socket

__all__ = ["GatewayRuntime", "NestAsyncServer"]

_log = Logger("nestpy.websockets")




#: The head of a text EVENT packet: ``2``, an optional namespace (``/chat,``; one with a
#: query string is left to the general decoder) and an optional ack id, followed by the JSON
#: array. python-socketio's ``Packet.decode`` reads the same packets the same way.
_EVENT_HEAD = re.compile(r"2(?:(/[^,?]*),)?(\d{0,99})(?=\[)").match


async def _in_context(context: tuple[str, str, str], rest: Awaitable[None]) -> None:
    """Await *rest* (what a handler left to do) with the message's log context set."""
    token = ws_context.set(context)
    try:
        await rest
    finally:
        ws_context.reset(token)


async def _settled(pending: Awaitable[None] | None) -> None:
    """Await what a dispatch step left to do, if anything."""
    if pending is not None:
        await pending


class _Flow:
    """Per Engine.IO session: async handlers in flight, a binary packet awaiting attachments,
    and whether the client already got an invalid-packet close."""

    __slots__ = ("binary", "in_flight", "waiter")

    def __init__(self) -> None:
        self.in_flight = 0
        self.waiter: asyncio.Future[None] | None = None
        self.binary: Any = None


_SEPARATORS = (",", ":")

#: Defaults of the Socket.IO-level bounds (gateway options of the same names).
DEFAULT_MAX_HANDLERS_IN_FLIGHT = 64
DEFAULT_MAX_ATTACHMENTS = 64
DEFAULT_NAMESPACE_CACHE_BYTES = 256 * 1024
DEFAULT_DRAIN_TIMEOUT = 10.0
#: Seconds between the CONNECT reply and the emits ``handle_connection`` made (see
#: ``_handle_connect``); only connections whose handler emitted wait it.
CONNECT_EMIT_GAP = 0.02
#: The ack payload of a handler cut short by shutdown, or of an event refused while draining.
SHUTDOWN_ERROR: dict[str, Any] = {"status": "error", "message": "Server shutting down"}


class NestAsyncServer(socketio.AsyncServer):  # type: ignore[misc]
    """``socketio.AsyncServer`` on nestpy's Engine.IO server, dispatching straight to
    compiled gateway handlers.

    Args:
        connect_timeout: close an Engine.IO session that joins no namespace in this time.
        per_message_deflate: accept websocket compression.
        max_buffer_size: bytes a client may leave unread before it is disconnected.
        max_handlers_in_flight: async handlers one client may have running; its further
            messages wait (the server stops reading that client) until one finishes.
        max_attachments: binary attachments one packet may announce (more: disconnected).
        namespace_cache_bytes: bytes of namespace names remembered for the regex lookup.
        drain_timeout: seconds ``drain()`` lets in-flight handlers finish at shutdown.
        connection_state_recovery: Socket.IO 4.6's recovery options (``_recovery``); None: off.
        rate_limit: a per-socket event rate limit (``_ratelimit``); None: off.
        **kwargs: python-socketio / python-engineio server options.
    """

    packet_class: type[Any]  # set by python-socketio's BaseServer.__init__
    eio: EngineBridge

    def __init__(
        self,
        *,
        connect_timeout: float = 45.0,
        per_message_deflate: bool = False,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
        max_handlers_in_flight: int = DEFAULT_MAX_HANDLERS_IN_FLIGHT,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        namespace_cache_bytes: int = DEFAULT_NAMESPACE_CACHE_BYTES,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        connection_state_recovery: Any = None,
        rate_limit: RateLimit | None = None,
        **kwargs: Any,
    ) -> None:
        for name, value in (("max_handlers_in_flight", max_handlers_in_flight),
                            ("max_attachments", max_attachments),
                            ("max_buffer_size", max_buffer_size)):
            if not isinstance(value, int) or value < 1:
                raise BootstrapError(f"gateway option {name} must be a positive int, not {value!r}")
        self._nest_deflate = per_message_deflate
        self._nest_max_buffer = max_buffer_size
        kwargs.setdefault("async_mode", "aiohttp")
        # Dispatch is ours (see module docstring); python-socketio's task-per-event is off.
        kwargs["async_handlers"] = False
        super().__init__(**kwargs)
        if self.packet_class is sio_packet.Packet:
            # The default serializer only (msgpack or a custom class are left alone).
            self.packet_class = NestPacket
        self.nest_sockets: dict[str, Socket] = {}
        self._exact: dict[str, GatewayRuntime] = {}
        self._patterns: list[tuple[re.Pattern[str], GatewayRuntime]] = []
        self._ns_cache: dict[str, GatewayRuntime | None] = {}
        self._ns_cache_bytes = 0
        self._ns_cache_limit = namespace_cache_bytes
        self._connect_timeout = connect_timeout
        self._connect_timers: dict[str, asyncio.TimerHandle] = {}
        self._max_in_flight = max_handlers_in_flight
        self._max_attachments = max_attachments
        self.drain_timeout = drain_timeout
        self._flows: dict[str, _Flow] = {}
        # in-flight async handlers → (socket, ack id) for the shutdown drain
        self._running: dict[asyncio.Future[Any], tuple[Socket, int | None]] = {}
        self._draining = False
        self.on("disconnect", self._nest_disconnect, namespace="*")
        # Connection state recovery, when the gateway option is on (None otherwise).
        self.nest_recovery = attach_recovery(self.manager, connection_state_recovery)
        # Per-socket event rate limit (gateway option; None = off): see _ratelimit.
        self._nest_limit = RateLimiter(rate_limit, self) if rate_limit is not None else None
        # Acks and Socket.emit go through the manager's unicast fast path when it has one
        # (FastAsyncManager and its pub/sub subclasses): resolved once, not per message.
        unicast = getattr(self.manager, "unicast", None)
        self._nest_unicast: Callable[[str, Any], Awaitable[None] | None] | None = (
            unicast if isinstance(self.manager, FastAsyncManager) else None
        )
        # python-socketio's default text codec (NestPacket) is decoded and encoded inline on
        # the hot path (same wire format); msgpack or a custom packet class is left alone.
        self._fast_decode = self.packet_class is NestPacket
        self._fast_ack = self._fast_decode and self._nest_unicast is not None
        codec = self.packet_class.json
        self._loads: Callable[[str], Any] = codec.loads
        self._dumps: Callable[..., str] = codec.dumps
        # nestpy's orjson codec, called without its keyword handling: what it refuses
        # (bytes, non-str keys, big ints, types for json_default) takes _dumps after all.
        self._orjson: Callable[[Any], bytes] | None = (
            _orjson_dumps if codec is OrjsonCodec else None
        )

    def _engineio_server_class(self) -> type:
        return bridge_class(self._nest_deflate, self._nest_max_buffer)

    # -- registry ---------------------------------------------------------------------

    def add_gateway(self, runtime: GatewayRuntime) -> None:
        """Serve *runtime*'s namespace (exact name or regex) on this server.

        Several gateways may declare one namespace (as in NestJS): they are merged into one
        runtime, so every gateway's handlers and hooks serve it.
        """
        ns = runtime.namespace
        if isinstance(ns, str):
            first = self._exact.get(ns)
            self._exact[ns] = runtime if first is None else merge_runtimes(first, runtime)
        else:
            for i, (pattern, first_rt) in enumerate(self._patterns):
                if pattern == ns:
                    self._patterns[i] = (pattern, merge_runtimes(first_rt, runtime))
                    break
            else:
                self._patterns.append((ns, runtime))
        self._ns_cache.clear()
        self._ns_cache_bytes = 0

    def gateway_for(self, namespace: str) -> GatewayRuntime | None:
        """The gateway serving *namespace*: exact names first, then regexes in order."""
        rt = self._exact.get(namespace)
        if rt is not None or not self._patterns:
            return rt
        try:
            return self._ns_cache[namespace]
        except KeyError:
            pass
        for pattern, candidate in self._patterns:
            if pattern.fullmatch(namespace):
                rt = candidate
                break
        # Bounded by bytes: namespace names are client-chosen strings of any length.
        size = len(namespace)
        if self._ns_cache_bytes + size > self._ns_cache_limit:
            self._ns_cache.clear()
            self._ns_cache_bytes = 0
        if size <= self._ns_cache_limit:
            self._ns_cache[namespace] = rt
            self._ns_cache_bytes += size
        return rt

    def active_namespaces(self, spec: tuple[str, ...] | re.Pattern[str]) -> tuple[str, ...]:
        """Concrete namespaces for a name tuple or a regex (active ones only)."""
        if isinstance(spec, tuple):
            return spec
        return tuple(ns for ns in list(self.manager.get_namespaces()) if spec.fullmatch(ns))

    # -- Engine.IO level ----------------------------------------------------------------

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        await super()._handle_eio_connect(eio_sid, environ)
        self._flows[eio_sid] = _Flow()
        if self._connect_timeout and self._connect_timeout > 0:
            loop = asyncio.get_running_loop()
            self._connect_timers[eio_sid] = loop.call_later(
                self._connect_timeout, self._connect_timed_out, eio_sid
            )

    def _connect_timed_out(self, eio_sid: str) -> None:
        self._connect_timers.pop(eio_sid, None)
        for ns in list(self.manager.get_namespaces()):
            if self.manager.sid_from_eio_sid(eio_sid, ns) is not None:
                return
        # Socket.IO's connectTimeout: an Engine.IO session that joined no namespace.
        sock = self.eio.sessions.get(eio_sid)
        if sock is not None:
            sock.close()

    async def close_session(self, eio_sid: str) -> None:
        """Close Engine.IO session *eio_sid* (every namespace on it) from the server side:
        what was sent before goes out first, then the websocket's close frame (or CLOSE to
        a polling client)."""
        sock = self.eio.sessions.get(eio_sid)
        if sock is not None:
            sock.close()

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        timer = self._connect_timers.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()
        flow = self._flows.pop(eio_sid, None)
        if flow is not None and flow.waiter is not None and not flow.waiter.done():
            flow.waiter.set_result(None)
        recovery = self.nest_recovery
        if recovery is None:
            await super()._handle_eio_disconnect(eio_sid, reason)
            return
        # A session-level close (not a namespace DISCONNECT): recoverable, as in Node.
        recovery.engine_closing.add(eio_sid)
        try:
            await super()._handle_eio_disconnect(eio_sid, reason)
        finally:
            recovery.engine_closing.discard(eio_sid)

    def _invalid(self, eio_sid: str, what: str) -> None:
        """An invalid packet: one (rate-limited) warning, and the client's connection closes."""
        sock = self.eio.sessions.get(eio_sid)
        if sock is not None and not sock.closed:
            self.eio.warn_invalid(sock, what)
            sock.close("parse error")

    def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> Awaitable[None] | None:
        # Called by the bridge for every Engine.IO MESSAGE. The common packet (a text EVENT
        # whose handler is sync, acked with JSON) is decoded, run and acked before this
        # returns: no coroutine, no Packet object. Everything else returns the coroutine of
        # the general path (the bridge awaits it before reading that client further).
        if type(data) is str and self._fast_decode:
            match = _EVENT_HEAD(data)
            if match is not None:
                flow = self._flows.get(eio_sid)
                if flow is None or flow.binary is not None:
                    return self._handle_message(eio_sid, data)
                try:
                    args = self._loads(data[match.end():])
                except Exception:  # the general path closes the client with a warning
                    return self._handle_message(eio_sid, data)
                if type(args) is list and args and type(args[0]) is str:
                    ns, ack_id = match.groups()
                    return self._handle_event(
                        eio_sid, ns, int(ack_id) if ack_id else None, args
                    )
        return self._handle_message(eio_sid, data)

    async def _handle_message(self, eio_sid: str, data: str | bytes) -> None:
        flow = self._flows.get(eio_sid)
        if flow is None:
            return
        binary = flow.binary
        if binary is not None:
            if type(data) is str:
                return self._invalid(eio_sid, "text packet while binary attachments are due")
            try:
                complete = binary.add_attachment(data)
            except Exception:  # placeholders that do not match the attachments
                return self._invalid(eio_sid, "binary attachments do not match the packet")
            if not complete:
                return None
            flow.binary = None
            return await self._dispatch_packet(eio_sid, binary)
        if type(data) is not str:
            return self._invalid(eio_sid, "unexpected binary message")
        try:
            pkt = self.packet_class(encoded_packet=data)
        except Exception:  # the codec's errors: ValueError, JSON errors, IndexError
            return self._invalid(eio_sid, "undecodable Socket.IO packet")
        ptype = pkt.packet_type
        if ptype == sio_packet.BINARY_EVENT or ptype == sio_packet.BINARY_ACK:
            count = pkt.attachment_count
            if not 0 < count <= self._max_attachments:
                return self._invalid(eio_sid, f"binary packet announcing {count} attachments")
            flow.binary = pkt
            return None
        return await self._dispatch_packet(eio_sid, pkt)

    async def _dispatch_packet(self, eio_sid: str, pkt: Any) -> None:
        ptype = pkt.packet_type
        data = pkt.data
        ns = pkt.namespace
        if ns is not None and (type(ns) is not str or ns[:1] != "/"):
            return self._invalid(eio_sid, "invalid namespace")
        if ptype == sio_packet.EVENT or ptype == sio_packet.BINARY_EVENT:
            if type(data) is not list or not data or type(data[0]) is not str:
                return self._invalid(eio_sid, "event packet without an event name")
            return await _settled(self._handle_event(eio_sid, ns, pkt.id, data))
        if ptype == sio_packet.ACK or ptype == sio_packet.BINARY_ACK:
            if type(data) is not list:
                return self._invalid(eio_sid, "ack packet without an argument list")
            await self._handle_ack(eio_sid, ns, pkt.id, data)
            return None
        if ptype == sio_packet.CONNECT:
            if data is not None and type(data) is not dict:
                return self._invalid(eio_sid, "connect packet with a non-object payload")
            return await self._handle_connect(eio_sid, ns, data)
        if ptype == sio_packet.DISCONNECT:
            sid = self.manager.sid_from_eio_sid(eio_sid, ns or "/")
            if sid is not None and self.manager.is_connected(sid, ns or "/"):
                await self._handle_disconnect(eio_sid, ns, self.reason.CLIENT_DISCONNECT)
            return None
        return self._invalid(eio_sid, f"unexpected Socket.IO packet type {ptype}")

    # -- Socket.IO level ----------------------------------------------------------------

    async def _connect_step(self, sock: Socket) -> dict[str, Any] | None:
        """Runs for every CONNECT before the gateway's guards and ``handle_connection``;
        a dict refuses the connection with that CONNECT_ERROR payload (insertion point)."""
        if self._draining:
            return {"message": "Server shutting down"}
        return None

    def _dispatch_step(self, sock: Socket, event: str, ack_id: int | None) -> bool:
        """Runs for every event before its handler; False drops it (insertion point)."""
        return True

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        namespace = namespace or "/"
        runtime = self.gateway_for(namespace)
        if runtime is None:
            await self._send_packet(
                eio_sid,
                self.packet_class(
                    sio_packet.CONNECT_ERROR,
                    data={"message": "Invalid namespace"},
                    namespace=namespace,
                ),
            )
            return
        recovery = self.nest_recovery
        # Connection state recovery: a known pid + offset gets its sid, rooms and data back.
        restored = await recovery.restore(namespace, data) if recovery is not None else None
        sid = pre_connect_as(self.manager, eio_sid, namespace, restored.sid) if restored else None
        if sid is None:
            restored = None  # not restorable after all (its sid is taken): a new connection
            sid = await self.manager.pre_connect(eio_sid, namespace)
        if sid is None:
            await self._send_packet(
                eio_sid,
                self.packet_class(
                    sio_packet.CONNECT_ERROR, data={"message": "Unable to connect"},
                    namespace=namespace,
                ),
            )
            return
        sock = Socket(self, runtime, sid, eio_sid, namespace, self.environ.get(eio_sid, {}), data)
        if restored is not None:
            rejoin(self.manager, namespace, restored)
            sock.data = restored.data if isinstance(restored.data, dict) else {}
            sock.recovered = True
        try:
            refusal = await self._connect_step(sock)
            if refusal is None:
                refusal = await runtime.accept(sock)
        except Exception:  # accept() turns user errors into refusals; this is a bug guard
            _log.exception("connection handler failed", sid=sid, namespace=namespace)
            refusal = {"message": "Internal server error"}
        session = self.eio.sessions.get(eio_sid)
        if session is None or session.closed:
            # The client left (or sent CLOSE) while its guards ran: register nothing.
            await self.manager.disconnect(sid, namespace, ignore_queue=True)
            return
        if refusal is not None:
            await self._send_packet(
                eio_sid,
                self.packet_class(sio_packet.CONNECT_ERROR, data=refusal, namespace=namespace),
            )
            await self.manager.disconnect(sid, namespace, ignore_queue=True)
            return
        await self._send_packet(
            eio_sid,
            self.packet_class(
                sio_packet.CONNECT,
                {"sid": sid} if recovery is None else {"sid": sid, "pid": recovery.pid_for(sid)},
                namespace=namespace,
            ),
        )
        await self.manager.connect(sid, namespace)
        timer = self._connect_timers.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()
        sock._connected = True
        self.nest_sockets[sid] = sock
        if restored is not None:  # the packets it missed, in order, once
            for args in restored.missed:
                await self.send_to(
                    eio_sid, self.packet_class(sio_packet.EVENT, namespace=namespace, data=args)
                )
        if sock._pending:
            # The CONNECT reply goes out in a write of its own, a moment before what
            # handle_connection emitted: a client that handles one message per read (as the
            # maintainers' suite does) sees CONNECT, then the emits, not both in one read.
            await asyncio.sleep(CONNECT_EMIT_GAP)
        await sock._flush_pending()

    def _handle_event(
        self, eio_sid: str, namespace: str | None, id: int | None, data: list[Any]
    ) -> Awaitable[None] | None:
        """Dispatch one EVENT: None when it was handled before this returns (a sync handler
        on the fast path acked, an async handler's task started), else an awaitable of the
        rest, which the reader awaits before reading this client on."""
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        sock = self.nest_sockets.get(sid) if sid is not None else None
        if sock is None:
            return None  # not (or no longer) connected to this namespace
        event = data[0]
        if self._draining:
            return None if id is None else self.send_ack(sock, id, [SHUTDOWN_ERROR])
        if self._nest_limit is not None and (refused := self._nest_limit.check(sock, id)):
            return refused
        handler = sock._gateway.handlers.get(event)
        if handler is None:
            # NestJS ignores events no handler subscribes to; an ack is answered (_binding).
            unknown: Awaitable[None] = sock._gateway.unknown_event(sock, data, id)
            return unknown
        if not self._dispatch_step(sock, event, id):
            return None
        n = len(data)
        # NestJS's rule: one argument is the body; several are the list of them.
        body = data[1] if n == 2 else (None if n == 1 else data[1:])
        context = (sid, namespace, event)
        now = handler.now
        flow = None
        if now is None and not handler.inline:
            flow = self._flows.get(eio_sid)
            if flow is not None and flow.in_flight >= self._max_in_flight:
                return self._start_when_free(flow, eio_sid, handler, sock, body, id, context)
        token = ws_context.set(context)
        try:
            if now is not None:
                rest = now(sock, body, id)
            elif handler.inline:
                rest = handler.run(sock, body, id)
            else:
                self._start_handler(handler, sock, body, id, flow)
                return None
        finally:
            ws_context.reset(token)
        return None if rest is None else _in_context(context, rest)

    async def _start_when_free(
        self, flow: _Flow, eio_sid: str, handler: Any, sock: Socket, body: Any,
        ack_id: int | None, context: tuple[str, str, str],
    ) -> None:
        # Back-pressure: this client's reading waits until one of its handlers is done.
        flow.waiter = asyncio.get_running_loop().create_future()
        await flow.waiter
        if eio_sid not in self._flows:
            return
        token = ws_context.set(context)
        try:
            self._start_handler(handler, sock, body, ack_id, flow)
        finally:
            ws_context.reset(token)

    def _start_handler(
        self, handler: Any, sock: Socket, body: Any, ack_id: int | None, flow: _Flow | None
    ) -> None:
        """Run an async handler in a task of its own, counted in its client's flow and
        known to the shutdown drain."""
        task = start_task(handler.run(sock, body, ack_id))
        if not task.done():
            self._running[task] = (sock, ack_id)
            if flow is not None:
                flow.in_flight += 1
            task.add_done_callback(functools.partial(self._handler_done, flow=flow))

    def _handler_done(self, task: asyncio.Future[Any], flow: _Flow | None) -> None:
        self._running.pop(task, None)
        if flow is not None:
            flow.in_flight -= 1
            waiter = flow.waiter
            if waiter is not None and not waiter.done():
                flow.waiter = None
                waiter.set_result(None)

    async def _nest_disconnect(self, namespace: str, sid: str, reason: Any = None) -> None:
        sock = self.nest_sockets.pop(sid, None)
        if sock is None:
            return
        if self.nest_recovery is not None:
            self.nest_recovery.persist(sock, reason)
        sock._connected = False
        await sock._gateway.on_disconnect(sock, reason)

    # -- shutdown -----------------------------------------------------------------------

    async def drain(self, timeout: float | None = None) -> None:
        """First step of a graceful shutdown: refuse new connections and events (an event
        asking for an ack is answered ``SHUTDOWN_ERROR``), let in-flight handlers finish for
        up to *timeout* seconds (default ``drain_timeout``), then cancel those still running
        and answer their acks with ``SHUTDOWN_ERROR``: no ack is left unanswered."""
        self._draining = True
        self.eio.stop_accepting()
        timeout = self.drain_timeout if timeout is None else timeout
        running = [t for t in self._running if not t.done()]
        if not running:
            return
        _done, late = await asyncio.wait(running, timeout=timeout)
        for task in late:
            sock, ack_id = self._running.pop(task, (None, None))
            task.cancel()
            if sock is not None and ack_id is not None:
                await self.send_ack(sock, ack_id, [SHUTDOWN_ERROR])
        if late:
            await asyncio.wait(late, timeout=1.0)

    async def disconnect_all(self, timeout: float = 2.0) -> None:
        """Last step of a graceful shutdown: every client gets a server disconnect (Socket.IO
        DISCONNECT per namespace, then the Engine.IO close: a websocket close frame, or CLOSE
        to a polling client's next poll), waiting up to *timeout* s for the sessions to end."""
        self._draining = True
        # What was sent before (the drained handlers' acks) reaches the clients first, in
        # payloads of its own: python-socketio's client handles an ack and a DISCONNECT from
        # one polling payload in racing tasks, and can lose the ack.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout / 2
        sessions = self.eio.sessions
        while any(s.buffered for s in sessions.values()) and loop.time() < deadline:  # noqa: ASYNC110 - polled by clients, no event to wait on
            await asyncio.sleep(0.01)
        for sock in list(self.nest_sockets.values()):
            await self.send_to(
                sock._eio_sid,
                self.packet_class(sio_packet.DISCONNECT, namespace=sock.namespace),
            )
        await self.eio.shutdown(timeout=timeout)

    # -- sending ------------------------------------------------------------------------

    def ack_sender(self, sock: Socket, ack_id: int) -> Callable[..., Awaitable[None]]:
        """The callable an ``Ack()`` parameter receives: sends acknowledgement *ack_id* of
        *sock* once (later calls are ignored, as in Socket.IO)."""
        eio_sid = sock._eio_sid
        ns = sock.namespace
        sent = False

        def ack(*args: Any) -> asyncio.Future[None]:
            nonlocal sent
            if sent:  # Socket.IO acknowledges once; later calls are ignored
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                fut.set_result(None)
                return fut
            data = to_wire_args(args)  # an EncodeError leaves the ack unsent (answerable)
            sent = True
            # Written or queued now, in call order with the socket's other packets.
            return self.send_now(
                eio_sid, self.packet_class(sio_packet.ACK, namespace=ns, id=ack_id, data=data)
            )

        return ack

    def ack_now(self, sock: Socket, ack_id: int, args: list[Any]) -> Awaitable[None] | None:
        """``send_ack`` started synchronously: written or queued before this returns (None),
        or the awaitable of a send that is not (another client manager)."""
        if self._fast_ack:
            body: str | None = None
            if self._orjson is not None:
                try:  # noqa: SIM105 - suppress() costs a context manager per ack
                    body = self._orjson(args).decode()
                except TypeError:
                    pass
            if body is None:
                if has_binary(args):
                    return self.send_now(
                        sock._eio_sid,
                        self.packet_class(
                            sio_packet.ACK, namespace=sock.namespace, id=ack_id, data=args
                        ),
                    )
                body = self._dumps(args, separators=_SEPARATORS)
            session = self.eio.sessions.get(sock._eio_sid)
            if session is None:
                return None
            ns = sock.namespace
            session.send_packet(("43" if ns == "/" else "43" + ns + ",") + str(ack_id) + body)
            manager = self.manager
            if session.transport == "websocket":
                manager.direct_deliveries += 1
            else:
                manager.queued_deliveries += 1
            return None
        return self.send_now(
            sock._eio_sid,
            self.packet_class(sio_packet.ACK, namespace=sock.namespace, id=ack_id, data=args),
        )

    async def send_ack(self, sock: Socket, ack_id: int, args: list[Any]) -> None:
        """Acknowledge message *ack_id* of *sock* with *args*."""
        pkt = self.packet_class(sio_packet.ACK, namespace=sock.namespace, id=ack_id, data=args)
        unicast = self._nest_unicast
        if unicast is None:
            await self._send_packet(sock._eio_sid, pkt)
            return
        pending = unicast(sock._eio_sid, pkt)
        if pending is not None:
            await pending

    async def send_to(self, eio_sid: str, pkt: Any) -> None:
        """Send Socket.IO packet *pkt* to Engine.IO session *eio_sid* (one client).

        Through the client manager's unicast fast path when it has one (``FastAsyncManager``:
        encoded and framed once, written or buffered in the session's order);
        python-socketio's ``_send_packet`` otherwise.
        """
        unicast = self._nest_unicast
        if unicast is None:
            await self._send_packet(eio_sid, pkt)
            return
        pending = unicast(eio_sid, pkt)
        if pending is not None:
            await pending

    def send_now(self, eio_sid: str, pkt: Any) -> asyncio.Future[None]:
        """``send_to`` started synchronously: *pkt* is written or queued before this returns
        whenever the session is alive (so it keeps its place in the socket's order); the
        future completes when the send is done."""
        unicast = self._nest_unicast
        pending = (
            self._send_packet(eio_sid, pkt) if unicast is None else unicast(eio_sid, pkt)
        )
        if pending is None:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return asyncio.ensure_future(pending)
