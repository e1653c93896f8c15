"""nestpy's python-socketio / python-engineio subclasses.

Only this module and ``_binding`` touch python-socketio internals. What is overridden and
why:

* ``_handle_connect``: gateway lookup (exact namespace, then regex), guards and
  ``handle_connection`` before the CONNECT packet; a refusal is a CONNECT_ERROR carrying the
  message; emits made while connecting are flushed right after CONNECT (protocol order).
* ``_handle_event``: one dict lookup to the compiled handler; sync handlers run inline, async
  ones in a task (NestJS handles a socket's messages concurrently too). python-socketio's own
  path spawns a task per event and re-inspects the handler each time.
* ``_handle_eio_connect``: Socket.IO's ``connectTimeout`` (python-socketio has none).
* the Engine.IO websocket wrapper: per-message deflate is off unless asked for (Node's
  socket.io default; aiohttp would otherwise accept every client's offer).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import engineio
import socketio
from aiohttp import web
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet

from nestpy.exceptions import BootstrapError
from nestpy.logger import Logger, ws_context
from nestpy.websockets._fanout import FastAsyncManager
from nestpy.websockets._ratelimit import RateLimit, RateLimiter
from nestpy.websockets._recovery import attach_recovery, pre_connect_as, rejoin
from nestpy.websockets.socket import Socket

__all__ = ["GatewayRuntime", "NestAsyncServer"]

_log = Logger("nestpy.websockets")

if sys.version_info >= (3, 12):

    def _spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        # Eager start: a handler that finishes without suspending never becomes a
        # scheduled task at all.
        return asyncio.Task(coro, eager_start=True)  # type: ignore[call-arg,unused-ignore]
else:
    _spawn = asyncio.ensure_future

_tasks: set[asyncio.Future[Any]] = set()


def _has_binary(data: Any) -> bool:
    """Whether *data* holds bytes anywhere (python-socketio's ``data_is_binary``, same answer)."""
    # Exact types first (JSON-shaped data almost always is): plain loops, no generator.
    t = type(data)
    if t is list:
        for item in data:  # noqa: SIM110 - any() over a generator costs twice as much
            if _has_binary(item):
                return True
        return False
    if t is dict:
        for item in data.values():  # noqa: SIM110
            if _has_binary(item):
                return True
        return False
    if t is str or t is int or t is float or t is bool or data is None:
        return False
    if isinstance(data, list):
        return any(map(_has_binary, data))
    if isinstance(data, dict):
        return any(map(_has_binary, data.values()))
    return isinstance(data, bytes | bytearray)


class _NestPacket(sio_packet.Packet):  # type: ignore[misc]
    """python-socketio's default packet class with a cheaper binary check.

    Upstream's ``data_is_binary`` builds a list and a ``functools.reduce`` over every
    container it visits, on every packet built (each ack and emit): about a tenth of the CPU of
    an ack round trip. ``_has_binary`` gives the same answer and stops at the first bytes.
    Encoding, decoding and the ``json`` hook are inherited unchanged.
    """

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        """Check if the data contains binary components."""
        return _has_binary(data)


class Handler:
    """A compiled message handler: ``run(socket, body, ack_id)``; ``inline`` when sync."""

    __slots__ = ("inline", "run")

    def __init__(self, run: Callable[[Socket, Any, int | None], Awaitable[None]], inline: bool):
        self.run = run
        self.inline = inline


class GatewayRuntime:
    """What the server needs from a bound gateway (built by ``_binding``)."""

    __slots__ = ("accept", "handlers", "name", "namespace", "on_disconnect", "unknown_event")

    def __init__(
        self,
        name: str,
        namespace: str | re.Pattern[str],
        handlers: dict[str, Handler],
        accept: Callable[[Socket], Awaitable[dict[str, Any] | None]],
        on_disconnect: Callable[[Socket, str | None], Awaitable[None]],
        unknown_event: Callable[[Socket, list[Any], int | None], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.handlers = handlers
        self.accept = accept
        self.on_disconnect = on_disconnect
        #: an event no handler subscribes to: (socket, packet data, ack id); see _binding
        self.unknown_event = unknown_event or _ignore_event


async def _ignore_event(sock: Socket, data: list[Any], ack_id: int | None) -> None:
    return None


def _merge(first: GatewayRuntime, second: GatewayRuntime) -> GatewayRuntime:
    """One runtime for two gateways on one namespace: handlers united, hooks in order
    (the first refusal wins). Duplicate events are refused at bootstrap (``_explorer``)."""
    clash = sorted(set(first.handlers) & set(second.handlers))
    if clash:
        raise BootstrapError(
            f"[gateways={first.name}, {second.name}] both handle {clash} on namespace "
            f"{first.namespace!r}; keep one handler per event and namespace"
        )

    async def accept(sock: Socket) -> dict[str, Any] | None:
        refusal = await first.accept(sock)
        return refusal if refusal is not None else await second.accept(sock)

    async def on_disconnect(sock: Socket, reason: str | None) -> None:
        await first.on_disconnect(sock, reason)
        await second.on_disconnect(sock, reason)

    return GatewayRuntime(
        f"{first.name}+{second.name}", first.namespace, {**first.handlers, **second.handlers},
        accept, on_disconnect, first.unknown_event,
    )


class _NestWebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
    """The aiohttp websocket wrapper with per-message deflate under our control."""

    async def __call__(self, environ: dict[str, Any]) -> Any:
        from aiohttp.web import WebSocketResponse

        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size,
            compress=getattr(self.server, "nest_per_message_deflate", False),
        )
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


class _ReadDeadline:
    """The websocket read timeout of one session, with one timer per session.

    Upstream bounds every single wait for a message by ``ping_interval + ping_timeout``
    (a task and a ``wait_for`` per message; ``asyncio.timeout`` would still be a timer per
    message). Here the read loop only stamps ``waiting_since`` when it starts waiting and
    clears it when a message arrived; one timer re-arms itself to the current wait's deadline
    and, once a wait has lasted the whole period, cancels the reading task (as ``wait_for``
    cancels its inner wait). ``absorb`` then undoes that cancellation, so the task carries
    no stray cancel request into the session's cleanup.
    """

    __slots__ = ("fired", "handle", "loop", "period", "task", "waiting_since")

    def __init__(self, period: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.period = period
        self.waiting_since: float | None = None
        self.fired = False
        self.handle: asyncio.TimerHandle | None = self.loop.call_at(
            self.loop.time() + period, self._check
        )

    def _check(self) -> None:
        now = self.loop.time()
        since = self.waiting_since
        if since is not None and now + _CLOCK_SLACK >= since + self.period:
            self.handle = None
            self.fired = True
            if self.task is not None:
                self.task.cancel()
            return
        # Not waiting (a message is being handled) or not for long enough: check again when
        # the current wait would time out at the earliest.
        when = (since if since is not None else now) + self.period
        self.handle = self.loop.call_at(when, self._check)

    def absorb(self) -> None:
        """After a CancelledError in the read: withdraw this deadline's own cancel request."""
        if self.fired and self.task is not None:
            self.fired = False
            uncancel = getattr(self.task, "uncancel", None)  # 3.11+; 3.10 keeps no count
            if uncancel is not None:
                uncancel()

    def stop(self) -> None:
        """Disarm the timer (the read loop is over)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


# uvloop's clock has a 1 ms resolution: a timer can fire a hair before its deadline.
_CLOCK_SLACK = 0.002


class _NestAsyncSocket(AsyncSocket):  # type: ignore[misc]
    """python-engineio's ``AsyncSocket`` with a leaner websocket read loop.

    Upstream's loop wraps every received message in a new task plus ``asyncio.wait_for``
    (to time the read out) and routes it through ``_trigger_event``, which re-inspects the
    handler each time. Here aiohttp's ``receive()`` is awaited in place and
    a MESSAGE goes to the server's cached message handler (``NestEngineIOServer``); the read
    timeout is one timer per session (``_ReadDeadline``), not one per message. The
    upgrade handshake, the writer task, the read timeout (``ping_interval + ping_timeout``),
    the size limit, the end-of-stream and close handling, and the errors each step swallows or
    lets through are upstream's (python-engineio 4.x ``AsyncSocket._websocket_handler``).
    Sessions of a ``NestEngineIOServer`` get this class when they connect.
    """

    # Set by python-engineio's BaseSocket.__init__ (untyped upstream).
    server: Any
    sid: str
    queue: asyncio.Queue[Any]
    connected: bool
    upgrading: bool
    upgraded: bool

    async def receive(self, pkt: Any) -> None:
        """Receive packet *pkt* from the client (upstream's, with MESSAGE dispatched lean)."""
        if pkt.packet_type != eio_packet.MESSAGE:
            await super().receive(pkt)
            return
        await self._message(pkt.data)

    async def _message(self, data: Any) -> None:
        """A MESSAGE packet's *data*: logged and dispatched as upstream's ``receive`` does."""
        server = self.server
        logger = server.logger
        if logger.isEnabledFor(logging.INFO):  # upstream logs every packet at INFO
            logger.info(
                "%s: Received packet %s data %s",
                self.sid,
                "MESSAGE",
                data if not isinstance(data, bytes) else "<binary>",
            )
        await server._trigger_event("message", self.sid, data, run_async=server.async_handlers)

    async def _websocket_handler(self, ws: Any) -> None:
        """Engine.IO handler for the websocket transport (see the class docstring)."""
        sock = getattr(ws, "_sock", None)
        if type(ws).wait is not eio_aiohttp.WebSocket.wait or not isinstance(
            sock, web.WebSocketResponse
        ):
            # A driver with its own wait(): upstream's loop, which calls it.
            await super()._websocket_handler(ws)
            return
        server = self.server
        max_size = server.max_http_buffer_size

        async def websocket_wait() -> Any:
            data = await ws.wait()
            if data and len(data) > max_size:
                raise ValueError("packet is too large")
            return data

        if self.connected:
            # the socket was already connected, so this is an upgrade
            self.upgrading = True  # hold packet sends during the upgrade
            try:
                pkt = await websocket_wait()
            except OSError:  # pragma: no cover
                return
            decoded_pkt = eio_packet.Packet(encoded_packet=pkt)
            if decoded_pkt.packet_type != eio_packet.PING or decoded_pkt.data != "probe":
                server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
                self.upgrading = False
                return
            await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            await self.queue.put(eio_packet.Packet(eio_packet.NOOP))  # end poll
            try:
                pkt = await websocket_wait()
            except OSError:  # pragma: no cover
                self.upgrading = False
                return
            decoded_pkt = eio_packet.Packet(encoded_packet=pkt)
            if decoded_pkt.packet_type != eio_packet.UPGRADE:
                self.upgraded = False
                server.logger.info(
                    "%s: Failed websocket upgrade, expected UPGRADE packet, "
                    "received %s instead.",
                    self.sid,
                    pkt,
                )
                self.upgrading = False
                return
            self.upgraded = True
            self.upgrading = False
        else:
            self.connected = True
            self.upgraded = True

        async def writer() -> None:
            while True:
                packets = None
                try:
                    packets = await self.poll()
                except eio_exceptions.QueueEmpty:
                    break
                if not packets:
                    # empty packet list returned -> connection closed
                    break
                try:
                    for pkt in packets:
                        await ws.send(pkt.encode())
                except BaseException:  # upstream's bare except: the writer ends
                    break
            await ws.close()

        writer_task = asyncio.ensure_future(writer())
        server.logger.info("%s: Upgrade to websocket successful", self.sid)

        receive = sock.receive
        deadline = _ReadDeadline(server.ping_interval + server.ping_timeout)
        loop_time = deadline.loop.time
        try:
            while True:
                try:
                    deadline.waiting_since = loop_time()
                    msg = await receive()
                except asyncio.CancelledError:  # upstream ends the session (no re-raise)
                    deadline.absorb()
                    break
                except BaseException:  # upstream's bare except: errors
                    break
                finally:
                    deadline.waiting_since = None
                p = msg.data
                if not isinstance(p, bytes | str):
                    # close, closing, closed or error: upstream's wait() raises OSError here
                    break
                if p and len(p) > max_size:
                    break  # "packet is too large"
                if type(p) is str and len(p) > 1 and p[0] == "4" and p[1].isnumeric():
                    # A MESSAGE carrying a Socket.IO packet (which starts with its type digit):
                    # upstream's decode keeps the text after "4" as is (it refuses numeric
                    # JSON), so no Packet object and no caught ValueError per message.
                    try:
                        await self._message(p[1:])
                    except eio_exceptions.SocketIsClosedError:  # pragma: no cover
                        server.logger.info("Receive error -- socket is closed")
                        break
                    except BaseException:  # pragma: no cover (upstream: bare except)
                        server.logger.exception("Unknown receive error")
                    continue
                pkt = eio_packet.Packet(encoded_packet=p)
                try:
                    await self.receive(pkt)
                except eio_exceptions.UnknownPacketError:  # pragma: no cover
                    pass
                except eio_exceptions.SocketIsClosedError:  # pragma: no cover
                    server.logger.info("Receive error -- socket is closed")
                    break
                except BaseException:  # pragma: no cover (upstream: bare except)
                    # if we get an unexpected exception we log the error and exit
                    # the connection properly
                    server.logger.exception("Unknown receive error")
        finally:
            # Also when a packet fails to decode, which upstream lets propagate from here.
            deadline.stop()
        await self.queue.put(None)  # unlock the writer task so it can exit
        await asyncio.wait_for(writer_task, timeout=None)
        await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


class NestEngineIOServer(engineio.AsyncServer):  # type: ignore[misc]
    """Engine.IO server using ``_NestWebSocket`` and ``_NestAsyncSocket`` sessions."""

    def __init__(self, *args: Any, per_message_deflate: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nest_per_message_deflate = per_message_deflate
        # engineio picks its websocket class from this per-driver table.
        self.__dict__["_async"] = {**self.__dict__["_async"], "websocket": _NestWebSocket}
        self._nest_tasks: set[asyncio.Task[Any]] = set()
        # The 'message' handler last seen, and whether it is a coroutine function: inspected
        # once per handler instead of once per message (see _trigger_event).
        self._nest_message: tuple[Any, bool] = (None, False)

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message" and not kwargs.get("run_async"):
            handler = self.handlers.get("message")
            cached, is_coro = self._nest_message
            if handler is not cached:
                is_coro = inspect.iscoroutinefunction(handler)
                self._nest_message = (handler, is_coro)
            if is_coro:
                # upstream's run_async_handler for this event, without the closure
                try:
                    return await handler(*args)
                except asyncio.CancelledError:
                    return None
                except BaseException:  # upstream's bare except: log, carry on
                    self.logger.exception("message async handler error")
                    return None
        elif event == "connect" and args:
            # Every session of this server gets the lean read loop; upstream creates the
            # AsyncSocket itself (no factory seam) and registers it before this event.
            socket = self.sockets.get(args[0])
            if type(socket) is AsyncSocket:
                socket.__class__ = _NestAsyncSocket
        return await super()._trigger_event(event, *args, **kwargs)

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        # Tracked so shutdown() can cancel them: each session's ping task otherwise
        # sleeps out its ping_interval (25 s) after the server is gone.
        task = super().start_background_task(target, *args, **kwargs)
        if isinstance(task, asyncio.Task) and not task.done():
            self._nest_tasks.add(task)
            task.add_done_callback(self._nest_tasks.discard)
        return task

    async def shutdown(self) -> None:
        """Stop background activity, including the sessions' pending ping tasks."""
        await super().shutdown()
        current = asyncio.current_task()
        pending = [t for t in self._nest_tasks if t is not current and not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class NestAsyncServer(socketio.AsyncServer):  # type: ignore[misc]
    """``socketio.AsyncServer`` that dispatches straight to compiled gateway handlers."""

    packet_class: type[Any]  # set by python-socketio's BaseServer.__init__

    def __init__(
        self,
        *,
        connect_timeout: float = 45.0,
        per_message_deflate: bool = False,
        connection_state_recovery: Any = None,
        rate_limit: RateLimit | None = None,
        **kwargs: Any,
    ) -> None:
        self._nest_deflate = per_message_deflate
        kwargs.setdefault("async_mode", "aiohttp")
        # Dispatch is ours (see module docstring); python-socketio's task-per-event is off.
        kwargs["async_handlers"] = False
        super().__init__(**kwargs)
        if self.packet_class is sio_packet.Packet:
            # The default serializer only (msgpack or a custom class are left alone).
            self.packet_class = _NestPacket
        self.nest_sockets: dict[str, Socket] = {}
        self._exact: dict[str, GatewayRuntime] = {}
        self._patterns: list[tuple[re.Pattern[str], GatewayRuntime]] = []
        self._ns_cache: dict[str, GatewayRuntime | None] = {}
        self._connect_timeout = connect_timeout
        self._connect_timers: dict[str, asyncio.TimerHandle] = {}
        self.on("disconnect", self._nest_disconnect, namespace="*")
        # recovery hook (cluster branch): connection state recovery, when the option is on
        self.nest_recovery = attach_recovery(self.manager, connection_state_recovery)
        # Per-socket event rate limit (gateway option; None = off): see _ratelimit.
        self._nest_limit = RateLimiter(rate_limit, self) if rate_limit is not None else None
        # Acks and Socket.emit go through the manager's unicast fast path when it has one
        # (FastAsyncManager and its pub/sub subclasses): resolved once, not per message.
        unicast = getattr(self.manager, "unicast", None)
        self._nest_unicast: Callable[[str, Any], Awaitable[None] | None] | None = (
            unicast if isinstance(self.manager, FastAsyncManager) else None
        )

    def _engineio_server_class(self) -> type:
        deflate = self._nest_deflate

        class _Eio(NestEngineIOServer):
            def __init__(self, *a: Any, **kw: Any) -> None:
                super().__init__(*a, per_message_deflate=deflate, **kw)

        return _Eio

    # -- registry ---------------------------------------------------------------------

    def add_gateway(self, runtime: GatewayRuntime) -> None:
        """Serve *runtime*'s namespace (exact name or regex) on this server.

        Several gateways may declare one namespace (as in NestJS): they are merged into one
        runtime, so every gateway's handlers and hooks serve it.
        """
        ns = runtime.namespace
        if isinstance(ns, str):
            first = self._exact.get(ns)
            self._exact[ns] = runtime if first is None else _merge(first, runtime)
        else:
            for i, (pattern, first_rt) in enumerate(self._patterns):
                if pattern == ns:
                    self._patterns[i] = (pattern, _merge(first_rt, runtime))
                    break
            else:
                self._patterns.append((ns, runtime))
        self._ns_cache.clear()

    def gateway_for(self, namespace: str) -> GatewayRuntime | None:
        """The gateway serving *namespace*: exact names first, then regexes in order."""
        try:
            return self._ns_cache[namespace]
        except KeyError:
            pass
        rt = self._exact.get(namespace)
        if rt is None:
            for pattern, candidate in self._patterns:
                if pattern.fullmatch(namespace):
                    rt = candidate
                    break
        if len(self._ns_cache) < 10_000:  # bounded: namespaces are client-chosen strings
            self._ns_cache[namespace] = rt
        return rt

    def active_namespaces(self, spec: tuple[str, ...] | re.Pattern[str]) -> tuple[str, ...]:
        """Concrete namespaces for a name tuple or a regex (active ones only)."""
        if isinstance(spec, tuple):
            return spec
        return tuple(ns for ns in list(self.manager.get_namespaces()) if spec.fullmatch(ns))

    # -- Engine.IO level ----------------------------------------------------------------

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        await super()._handle_eio_connect(eio_sid, environ)
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
        task = asyncio.ensure_future(self.close_session(eio_sid))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    async def close_session(self, eio_sid: str) -> None:
        """Close Engine.IO session *eio_sid* (every namespace on it) from the server side.

        python-engineio's ``disconnect(sid)`` waits for the session's send queue to drain;
        when the client goes away at the same moment, the writer that drains it is gone and
        that wait never ends (``disconnect(close=True)`` hung). Here the CLOSE packet is
        queued for a live writer (or a pending long-poll) and nothing waits for it.
        """
        eio_socket = self.eio.sockets.get(eio_sid)
        if eio_socket is None:
            return
        await eio_socket.close(wait=False, reason=self.eio.reason.SERVER_DISCONNECT)
        if eio_socket.upgraded:
            # After the CLOSE packet, end the writer: it then closes the websocket itself
            # (as Node's engine.io does). python-engineio would leave it open until the
            # client closes it, or for ping_interval + ping_timeout if the client never does.
            eio_socket.queue.put_nowait(None)
        self.eio.sockets.pop(eio_sid, None)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        timer = self._connect_timers.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()
        recovery = self.nest_recovery
        if recovery is not None:  # recovery hook (cluster branch): a session-level close
            recovery.engine_closing.add(eio_sid)
        try:
            await super()._handle_eio_disconnect(eio_sid, reason)
        finally:
            if recovery is not None:
                recovery.engine_closing.discard(eio_sid)
        if reason == self.eio.reason.CLIENT_DISCONNECT:
            eio_socket = self.eio.sockets.get(eio_sid)
            if (
                eio_socket is not None
                and not eio_socket.upgraded
                and getattr(eio_socket.queue, "_getters", None)  # a long-poll GET waits
            ):
                # python-engineio answers a client's CLOSE without waking the long-poll GET
                # still pending on that session, so the client's disconnect() waits ~30 s
                # for it and app.close() waits for the aiohttp shutdown timeout. Node's
                # engine.io answers the pending poll; so do we (an empty payload). Only
                # when a GET waits: an unconsumed item would hold queue.join() instead.
                eio_socket.queue.put_nowait(None)

    # -- Socket.IO level ----------------------------------------------------------------

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
        # recovery hook (cluster branch): a known pid + offset gets its sid, rooms, data back
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
        if restored is not None:  # recovery hook (cluster branch)
            rejoin(self.manager, namespace, restored)
            sock.data = restored.data if isinstance(restored.data, dict) else {}
            sock.recovered = True
        try:
            refusal = await runtime.accept(sock)
        except Exception:  # accept() turns user errors into refusals; this is a bug guard
            _log.exception("connection handler failed", sid=sid, namespace=namespace)
            refusal = {"message": "Internal server error"}
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
        sock.connected = True
        self.nest_sockets[sid] = sock
        if restored is not None:  # recovery hook (cluster branch): missed packets, in order
            for args in restored.missed:
                await self.send_to(
                    eio_sid,
                    self.packet_class(sio_packet.EVENT, namespace=namespace, data=args),
                )
        await sock._flush_pending()

    async def _handle_event(
        self, eio_sid: str, namespace: str | None, id: int | None, data: list[Any]
    ) -> None:
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        sock = self.nest_sockets.get(sid) if sid is not None else None
        if sock is None:
            return  # not (or no longer) connected to this namespace
        if self._nest_limit is not None and (refused := self._nest_limit.check(sock, id)):
            await refused
            return
        event = data[0]
        handler = sock.gateway.handlers.get(event)
        if handler is None:
            # NestJS ignores events no handler subscribes to; an ack is answered (_binding).
            await sock.gateway.unknown_event(sock, data, id)
            return
        n = len(data)
        # NestJS's rule: one argument is the body; several are the list of them.
        body = data[1] if n == 2 else (None if n == 1 else data[1:])
        token = ws_context.set((sid, namespace, event))
        try:
            if handler.inline:
                await handler.run(sock, body, id)
            else:
                task = _spawn(handler.run(sock, body, id))
                if not task.done():
                    _tasks.add(task)
                    task.add_done_callback(_tasks.discard)
        finally:
            ws_context.reset(token)

    async def _nest_disconnect(self, namespace: str, sid: str, reason: Any = None) -> None:
        sock = self.nest_sockets.pop(sid, None)
        if sock is None:
            return
        if self.nest_recovery is not None:  # recovery hook (cluster branch)
            self.nest_recovery.persist(sock, reason)
        sock.connected = False
        await sock.gateway.on_disconnect(sock, reason)

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
        encoded and framed once, written directly when the socket's writer is idle, ordered
        with broadcasts); python-socketio's ``_send_packet`` otherwise.
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
