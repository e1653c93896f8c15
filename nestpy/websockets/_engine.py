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
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import engineio
import socketio
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet as sio_packet

from nestpy.exceptions import BootstrapError
from nestpy.logger import Logger, ws_context
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


class Handler:
    """A compiled message handler: ``run(socket, body, ack_id)``; ``inline`` when sync."""

    __slots__ = ("inline", "run")

    def __init__(self, run: Callable[[Socket, Any, int | None], Awaitable[None]], inline: bool):
        self.run = run
        self.inline = inline


class GatewayRuntime:
    """What the server needs from a bound gateway (built by ``_binding``)."""

    __slots__ = ("accept", "handlers", "name", "namespace", "on_disconnect")

    def __init__(
        self,
        name: str,
        namespace: str | re.Pattern[str],
        handlers: dict[str, Handler],
        accept: Callable[[Socket], Awaitable[dict[str, Any] | None]],
        on_disconnect: Callable[[Socket, str | None], Awaitable[None]],
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.handlers = handlers
        self.accept = accept
        self.on_disconnect = on_disconnect


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
        accept, on_disconnect,
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


class NestEngineIOServer(engineio.AsyncServer):  # type: ignore[misc]
    """Engine.IO server using ``_NestWebSocket``."""

    def __init__(self, *args: Any, per_message_deflate: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nest_per_message_deflate = per_message_deflate
        # engineio picks its websocket class from this per-driver table.
        self.__dict__["_async"] = {**self.__dict__["_async"], "websocket": _NestWebSocket}
        self._nest_tasks: set[asyncio.Task[Any]] = set()

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

    def __init__(
        self,
        *,
        connect_timeout: float = 45.0,
        per_message_deflate: bool = False,
        **kwargs: Any,
    ) -> None:
        self._nest_deflate = per_message_deflate
        kwargs.setdefault("async_mode", "aiohttp")
        # Dispatch is ours (see module docstring); python-socketio's task-per-event is off.
        kwargs["async_handlers"] = False
        super().__init__(**kwargs)
        self.nest_sockets: dict[str, Socket] = {}
        self._exact: dict[str, GatewayRuntime] = {}
        self._patterns: list[tuple[re.Pattern[str], GatewayRuntime]] = []
        self._ns_cache: dict[str, GatewayRuntime | None] = {}
        self._connect_timeout = connect_timeout
        self._connect_timers: dict[str, asyncio.TimerHandle] = {}
        self.on("disconnect", self._nest_disconnect, namespace="*")

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
        await super()._handle_eio_disconnect(eio_sid, reason)
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
            eio_sid, self.packet_class(sio_packet.CONNECT, {"sid": sid}, namespace=namespace)
        )
        await self.manager.connect(sid, namespace)
        timer = self._connect_timers.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()
        sock.connected = True
        self.nest_sockets[sid] = sock
        await sock._flush_pending()

    async def _handle_event(
        self, eio_sid: str, namespace: str | None, id: int | None, data: list[Any]
    ) -> None:
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        sock = self.nest_sockets.get(sid) if sid is not None else None
        if sock is None:
            return  # not (or no longer) connected to this namespace
        event = data[0]
        handler = sock.gateway.handlers.get(event)
        if handler is None:
            # NestJS ignores events no handler subscribes to.
            _log.debug("no handler for event", sid=sid, namespace=namespace, event=event)
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
        sock.connected = False
        await sock.gateway.on_disconnect(sock, reason)

    async def send_ack(self, sock: Socket, ack_id: int, args: list[Any]) -> None:
        """Acknowledge message *ack_id* of *sock* with *args*."""
        await self._send_packet(
            sock._eio_sid,
            self.packet_class(sio_packet.ACK, namespace=sock.namespace, id=ack_id, data=args),
        )
