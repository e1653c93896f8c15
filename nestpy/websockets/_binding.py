"""Compile a gateway into a ``GatewayRuntime``: per-handler pipelines built once.

Per message the compiled ``run(socket, body, ack_id)`` does only what the handler asked
for at bootstrap: no signature inspection, no metadata lookup, no empty pipeline stage.
Order (NestJS): guards → interceptors (before) → pipes → handler → interceptors (after);
exception filters on any error (method, then class, then global; first ``@Catch`` match).
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pydantic

from nestpy._di.scopes import PerRequest, end_request, request_scope_key
from nestpy._pipeline.encoding import NATIVE_TYPES, encoder_for, to_wire, to_wire_args
from nestpy._pipeline.enhancers import catch_types
from nestpy._pipeline.params import ParamKind, ParamSpec
from nestpy._pipeline.throttle import ThrottleGuard
from nestpy._pipeline.validation import build_validator, format_errors
from nestpy.common.context import ExecutionContext
from nestpy.common.filters import INTERNAL_ERROR, error_payload
from nestpy.common.interfaces import ArgumentMetadata
from nestpy.common.pipes import ValidationPipe
from nestpy.exceptions import BootstrapError
from nestpy.logger import Logger
from nestpy.websockets._explorer import GatewayDefinition, HandlerDefinition
from nestpy.websockets._runtime import GatewayRuntime, Handler
from nestpy.websockets.exceptions import WsException
from nestpy.websockets.responses import WsResponse
from nestpy.websockets.socket import Socket

__all__ = ["ArgumentMetadata", "Enhancers", "GatewayHost", "base_error_payload", "bind_gateway"]

_log = Logger("nestpy.websockets")

FORBIDDEN = "Forbidden resource"

#: NestJS 11 ``BaseWsExceptionFilter`` payload (kept under its first name).
base_error_payload = error_payload


class GatewayHost(Protocol):
    """What compiled handlers need from the server they are bound to: Socket.IO's
    ``NestAsyncServer`` or a plain-WebSocket ``WsHost``. A host may also define
    ``send_error(client, ack_id, payload, silent)`` (one error frame instead of an
    ``exception`` emit plus an ack), ``reply_each_item`` (every item of an async generator
    is a reply) and ``passes_request`` (``handle_connection(client, client.request)``)."""

    async def send_ack(self, sock: Any, ack_id: Any, args: list[Any]) -> None: ...

    def add_gateway(self, runtime: GatewayRuntime) -> None: ...


@dataclass(frozen=True, slots=True)
class Enhancers:
    """Resolved enhancer instances for one handler, already in execution order."""

    guards: tuple[Any, ...] = ()
    interceptors: tuple[Any, ...] = ()
    pipes: tuple[Any, ...] = ()
    filters: tuple[Any, ...] = ()  # method → class → global
    #: per handler parameter, the instances of its ``MessageBody(key, *pipes)`` pipes
    param_pipes: tuple[tuple[Any, ...], ...] = ()


def _maybe_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - a callable object with async __call__
    )


# ----------------------------------------------------------------------------- arguments


def _body_getter(spec: ParamSpec) -> Callable[[Any], Any]:
    key = spec.key
    if key is None:
        return lambda body: body

    def get(body: Any) -> Any:
        return body.get(key) if isinstance(body, dict) else None

    return get


def _validating(spec: ParamSpec) -> Callable[[Any], Any] | None:
    validator = build_validator(spec.annotation)
    if validator is None:
        return None
    prefix = spec.key

    def validate(value: Any) -> Any:
        try:
            return validator(value)
        except pydantic.ValidationError as exc:
            raise WsException(format_errors(exc, prefix)) from None

    return validate


ArgBuilder = Callable[[Socket, Any, Any], Any]


def _body_param(
    get: Callable[[Any], Any], validate: Callable[[Any], Any] | None
) -> Callable[[Socket, Any, Any], Any]:
    if validate is None:
        return lambda s, b, a: get(b)
    return lambda s, b, a: validate(get(b))


Injectors = dict[str, Callable[[Socket], Any]]


def _inject_param(get: Callable[[Socket], Any]) -> Callable[[Socket, Any, Any], Any]:
    return lambda s, b, a: get(s)


def _sync_args(
    params: Sequence[ParamSpec], injectors: Injectors | None = None
) -> Callable[[Socket, Any, Any], tuple[Any, ...]]:
    """Arguments without pipes: specialised for the common shapes."""
    getters: list[Callable[[Socket, Any, Any], Any]] = []
    for spec in params:
        if spec.kind is ParamKind.SOCKET:
            getters.append(lambda s, b, a: s)
        elif spec.kind is ParamKind.ACK:
            getters.append(lambda s, b, a: a)
        elif spec.kind is ParamKind.INJECT:
            assert injectors is not None
            getters.append(_inject_param(injectors[spec.name]))
        else:
            get = _body_getter(spec)
            validate = _validating(spec)
            if validate is None and spec.key is None:
                getters.append(lambda s, b, a: b)
            else:
                getters.append(_body_param(get, validate))
    kinds = tuple(
        (
            p.kind,
            p.kind is not ParamKind.BODY
            or (p.key is None and build_validator(p.annotation) is None),
        )
        for p in params
    )
    if not getters:
        return lambda s, b, a: ()
    if kinds == ((ParamKind.BODY, True),):
        return lambda s, b, a: (b,)
    if kinds == ((ParamKind.SOCKET, True),) or kinds == ((ParamKind.SOCKET, False),):
        return lambda s, b, a: (s,)
    if len(getters) == 2 and kinds[0][0] is ParamKind.SOCKET and kinds[1] == (ParamKind.BODY, True):
        return lambda s, b, a: (s, b)
    if len(getters) == 2 and kinds[1][0] is ParamKind.SOCKET and kinds[0] == (ParamKind.BODY, True):
        return lambda s, b, a: (b, s)
    if len(getters) == 1:  # e.g. one validated body: no generator per message
        g0 = getters[0]
        return lambda s, b, a: (g0(s, b, a),)
    if len(getters) == 2:
        g0, g1 = getters
        return lambda s, b, a: (g0(s, b, a), g1(s, b, a))
    frozen = tuple(getters)
    return lambda s, b, a: tuple(g(s, b, a) for g in frozen)


def _pipe_instance(pipe: Any) -> Any:
    # Enhancers built without DI (tests, hand-made records): a pipe class needs no arguments.
    return pipe() if isinstance(pipe, type) else pipe


def _piped_args(
    params: Sequence[ParamSpec],
    shared_pipes: tuple[Any, ...],
    param_pipes: tuple[tuple[Any, ...], ...],
    injectors: Injectors | None = None,
) -> tuple[Callable[[Socket, Any, Any], Any], bool]:
    """Arguments with pipes: global/class/method pipes, then the parameter's own, then
    the implicit type validation (so ``DefaultValuePipe`` can fill a value first). A
    ``ValidationPipe`` among them replaces the implicit validation (validated once).

    Returns the builder and whether it is async (some pipe's ``transform`` is ``async
    def``); with sync pipes only, building the arguments awaits nothing.
    """
    plans: list[tuple[ParamKind, Callable[[Any], Any], tuple[Any, ...], Any]] = []
    any_async = False
    for index, spec in enumerate(params):
        if spec.kind is ParamKind.INJECT:
            assert injectors is not None
            plans.append((spec.kind, _body_getter(spec), (), injectors[spec.name]))
            continue
        if spec.kind is not ParamKind.BODY:
            plans.append((spec.kind, _body_getter(spec), (), None))
            continue
        meta = ArgumentMetadata("body", spec.annotation, spec.key)
        own = param_pipes[index] if index < len(param_pipes) else tuple(
            _pipe_instance(p) for p in spec.pipes
        )
        pipes = (*shared_pipes, *own)
        steps = tuple((p.transform, _maybe_async(p.transform)) for p in pipes)
        any_async = any_async or any(is_async for _, is_async in steps)
        explicit = any(
            isinstance(p, ValidationPipe) and p.validates(spec.annotation) for p in pipes
        )
        validate = None if explicit else _validating(spec)
        plans.append((spec.kind, _body_getter(spec), steps, (meta, validate)))

    async def build_async(s: Socket, b: Any, a: Any) -> tuple[Any, ...]:
        out: list[Any] = []
        for kind, get, steps, extra in plans:
            if kind is ParamKind.SOCKET:
                out.append(s)
                continue
            if kind is ParamKind.ACK:
                out.append(a)
                continue
            if kind is ParamKind.INJECT:
                out.append(extra(s))
                continue
            meta, validate = extra
            value = get(b)
            for fn, is_async in steps:
                value = fn(value, meta)
                if is_async or hasattr(value, "__await__"):
                    value = await value
            if validate is not None:
                value = validate(value)
            out.append(value)
        return tuple(out)

    def build_sync(s: Socket, b: Any, a: Any) -> tuple[Any, ...]:
        out: list[Any] = []
        for kind, get, steps, extra in plans:
            if kind is ParamKind.SOCKET:
                out.append(s)
                continue
            if kind is ParamKind.ACK:
                out.append(a)
                continue
            if kind is ParamKind.INJECT:
                out.append(extra(s))
                continue
            meta, validate = extra
            value = get(b)
            for fn, _ in steps:
                value = fn(value, meta)
                if hasattr(value, "__await__"):
                    close = getattr(value, "close", None)
                    if close is not None:
                        close()  # no "coroutine was never awaited" warning
                    raise TypeError(
                        f"pipe {getattr(fn, '__qualname__', fn)} returned an awaitable from a "
                        "plain def transform(); declare it async def"
                    )
            if validate is not None:
                value = validate(value)
            out.append(value)
        return tuple(out)

    return (build_async, True) if any_async else (build_sync, False)


# ----------------------------------------------------------------------------- handlers

_UNSET: Any = object()
_CoroutineType = types.CoroutineType
_background_tasks: set[asyncio.Future[Any]] = set()


def _background(coro: Any) -> None:
    task = asyncio.ensure_future(coro)
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)


def _compile_handler(
    instance: Any,
    definition: GatewayDefinition,
    hdef: HandlerDefinition,
    server: GatewayHost,
    enh: Enhancers,
    include_cause: bool,
    injectors: Injectors | None = None,
) -> Handler:
    cls = definition.cls
    event = hdef.event
    sig = hdef.signature
    bound = getattr(instance, hdef.name)
    is_async = sig.is_async
    is_gen = sig.is_async_gen
    uses_ack = sig.uses_ack
    send_ack = server.send_ack
    send_error = getattr(server, "send_error", None)
    reply_each = bool(getattr(server, "reply_each_item", False))
    fn_ref = hdef.function

    has_pipes = bool(enh.pipes) or any(enh.param_pipes) or (
        not enh.param_pipes and any(p.pipes for p in sig.params)
    )
    async_args: Callable[[Socket, Any, Any], Awaitable[tuple[Any, ...]]] | None = None
    sync_args: Callable[[Socket, Any, Any], tuple[Any, ...]] | None = None
    if has_pipes:
        # DESIGN: pipes also run for the no-marker (client, data) form.
        builder, pipes_async = _piped_args(sig.params, enh.pipes, enh.param_pipes, injectors)
        if pipes_async:
            async_args = builder
        else:
            sync_args = builder
    else:
        sync_args = _sync_args(sig.params, injectors)

    guards = tuple((g.can_activate, _maybe_async(g.can_activate)) for g in enh.guards)
    interceptors = tuple(_async_intercept(i.intercept) for i in enh.interceptors)
    filters = tuple((f.catch, catch_types(f), type(f).__qualname__) for f in enh.filters)
    #: chosen once from the return annotation (a model → a prebuilt serializer)
    encode = encoder_for(sig.returns)
    native = NATIVE_TYPES if encode is to_wire else frozenset()
    handler_name = f"{cls.__qualname__}.{hdef.name}"

    async def respond(sock: Socket, result: Any, ack_id: int | None, stream: bool) -> None:
        if stream:
            acked = False
            async for item in result:
                if isinstance(item, WsResponse):
                    await sock.emit(item.event, item.data)
                elif (item is not None and ack_id is not None and not uses_ack
                      and (reply_each or not acked)):
                    acked = True  # NestJS: a non-event value acknowledges (once)
                    await send_ack(
                        sock, ack_id, to_wire_args(item) if type(item) is tuple else [to_wire(item)]
                    )
            if ack_id is not None and not acked and not uses_ack:
                await send_ack(sock, ack_id, [])
            return
        if isinstance(result, WsResponse):
            await sock.emit(result.event, result.data)
            if ack_id is not None and not uses_ack:
                await send_ack(sock, ack_id, [])  # never leave an ack-waiting client hanging
            return
        if ack_id is not None and not uses_ack:
            if result is None:
                await send_ack(sock, ack_id, [])
            elif type(result) is tuple:
                await send_ack(sock, ack_id, to_wire_args(result))
            else:
                # Encoded before anything is sent: an EncodeError still answers the ack.
                # JSON types skip the encoder call (no annotation: the hot path).
                await send_ack(
                    sock, ack_id, [result if type(result) in native else encode(result)]
                )

    async def on_error(
        exc: Exception, sock: Socket, body: Any, ack_id: int | None, ctx: ExecutionContext | None
    ) -> None:
        answer: Any = _UNSET
        if filters:
            # Built lazily: a handler with filters only pays for a context when it fails.
            host = ctx if ctx is not None else ExecutionContext(cls, fn_ref, sock, body, event)
            for catch, types, name in filters:
                if types and not isinstance(exc, types):
                    continue
                try:
                    r = catch(exc, host)
                    if inspect.isawaitable(r):
                        r = await r
                    answer = r
                except Exception:
                    # An error inside a filter falls back to the base filter.
                    _log.exception("exception filter failed; using the base filter",
                                   filter=name, gateway=cls.__qualname__)
                break
        payload: Any = _UNSET
        if answer is _UNSET:
            if isinstance(exc, WsException):
                _log.debug("handler raised WsException", error=str(exc))
            else:
                _log.exception(
                    "unhandled error in handler", gateway=cls.__qualname__, handler=handler_name,
                    error=f"{type(exc).__name__}: {exc}",
                )
            payload = error_payload(exc, event, body, include_cause)
            if send_error is not None:
                await send_error(sock, ack_id, payload, False)
                return
            if sock.connected:
                await sock.emit("exception", payload)
        elif send_error is not None:
            fallback = answer if answer is not None else error_payload(
                exc, event, body, include_cause)
            await send_error(sock, ack_id, fallback, answer is None)
            return
        if ack_id is not None and sock.connected:
            if answer is not _UNSET and answer is not None:
                try:
                    payload = to_wire(answer)
                except TypeError:
                    _log.error("exception filter returned an unencodable value; using the "
                               "base payload", gateway=cls.__qualname__, handler=handler_name,
                               type=type(answer).__qualname__)
                    payload = error_payload(exc, event, body, include_cause)
            elif payload is _UNSET:
                payload = error_payload(exc, event, body, include_cause)
            await send_ack(sock, ack_id, [payload])

    if not guards and not interceptors and sync_args is not None:
        # The fast path: no guards, interceptors or async pipes. Filters cost nothing until
        # an error: no context is allocated and nothing extra is awaited per message.
        build = sync_args

        if is_async:

            async def run(sock: Socket, body: Any, ack_id: int | None) -> None:
                try:
                    result = await bound(*build(sock, body, _ack_for(sock, ack_id, uses_ack)))
                    if ack_id is not None or isinstance(result, WsResponse):
                        await respond(sock, result, ack_id, False)
                except Exception as exc:
                    await on_error(exc, sock, body, ack_id, None)

        else:

            async def finish(result: Any, sock: Socket, body: Any, ack_id: int | None) -> None:
                # A plain def that returned a coroutine (``return self.service.save(...)``):
                # awaited as the user meant, off the socket's read loop.
                try:
                    result = await result
                    if ack_id is not None or isinstance(result, WsResponse):
                        await respond(sock, result, ack_id, False)
                except Exception as exc:
                    await on_error(exc, sock, body, ack_id, None)

            async def run(sock: Socket, body: Any, ack_id: int | None) -> None:
                try:
                    result = bound(*build(sock, body, _ack_for(sock, ack_id, uses_ack)))
                    if is_gen:
                        await respond(sock, result, ack_id, True)
                        return
                    if type(result) is _CoroutineType:
                        _background(finish(result, sock, body, ack_id))
                        return
                    if ack_id is not None or isinstance(result, WsResponse):
                        await respond(sock, result, ack_id, False)
                except Exception as exc:
                    await on_error(exc, sock, body, ack_id, None)

        return Handler(run, inline=not is_async and not is_gen)

    async def invoke(sock: Socket, body: Any, ack: Any) -> Any:
        if async_args is not None:
            args = await async_args(sock, body, ack)
        else:
            assert sync_args is not None
            args = sync_args(sock, body, ack)
        result = bound(*args)
        if is_async or type(result) is _CoroutineType:
            result = await result
        return result

    n_icp = len(interceptors)

    def chain(ctx: ExecutionContext, sock: Socket, body: Any, ack: Any) -> Awaitable[Any]:
        # Outermost first; each call_next returns the awaitable of the rest of the chain
        # (NestJS's order). No coroutine of our own per layer.
        def call(i: int) -> Awaitable[Any]:
            if i == n_icp:
                return invoke(sock, body, ack)
            return interceptors[i](ctx, lambda: call(i + 1))  # type: ignore[no-any-return]

        return call(0)

    async def run_full(sock: Socket, body: Any, ack_id: int | None) -> None:
        ctx = ExecutionContext(cls, fn_ref, sock, body, event)
        ack = _ack_for(sock, ack_id, uses_ack)
        try:
            for can_activate, is_async_guard in guards:
                ok = can_activate(ctx)
                if is_async_guard or (type(ok) is not bool and hasattr(ok, "__await__")):
                    ok = await ok
                if not ok:
                    raise WsException(FORBIDDEN)
            if n_icp:
                result = await chain(ctx, sock, body, ack)
                # An interceptor may turn a stream into a value or a value into a stream.
                stream = hasattr(type(result), "__aiter__")
            else:
                result = await invoke(sock, body, ack)
                stream = is_gen
            if stream:
                await respond(sock, result, ack_id, True)
            elif ack_id is not None or isinstance(result, WsResponse):
                await respond(sock, result, ack_id, False)
        except Exception as exc:
            await on_error(exc, sock, body, ack_id, ctx)

    return Handler(run_full, inline=False)


def _per_request(*groups: Sequence[Any]) -> bool:
    return any(isinstance(e, PerRequest) for group in groups for e in group)


def _with_socket_key(
    run: Callable[[Socket, Any, int | None], Awaitable[None]],
) -> Callable[[Socket, Any, int | None], Awaitable[None]]:
    """*run* with the socket as the request key (request-scoped enhancers resolve per socket;
    a task spawned inside inherits the key)."""

    async def keyed(sock: Socket, body: Any, ack_id: int | None) -> None:
        token = request_scope_key.set(sock)
        try:
            await run(sock, body, ack_id)
        finally:
            request_scope_key.reset(token)

    return keyed


def _socket_scoped(get: Callable[[], Any]) -> Callable[[Socket], Any]:
    """*get* run with *sock* as the request key (``Scope.REQUEST`` = one per socket)."""
    set_key = request_scope_key.set
    reset_key = request_scope_key.reset

    def inject(sock: Socket) -> Any:
        token = set_key(sock)
        try:
            return get()
        finally:
            reset_key(token)

    return inject


def _async_intercept(fn: Callable[..., Any]) -> Callable[..., Any]:
    """*fn* itself when it is ``async def``; otherwise wrapped so that it always returns an
    awaitable (a plain ``def intercept`` may return ``call_next()`` or a value)."""
    if _maybe_async(fn):
        return fn

    async def adapted(context: ExecutionContext, call_next: Callable[[], Any]) -> Any:
        r = fn(context, call_next)
        return (await r) if hasattr(r, "__await__") else r

    return adapted


def _noop_ack(*args: Any) -> Awaitable[None]:
    # The client asked for no ack: acknowledging does nothing, but stays awaitable like the
    # real sender (``await ack(...)`` in a handler must work either way).
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.set_result(None)
    return fut


def _ack_for(sock: Socket, ack_id: int | None, uses_ack: bool) -> Any:
    if not uses_ack:
        return None
    return sock.ack_sender(ack_id) if ack_id is not None else _noop_ack


# ----------------------------------------------------------------------------- gateway


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
                spec.name: _socket_scoped(resolve(spec.token, cls)) for spec in h.signature.injects
            }
        enh = handler_enhancers.get(h.event, Enhancers())
        handler = _compile_handler(instance, definition, h, server, enh, include_cause, injectors)
        if _per_request(enh.guards, enh.interceptors, enh.pipes, enh.filters,
                        *enh.param_pipes):
            # An enhancer depends on a Scope.REQUEST provider: the socket is the request
            # for the whole pipeline of this handler (only this handler pays for it).
            per_socket = True
            handler = Handler(_with_socket_key(handler.run), handler.inline)
        handlers[h.event] = handler
    guards = tuple((g.can_activate, _maybe_async(g.can_activate)) for g in connection_guards)
    keyed_guards = _per_request(connection_guards)
    per_socket = per_socket or keyed_guards
    conn = instance.handle_connection if definition.has_connection else None
    conn_fn = getattr(cls, "handle_connection", None) if definition.has_connection else None
    # Plain WebSocket: handle_connection(client, request), as NestJS's WsAdapter calls it.
    with_request = (conn is not None and bool(getattr(server, "passes_request", False))
                    and _accepts_reason(conn))
    disc = instance.handle_disconnect if definition.has_disconnect else None
    disc_reason = _accepts_reason(disc) if disc is not None else False

    async def accept(sock: Socket) -> dict[str, Any] | None:
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

    async def on_disconnect(sock: Socket, reason: str | None) -> None:
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

    async def unknown_event(sock: Socket, data: list[Any], ack_id: int | None) -> None:
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

    async def _run_raw(fn: Any, sock: Socket, data: list[Any], ack_id: int | None) -> None:
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
