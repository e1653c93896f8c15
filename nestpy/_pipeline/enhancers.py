"""Resolve guards, interceptors, pipes and filters for a handler, once, at bootstrap.

Lookup order (NestJS): guards, interceptors and pipes run global → class → method;
exception filters are tried method → class → global (nearest first), and within one
``@UseFilters(A, B)`` the last listed is tried first, as NestJS does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nestpy import _metadata as md

__all__ = ["GlobalEnhancers", "resolve_class_guards", "resolve_enhancers"]


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


def resolve_class_guards(cls: type, make: Instantiate) -> tuple[Any, ...]:
    """The gateway class's own guards (these also guard the handshake)."""
    return tuple(_build(md.get_meta(cls, md.GUARDS, ()), make))


def resolve_enhancers(
    cls: type, fn: Callable[..., Any], globals_: GlobalEnhancers, make: Instantiate
) -> dict[str, tuple[Any, ...]]:
    """Instances of every enhancer for handler *fn* of gateway *cls*, in execution order."""

    def level(key: str, glob: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
        return (
            _build(glob, make),
            _build(md.get_meta(cls, key, ()), make),
            _build(md.get_meta(fn, key, ()), make),
        )

    g = level(md.GUARDS, globals_.guards)
    i = level(md.INTERCEPTORS, globals_.interceptors)
    p = level(md.PIPES, globals_.pipes)
    f = level(md.FILTERS, globals_.filters)
    return {
        "guards": (*g[0], *g[1], *g[2]),
        "interceptors": (*i[0], *i[1], *i[2]),
        "pipes": (*p[0], *p[1], *p[2]),
        "filters": (*reversed(f[2]), *reversed(f[1]), *reversed(f[0])),
    }
