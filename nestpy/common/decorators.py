"""Enhancer decorators. They only record metadata (STYLE.md rule 1); handlers are compiled
from it at bootstrap.

Each works on a gateway class (every handler of the class; class guards also guard the
handshake) or on one ``@SubscribeMessage`` method, in either order with the other
decorators. Applied several times, the lists accumulate in source order (bottom decorator
first, as Python applies them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from nestpy import _metadata as md

__all__ = [
    "Catch",
    "SetMetadata",
    "Throttle",
    "ThrottleOptions",
    "UseFilters",
    "UseGuards",
    "UseInterceptors",
    "UsePipes",
]

T = TypeVar("T")


def _check(decorator: str, items: tuple[Any, ...], method: str) -> None:
    if not items:
        raise TypeError(f"@{decorator}() needs at least one class or instance")
    for item in items:
        if not isinstance(item, type) and not callable(getattr(item, method, None)):
            raise TypeError(
                f"@{decorator}() got {item!r}, which is neither a class nor an object with "
                f"a {method}() method"
            )


def _appender(key: str, decorator: str, method: str, items: tuple[Any, ...]) -> Callable[[T], T]:
    _check(decorator, items, method)

    def decorate(target: T) -> T:
        md.append_meta(target, key, *items)
        return target

    return decorate


def UseGuards(*guards: Any) -> Callable[[T], T]:
    """Guard a gateway class or one handler with *guards* (classes, built by the container
    so they can inject providers, or instances). They run in the order given, after the
    global guards and (for a handler) the class's guards.

    .. versionadded:: 0.1
    """
    return _appender(md.GUARDS, "UseGuards", "can_activate", guards)


def UsePipes(*pipes: Any) -> Callable[[T], T]:
    """Apply *pipes* to every message-body parameter of a class's handlers or of one
    handler; they run after global and class pipes and before the parameter's own pipes.

    .. versionadded:: 0.1
    """
    return _appender(md.PIPES, "UsePipes", "transform", pipes)


def UseInterceptors(*interceptors: Any) -> Callable[[T], T]:
    """Wrap a class's handlers or one handler with *interceptors* (outermost first:
    global, then class, then method).

    .. versionadded:: 0.1
    """
    return _appender(md.INTERCEPTORS, "UseInterceptors", "intercept", interceptors)


def UseFilters(*filters: Any) -> Callable[[T], T]:
    """Handle errors of a class's handlers or one handler with *filters*.

    Lookup (NestJS): method filters, then class filters, then global ones; within one
    ``@UseFilters(A, B)`` the last listed (``B``) is tried first. The first filter whose
    ``@Catch`` matches handles the error.

    .. versionadded:: 0.1
    """
    return _appender(md.FILTERS, "UseFilters", "catch", filters)


def Catch(*exceptions: type[BaseException]) -> Callable[[type[T]], type[T]]:
    """Declare which exception types a filter class handles (none: every exception).
    Matching uses ``isinstance``, so a base class catches its subclasses.

    .. versionadded:: 0.1
    """
    for exc in exceptions:
        if not (isinstance(exc, type) and issubclass(exc, BaseException)):
            raise TypeError(f"@Catch() takes exception classes, got {exc!r}")

    def decorate(cls: type[T]) -> type[T]:
        md.set_meta(cls, md.CATCH, tuple(exceptions))
        return cls

    return decorate


def SetMetadata(key: Any, value: Any) -> Callable[[T], T]:
    """Attach custom metadata *key* = *value* to a gateway class or handler; read it with
    ``Reflector`` (e.g. in a guard: ``reflector.get("roles", context.get_handler())``).

    .. versionadded:: 0.1
    """

    def decorate(target: T) -> T:
        store = md.get_meta(target, md.CUSTOM)
        if store is None:
            store = {}
            md.set_meta(target, md.CUSTOM, store)
        store[key] = value
        return target

    return decorate


@dataclass(frozen=True, slots=True)
class ThrottleOptions:
    """What ``@Throttle`` recorded: at most *limit* messages per *ttl* seconds."""

    limit: int
    ttl: float


def Throttle(limit: int, ttl: float) -> Callable[[T], T]:
    """Allow each socket at most *limit* messages of one event per *ttl* seconds.

    Counted per socket and per event, in fixed windows of *ttl* seconds starting at the
    socket's first message (NestJS's throttler counts the same way, but takes ``ttl`` in
    milliseconds). Over the limit the caller receives ``exception`` with the message
    ``"Too many requests"`` and the handler does not run; other sockets are unaffected.
    On a class it applies to every handler (each event counted separately); a method's
    ``@Throttle`` overrides the class's. The counters of a socket are dropped when it
    disconnects.

    .. versionadded:: 0.1
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise TypeError(f"@Throttle limit must be a positive int, got {limit!r}")
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise TypeError(f"@Throttle ttl must be a positive number of seconds, got {ttl!r}")
    options = ThrottleOptions(limit, float(ttl))

    def decorate(target: T) -> T:
        md.set_meta(target, md.THROTTLE, options)
        return target

    return decorate
