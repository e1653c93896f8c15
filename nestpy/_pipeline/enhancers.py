"""Resolve guards, interceptors, pipes and filters for a handler, once, at bootstrap.

Lookup order, as NestJS's ``ContextCreator.createContext`` builds it
(packages/core/helpers/context-creator.ts): global, then class, then method metadata.
Guards, interceptors and pipes run in that order. Exception filters are that list
reversed (packages/websockets/context/exception-filters-context.ts calls
``filters.reverse()``): method → class → global, and within one ``@UseFilters(A, B)`` the
last listed (B) is tried first; the first ``@Catch`` match wins
(``selectExceptionFilterMetadata``).

Class metadata is inherited: a gateway subclass gets its bases' enhancers before its own
(NestJS's ``extendArrayMetadata`` reads the base's list through the prototype chain).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nestpy import _metadata as md
from nestpy._pipeline.params import HandlerSignature
from nestpy._pipeline.throttle import ThrottleGuard
from nestpy.common.decorators import ThrottleOptions

__all__ = [
    "GlobalEnhancers",
    "catch_types",
    "class_meta",
    "resolve_class_guards",
    "resolve_enhancers",
]


@dataclass
class GlobalEnhancers:
    """What ``app.use_global_*`` registered (classes or instances)."""

    guards: list[Any] = field(default_factory=list)
    interceptors: list[Any] = field(default_factory=list)
    pipes: list[Any] = field(default_factory=list)
    filters: list[Any] = field(default_factory=list)


Instantiate = Callable[[Any], Any]


def _build(items: Sequence[Any], make: Instantiate) -> list[Any]:
    return [make(i) if isinstance(i, type) else i for i in items]


def class_meta(cls: type, key: str) -> list[Any]:
    """*key*'s list on *cls* and its bases, most basic class first."""
    out: list[Any] = []
    for klass in reversed(cls.__mro__):
        out.extend(md.get_meta(klass, key, ()))
    return out


def _nearest(cls: type, key: str) -> Any:
    for klass in cls.__mro__:
        value = md.get_meta(klass, key)
        if value is not None:
            return value
    return None


def catch_types(filter_obj: Any) -> tuple[type[BaseException], ...]:
    """The exception types a filter instance's class declared with ``@Catch`` (inherited
    from its bases); ``()`` means every exception."""
    # A PerRequest stand-in (request-scoped filter) carries its class as ``target``.
    types = _nearest(getattr(filter_obj, "target", None) or type(filter_obj), md.CATCH)
    return tuple(types) if types else ()


def resolve_class_guards(cls: type, make: Instantiate) -> tuple[Any, ...]:
    """The gateway class's own guards (these also guard the handshake)."""
    return tuple(_build(class_meta(cls, md.GUARDS), make))


def resolve_enhancers(
    cls: type,
    fn: Callable[..., Any],
    globals_: GlobalEnhancers,
    make: Instantiate,
    signature: HandlerSignature,
) -> dict[str, tuple[Any, ...]]:
    """Instances of every enhancer for handler *fn* of gateway *cls* (parsed into
    *signature* at exploration), in execution order.

    Keys: ``guards`` (a ``ThrottleGuard`` first when ``@Throttle`` applies: it is the
    cheapest refusal), ``interceptors``, ``pipes``, ``filters`` and ``param_pipes`` (one
    tuple per handler parameter: the pipes given to its ``MessageBody``).
    """

    def level(key: str, glob: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
        return (
            _build(glob, make),
            _build(class_meta(cls, key), make),
            _build(md.get_meta(fn, key, ()), make),
        )

    g = level(md.GUARDS, globals_.guards)
    i = level(md.INTERCEPTORS, globals_.interceptors)
    p = level(md.PIPES, globals_.pipes)
    f = level(md.FILTERS, globals_.filters)
    throttle: ThrottleOptions | None = md.get_meta(fn, md.THROTTLE) or _nearest(cls, md.THROTTLE)
    throttlers = (ThrottleGuard(throttle.limit, throttle.ttl),) if throttle else ()
    return {
        "guards": (*throttlers, *g[0], *g[1], *g[2]),
        "interceptors": (*i[0], *i[1], *i[2]),
        "pipes": (*p[0], *p[1], *p[2]),
        "filters": (*reversed(f[2]), *reversed(f[1]), *reversed(f[0])),
        "param_pipes": tuple(tuple(_build(s.pipes, make)) for s in signature.params),
    }
