"""Bind a gateway: compile its handlers (``nestpy._pipeline.compiler``) and wire what the
pipeline does not cover — the connection (``server.use()`` middleware, class guards on the
handshake, ``handle_connection``; a refusal becomes Socket.IO's CONNECT_ERROR payload), the
disconnection (``handle_disconnect``, per-client scopes and throttles released) and events no
handler takes (``server.raw.on`` handlers, else an ``Unknown event`` ack). The result is a
``GatewayRuntime`` registered on the host: ``NestAsyncServer`` or a plain ``WsHost``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol

from nestpy._di.scopes import end_request, request_scope_key
from nestpy._pipeline.arguments import Injectors, maybe_async
from nestpy._pipeline.client import PipelineHost
from nestpy._pipeline.compiler import (
    FORBIDDEN,
    Enhancers,
    Handler,
    client_scoped,
    compile_handler,
    per_request,
    with_client_key,
)
from nestpy._pipeline.encoding import to_wire, to_wire_args
from nestpy._pipeline.throttle import ThrottleGuard
from nestpy.common.context import ExecutionContext
from nestpy.common.exceptions import WsException
from nestpy.common.filters import INTERNAL_ERROR, error_payload
from nestpy.exceptions import BootstrapError
from nestpy.logger import Logger
from nestpy.websockets._explorer import GatewayDefinition
from nestpy.websockets._runtime import GatewayRuntime

__all__ = ["GatewayHost", "bind_gateway"]

_log = Logger("nestpy.websockets")


class GatewayHost(PipelineHost, Protocol):
    """A server gateways are bound to (Socket.IO's ``NestAsyncServer`` or a plain-WebSocket
    ``WsHost``): the pipeline's host, plus where the runtime goes. A host may also define
    ``passes_request`` (``handle_connection(client, client.request)``) and ``handlers``
    (python-socketio's raw handler table, for ``server.raw.on``)."""

    def add_gateway(self, runtime: GatewayRuntime) -> None:
        """Serve *runtime* (its namespace or path)."""
        ...


def _accepts_reason(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 2


def bind_gateway(
    instance: Any,
    definition: GatewayDefinition,
    server: GatewayHost,
    handler_enhancers: dict[str, Enhancers],
    connection_guards: tuple[Any, ...],
    include_cause: bool = True,
    middleware: list[Any] | None = None,
    resolve: Callable[[Any, Any], Callable[[], Any]] | None = None,
) -> GatewayRuntime:
    """Compile *instance*'s handlers and hooks and register them on *server*.

    *middleware* is the gateway ``Server``'s ``use()`` list, read at each connection (it
    is filled in ``after_init``, after this runs).
    """
    mws: list[Any] = middleware if middleware is not None else []
    cls = definition.cls
    # Inject() parameters: resolved with the socket as the request key, so a Scope.REQUEST
    # provider is one instance per connected socket (NestJS 12's per-client context),
    # dropped at disconnect. Handlers without Inject() parameters pay nothing.
    per_socket = False
    handlers: dict[str, Handler] = {}
    for h in definition.handlers:
        injectors: Injectors | None = None
        if h.signature.injects:
            if resolve is None:
                raise BootstrapError(
                    f"[gateway={cls.__qualname__}, handler={h.name}] Inject() parameters need "
                    "the DI container; bind the gateway through NestFactory.create"
                )
            per_socket = True
            injectors = {
                spec.name: client_scoped(resolve(spec.token, cls)) for spec in h.signature.injects
            }
        enh = handler_enhancers.get(h.event, Enhancers())
        handler = compile_handler(instance, cls, h, server, enh, include_cause, injectors)
        if per_request(enh.guards, enh.interceptors, enh.pipes, enh.filters,
                        *enh.param_pipes):
            # An enhancer depends on a Scope.REQUEST provider: the socket is the request
            # for the whole pipeline of this handler (only this handler pays for it).
            per_socket = True
            handler = Handler(with_client_key(handler.run), handler.inline)
        handlers[h.event] = handler
    guards = tuple((g.can_activate, maybe_async(g.can_activate)) for g in connection_guards)
    keyed_guards = per_request(connection_guards)
    per_socket = per_socket or keyed_guards
    conn = instance.handle_connection if definition.has_connection else None
    conn_fn = getattr(cls, "handle_connection", None) if definition.has_connection else None
    # Plain WebSocket: handle_connection(client, request), as NestJS's WsAdapter calls it.
    with_request = (conn is not None and bool(getattr(server, "passes_request", False))
                    and _accepts_reason(conn))
    disc = instance.handle_disconnect if definition.has_disconnect else None
    disc_reason = _accepts_reason(disc) if disc is not None else False

    async def accept(sock: Any) -> dict[str, Any] | None:
        try:
            # Connection state recovery: a recovered connection skips middleware and guards
            # (socket.io's skipMiddlewares); handle_connection still runs.
            skip = False
            if getattr(sock, "recovered", False):  # plain WebSocket clients never recover
                recovery = getattr(sock.server, "nest_recovery", None)
                skip = recovery is not None and recovery.skip_middlewares
            if mws and not skip:
                # server.use(): before class guards and handle_connection (DESIGN.md).
                for mw in mws:
                    r = mw(sock)
                    if inspect.isawaitable(r):
                        r = await r
                    if r is False:
                        return {"message": "Connection rejected by middleware"}
            if guards and not skip:
                # NestJS skips class guards on the handshake; we run them (DESIGN.md "Pipeline").
                ctx = ExecutionContext(cls, conn_fn, sock, sock.handshake.auth, "connection")
                key = request_scope_key.set(sock) if keyed_guards else None
                try:
                    for can_activate, is_async_guard in guards:
                        ok = can_activate(ctx)
                        if is_async_guard or inspect.isawaitable(ok):
                            ok = await ok
                        if not ok:
                            return {"message": FORBIDDEN}
                finally:
                    if key is not None:
                        request_scope_key.reset(key)
            if conn is not None:
                r = conn(sock, getattr(sock, "request", None)) if with_request else conn(sock)
                if inspect.isawaitable(r):
                    r = await r
                if r is False:
                    return {"message": "Connection rejected by server"}
        except WsException as exc:
            err = exc.get_error()
            if isinstance(err, dict):
                return {"message": str(err.get("message", "Connection refused")), "data": err}
            return {"message": err if isinstance(err, str) else str(err)}
        except Exception:
            _log.exception("handle_connection failed", gateway=cls.__qualname__, sid=sock.id)
            return {"message": INTERNAL_ERROR}
        return None

    throttlers = tuple(
        g for e in handler_enhancers.values() for g in e.guards if isinstance(g, ThrottleGuard)
    )

    async def on_disconnect(sock: Any, reason: str | None) -> None:
        for throttler in throttlers:
            throttler.release(sock.id)
        if per_socket:
            end_request(sock)  # this socket's Scope.REQUEST instances go with it
        if disc is None:
            return
        try:
            r = disc(sock, reason) if disc_reason else disc(sock)
            if inspect.isawaitable(r):
                await r
        except Exception:
            _log.exception("handle_disconnect failed", gateway=cls.__qualname__, sid=sock.id)

    async def unknown_event(sock: Any, data: list[Any], ack_id: Any) -> None:
        event = data[0]
        # python-socketio's raw handler table (server.raw.on); plain hosts have none.
        table: dict[str, dict[str, Any]] = getattr(server, "handlers", None) or {}
        raw = table.get(sock.namespace)
        raw_handler = raw.get(event) if raw else None
        if raw_handler is not None:
            # server.raw.on(event, fn): python-socketio's calling convention, fn(sid, *args);
            # its return value is the ack. Only events no gateway handler takes get here.
            await _run_raw(raw_handler, sock, data, ack_id)
            return
        # NestJS ignores events no handler subscribes to; nestpy answers a waiting ack.
        _log.debug("no handler for event", sid=sock.id, namespace=sock.namespace, event=event)
        if ack_id is not None and sock.connected:
            n = len(data)
            body = data[1] if n == 2 else (None if n == 1 else data[1:])
            await send_ack(sock, ack_id, [error_payload(
                WsException(f"Unknown event '{event}'"), str(event), body, include_cause
            )])

    send_ack = server.send_ack

    async def _run_raw(fn: Any, sock: Any, data: list[Any], ack_id: Any) -> None:
        try:
            r = fn(sock.id, *data[1:])
            if inspect.isawaitable(r):
                r = await r
            if ack_id is not None:
                await send_ack(
                    sock, ack_id,
                    [] if r is None else (to_wire_args(r) if type(r) is tuple else [to_wire(r)]),
                )
        except Exception as exc:
            _log.exception("server.raw handler failed", gateway=cls.__qualname__,
                           error=f"{type(exc).__name__}: {exc}")
            if ack_id is not None and sock.connected:
                await send_ack(sock, ack_id, [error_payload(exc, str(data[0]), None,
                                                            include_cause)])

    runtime = GatewayRuntime(cls.__qualname__, definition.options.namespace, handlers, accept,
                             on_disconnect, unknown_event)
    server.add_gateway(runtime)
    return runtime
