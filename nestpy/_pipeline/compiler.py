"""Compile one handler into a ``Handler``: its pipeline built once, at bootstrap.

Per message the compiled ``run(client, body, ack_id)`` does only what the handler asked
for: no signature inspection, no metadata lookup, no empty pipeline stage.
Order (NestJS): guards → interceptors (before) → pipes → handler → interceptors (after);
exception filters on any error (method, then class, then global; first ``@Catch`` match).

Transport-neutral: it is typed against ``Client`` and ``PipelineHost``
(``nestpy._pipeline.client``). What a reply is on the wire is the host's (``send_ack``,
``send_error``); Socket.IO and plain WebSocket gateways compile through this one module.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nestpy._di.scopes import PerRequest, request_scope_key
from nestpy._pipeline import arguments
from nestpy._pipeline.arguments import Injectors, maybe_async
from nestpy._pipeline.client import Client, PipelineHost
from nestpy._pipeline.encoding import NATIVE_TYPES, encoder_for, to_wire, to_wire_args
from nestpy._pipeline.enhancers import catch_types
from nestpy._pipeline.params import HandlerDefinition
from nestpy.common.context import ExecutionContext
from nestpy.common.exceptions import WsException
from nestpy.common.filters import error_payload
from nestpy.common.responses import WsResponse
from nestpy.logger import Logger

__all__ = [
    "FORBIDDEN",
    "Enhancers",
    "Handler",
    "Run",
    "RunNow",
    "async_intercept",
    "client_scoped",
    "compile_handler",
    "per_request",
    "with_client_key",
]

_log = Logger("nestpy.websockets")

#: The refusal of a guard that returned False.
FORBIDDEN = "Forbidden resource"

#: A compiled handler: ``run(client, body, ack_id)``.
Run = Callable[[Any, Any, Any], Awaitable[None]]
#: A compiled handler started synchronously: ``now(client, body, ack_id)`` returns None when
#: it finished (its ack written or queued), or an awaitable of the rest.
RunNow = Callable[[Any, Any, Any], Awaitable[None] | None]


class Handler:
    """A compiled message handler: ``run(client, body, ack_id)``; ``inline`` when sync.

    ``now`` is the same handler without a coroutine per message, for a sync handler on the
    fast path (no guards, interceptors or async pipes) whose host can acknowledge
    synchronously (``ack_now``); None otherwise.
    """

    __slots__ = ("inline", "now", "run")

    def __init__(self, run: Run, inline: bool, now: RunNow | None = None):
        self.run = run
        self.inline = inline
        self.now = now


@dataclass(frozen=True, slots=True)
class Enhancers:
    """Resolved enhancer instances for one handler, already in execution order."""

    guards: tuple[Any, ...] = ()
    interceptors: tuple[Any, ...] = ()
    pipes: tuple[Any, ...] = ()
    filters: tuple[Any, ...] = ()  # method → class → global
    #: per handler parameter, the instances of its ``MessageBody(key, *pipes)`` pipes
    param_pipes: tuple[tuple[Any, ...], ...] = ()



_UNSET: Any = object()
_CoroutineType = types.CoroutineType
_background_tasks: set[asyncio.Future[Any]] = set()


def _background(coro: Any) -> None:
    task = asyncio.ensure_future(coro)
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)


def compile_handler(
    instance: Any,
    cls: type,
    hdef: HandlerDefinition,
    server: PipelineHost,
    enh: Enhancers,
    include_cause: bool,
    injectors: Injectors | None = None,
) -> Handler:
    """Compile *hdef* of gateway *cls* (bound on *instance*) with its enhancers *enh*,
    replying through *server*; *injectors* resolve its ``Inject()`` parameters."""
    event = hdef.event
    sig = hdef.signature
    bound = getattr(instance, hdef.name)
    is_async = sig.is_async
    is_gen = sig.is_async_gen
    uses_ack = sig.uses_ack
    send_ack = server.send_ack
    ack_for = _ack_factory(server, uses_ack)
    send_error = getattr(server, "send_error", None)
    ack_now: Callable[[Any, Any, list[Any]], Awaitable[None] | None] | None = getattr(
        server, "ack_now", None
    )
    reply_each = bool(getattr(server, "reply_each_item", False))
    fn_ref = hdef.function

    has_pipes = bool(enh.pipes) or any(enh.param_pipes) or (
        not enh.param_pipes and any(p.pipes for p in sig.params)
    )
    async_args: Callable[[Client, Any, Any], Awaitable[tuple[Any, ...]]] | None = None
    sync_args: Callable[[Client, Any, Any], tuple[Any, ...]] | None = None
    if has_pipes:
        # DESIGN: pipes also run for the no-marker (client, data) form.
        builder, pipes_async = arguments.piped_args(
            sig.params, enh.pipes, enh.param_pipes, injectors
        )
        if pipes_async:
            async_args = builder
        else:
            sync_args = builder
    else:
        sync_args = arguments.sync_args(sig.params, injectors)

    guards = tuple((g.can_activate, maybe_async(g.can_activate)) for g in enh.guards)
    interceptors = tuple(async_intercept(i.intercept) for i in enh.interceptors)
    filters = tuple((f.catch, catch_types(f), type(f).__qualname__) for f in enh.filters)
    #: chosen once from the return annotation (a model → a prebuilt serializer)
    encode = encoder_for(sig.returns)
    native = NATIVE_TYPES if encode is to_wire else frozenset()
    handler_name = f"{cls.__qualname__}.{hdef.name}"

    async def respond(sock: Client, result: Any, ack_id: Any, stream: bool) -> None:
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
            await send_ack(sock, ack_id, ack_args(result))

    def ack_args(result: Any) -> list[Any]:
        # Encoded before anything is sent: an EncodeError still answers the ack. JSON types
        # skip the encoder call (no annotation: the hot path).
        if result is None:
            return []
        if type(result) is tuple:
            return to_wire_args(result)
        return [result if type(result) in native else encode(result)]

    async def on_error(
        exc: Exception, sock: Client, body: Any, ack_id: Any, ctx: ExecutionContext | None
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

            async def run(sock: Client, body: Any, ack_id: Any) -> None:
                try:
                    result = await bound(*build(sock, body, ack_for(sock, ack_id)))
                    if ack_id is not None or isinstance(result, WsResponse):
                        await respond(sock, result, ack_id, False)
                except Exception as exc:
                    await on_error(exc, sock, body, ack_id, None)

        else:

            async def finish(result: Any, sock: Client, body: Any, ack_id: Any) -> None:
                # A plain def that returned a coroutine (``return self.service.save(...)``):
                # awaited as the user meant, off the socket's read loop.
                try:
                    result = await result
                    if ack_id is not None or isinstance(result, WsResponse):
                        await respond(sock, result, ack_id, False)
                except Exception as exc:
                    await on_error(exc, sock, body, ack_id, None)

            async def run(sock: Client, body: Any, ack_id: Any) -> None:
                try:
                    result = bound(*build(sock, body, ack_for(sock, ack_id)))
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

            if ack_now is not None and not is_gen:
                acknowledge = ack_now

                async def reply(sock: Client, result: Any, body: Any, ack_id: Any) -> None:
                    try:
                        await respond(sock, result, ack_id, False)
                    except Exception as exc:
                        await on_error(exc, sock, body, ack_id, None)

                def now(sock: Client, body: Any, ack_id: Any) -> Awaitable[None] | None:
                    # ``run`` without a coroutine: the common reply (a JSON value acked) is
                    # written before this returns; anything else returns what is left.
                    try:
                        result = bound(*build(sock, body, ack_for(sock, ack_id)))
                        if type(result) is _CoroutineType:
                            _background(finish(result, sock, body, ack_id))
                            return None
                        if isinstance(result, WsResponse):
                            return reply(sock, result, body, ack_id)
                        if ack_id is None or uses_ack:
                            return None
                        return acknowledge(sock, ack_id, ack_args(result))
                    except Exception as exc:
                        return failed(exc, sock, body, ack_id)

                async def failed(exc: Exception, sock: Client, body: Any, ack_id: Any) -> None:
                    # Raised again so that on_error runs while it is being handled (its log
                    # line carries the traceback, as from ``run``).
                    try:
                        raise exc
                    except Exception as again:
                        await on_error(again, sock, body, ack_id, None)

                return Handler(run, inline=True, now=now)

        return Handler(run, inline=not is_async and not is_gen)

    async def invoke(sock: Client, body: Any, ack: Any) -> Any:
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

    def chain(ctx: ExecutionContext, sock: Client, body: Any, ack: Any) -> Awaitable[Any]:
        # Outermost first; each call_next returns the awaitable of the rest of the chain
        # (NestJS's order). No coroutine of our own per layer.
        def call(i: int) -> Awaitable[Any]:
            if i == n_icp:
                return invoke(sock, body, ack)
            return interceptors[i](ctx, lambda: call(i + 1))  # type: ignore[no-any-return]

        return call(0)

    async def run_full(sock: Client, body: Any, ack_id: Any) -> None:
        ctx = ExecutionContext(cls, fn_ref, sock, body, event)
        ack = ack_for(sock, ack_id)
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


def per_request(*groups: Sequence[Any]) -> bool:
    return any(isinstance(e, PerRequest) for group in groups for e in group)


def with_client_key(
    run: Callable[[Client, Any, Any], Awaitable[None]],
) -> Callable[[Client, Any, Any], Awaitable[None]]:
    """*run* with the client as the request key (request-scoped enhancers resolve per socket;
    a task spawned inside inherits the key)."""

    async def keyed(sock: Client, body: Any, ack_id: Any) -> None:
        token = request_scope_key.set(sock)
        try:
            await run(sock, body, ack_id)
        finally:
            request_scope_key.reset(token)

    return keyed


def client_scoped(get: Callable[[], Any]) -> Callable[[Client], Any]:
    """*get* run with the client as the request key (``Scope.REQUEST`` = one per client)."""
    set_key = request_scope_key.set
    reset_key = request_scope_key.reset

    def inject(sock: Client) -> Any:
        token = set_key(sock)
        try:
            return get()
        finally:
            reset_key(token)

    return inject


def async_intercept(fn: Callable[..., Any]) -> Callable[..., Any]:
    """*fn* itself when it is ``async def``; otherwise wrapped so that it always returns an
    awaitable (a plain ``def intercept`` may return ``call_next()`` or a value)."""
    if maybe_async(fn):
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


def _no_ack(sock: Any, ack_id: Any) -> None:
    return None


def _ack_factory(host: PipelineHost, uses_ack: bool) -> Callable[[Any, Any], Any]:
    """What an ``Ack()`` parameter receives, chosen once: nothing for a handler without one."""
    if not uses_ack:
        return _no_ack
    sender = host.ack_sender

    def ack_for(sock: Any, ack_id: Any) -> Any:
        return sender(sock, ack_id) if ack_id is not None else _noop_ack

    return ack_for
