"""Argument builders of a compiled handler: for each parameter, where its value comes from
(the body or one key of it, the client, the ack callable, a provider), its pipes and its
type validation, chosen once; the common shapes get a specialised builder."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import pydantic

from nestpy._pipeline.client import Client
from nestpy._pipeline.params import ParamKind, ParamSpec
from nestpy._pipeline.validation import format_errors
from nestpy.common.exceptions import WsException
from nestpy.common.interfaces import ArgumentMetadata
from nestpy.common.pipes import ValidationPipe

__all__ = ["ArgBuilder", "Injectors", "body_getter", "maybe_async", "piped_args", "sync_args"]


def maybe_async(fn: Callable[..., Any]) -> bool:
    """Whether *fn* (a function or a callable object) is ``async def``."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - a callable object with async __call__
    )


def body_getter(spec: ParamSpec) -> Callable[[Any], Any]:
    key = spec.key
    if key is None:
        return lambda body: body

    def get(body: Any) -> Any:
        return body.get(key) if isinstance(body, dict) else None

    return get


def _validating(spec: ParamSpec) -> Callable[[Any], Any] | None:
    validator = spec.validator
    if validator is None:
        return None
    prefix = spec.key

    def validate(value: Any) -> Any:
        try:
            return validator(value)
        except pydantic.ValidationError as exc:
            raise WsException(format_errors(exc, prefix)) from None

    return validate


ArgBuilder = Callable[[Client, Any, Any], Any]


def _body_param(
    get: Callable[[Any], Any], validate: Callable[[Any], Any] | None
) -> Callable[[Client, Any, Any], Any]:
    if validate is None:
        return lambda s, b, a: get(b)
    return lambda s, b, a: validate(get(b))


Injectors = dict[str, Callable[[Client], Any]]


def _inject_param(get: Callable[[Client], Any]) -> Callable[[Client, Any, Any], Any]:
    return lambda s, b, a: get(s)


def sync_args(
    params: Sequence[ParamSpec], injectors: Injectors | None = None
) -> Callable[[Client, Any, Any], tuple[Any, ...]]:
    """Arguments without pipes: specialised for the common shapes."""
    getters: list[Callable[[Client, Any, Any], Any]] = []
    for spec in params:
        if spec.kind is ParamKind.SOCKET:
            getters.append(lambda s, b, a: s)
        elif spec.kind is ParamKind.ACK:
            getters.append(lambda s, b, a: a)
        elif spec.kind is ParamKind.INJECT:
            assert injectors is not None
            getters.append(_inject_param(injectors[spec.name]))
        else:
            get = body_getter(spec)
            validate = _validating(spec)
            if validate is None and spec.key is None:
                getters.append(lambda s, b, a: b)
            else:
                getters.append(_body_param(get, validate))
    kinds = tuple(
        (
            p.kind,
            p.kind is not ParamKind.BODY
            or (p.key is None and p.validator is None),
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


def piped_args(
    params: Sequence[ParamSpec],
    shared_pipes: tuple[Any, ...],
    param_pipes: tuple[tuple[Any, ...], ...],
    injectors: Injectors | None = None,
) -> tuple[Callable[[Client, Any, Any], Any], bool]:
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
            plans.append((spec.kind, body_getter(spec), (), injectors[spec.name]))
            continue
        if spec.kind is not ParamKind.BODY:
            plans.append((spec.kind, body_getter(spec), (), None))
            continue
        meta = ArgumentMetadata("body", spec.annotation, spec.key)
        own = param_pipes[index] if index < len(param_pipes) else tuple(
            _pipe_instance(p) for p in spec.pipes
        )
        pipes = (*shared_pipes, *own)
        steps = tuple((p.transform, maybe_async(p.transform)) for p in pipes)
        any_async = any_async or any(is_async for _, is_async in steps)
        explicit = any(
            isinstance(p, ValidationPipe) and p.validates(spec.annotation) for p in pipes
        )
        validate = None if explicit else _validating(spec)
        plans.append((spec.kind, body_getter(spec), steps, (meta, validate)))

    async def build_async(s: Client, b: Any, a: Any) -> tuple[Any, ...]:
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

    def build_sync(s: Client, b: Any, a: Any) -> tuple[Any, ...]:
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
