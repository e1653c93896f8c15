"""Provider scopes: the ``Scope`` enum and the per-request ``injector.Scope``.

``Scope.REQUEST`` means one instance per request key. It is an ``injector.Scope`` subclass
(injector's own seam, like its ``ThreadLocalScope``) keyed by the :data:`request_scope_key`
context variable. In gateways the key is the connected socket (NestJS 12's per-client
context): a handler's ``Annotated[T, Inject()]`` parameter resolves with it, so a
request-scoped provider lives as long as the connection. :func:`request_context` makes a
request of your own (a job, a test). There is no second container: the module's injector
asks this scope for the instance.
"""

from __future__ import annotations

import enum
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

import injector

from nestpy.exceptions import ScopeError

__all__ = [
    "PerRequest",
    "RequestKey",
    "RequestScope",
    "Scope",
    "end_request",
    "request_context",
    "request_scope_key",
]

T = TypeVar("T")


class Scope(enum.Enum):
    """How long a provider's instance lives.

    ``SINGLETON`` (alias ``DEFAULT``): one instance per module that declares the provider,
    built at bootstrap. ``TRANSIENT``: a new instance for every consumer (for a gateway
    handler's ``Inject()`` parameter: every message). ``REQUEST``: one instance per request;
    in gateways, per connected socket, dropped at disconnect (see :func:`request_context`).

    .. versionadded:: 0.1
    """

    SINGLETON = "singleton"
    TRANSIENT = "transient"
    REQUEST = "request"
    # NestJS's Scope.DEFAULT, set below. Not an enum alias (DEFAULT = SINGLETON): mypy types
    # an alias as a member of its own, so `scope is Scope.SINGLETON` would look always false.
    DEFAULT: ClassVar[Scope]


Scope.DEFAULT = Scope.SINGLETON


request_scope_key: ContextVar[object | None] = ContextVar("nestpy_request_scope_key", default=None)
"""The current request's key; ``None`` outside a request.

The dispatcher sets it once per handled message. Instances of ``Scope.REQUEST`` providers are
cached per key: weakly when the key supports weak references (a :class:`RequestKey`, a
socket object...), so they disappear with the key; otherwise until :func:`end_request`.
"""


class RequestKey:
    """An opaque, weak-referenceable request key (the default of :func:`request_context`)."""

    __slots__ = ("__weakref__",)

    def __repr__(self) -> str:
        return f"<RequestKey {id(self):#x}>"


# request key -> {(scope instance, binding key): instance provider}
_weak_cache: weakref.WeakKeyDictionary[Any, dict[tuple[object, object], injector.Provider[Any]]]
_weak_cache = weakref.WeakKeyDictionary()
_strong_cache: dict[Any, dict[tuple[object, object], injector.Provider[Any]]] = {}
_cache_lock = threading.Lock()


def _cache_for(key: object) -> dict[tuple[object, object], injector.Provider[Any]]:
    with _cache_lock:
        try:
            return _weak_cache.setdefault(key, {})
        except TypeError:  # not weak-referenceable (str, int, object()): kept until end_request
            return _strong_cache.setdefault(key, {})


def end_request(key: object) -> None:
    """Drop every ``Scope.REQUEST`` instance cached for *key*.

    Needed only for keys that cannot be weakly referenced; harmless otherwise.
    """
    with _cache_lock:
        _strong_cache.pop(key, None)
        with suppress(TypeError):  # not weak-referenceable: never in the weak cache
            _weak_cache.pop(key, None)


@contextmanager
def request_context(key: object | None = None) -> Iterator[object]:
    """Run the ``with`` body as one request: ``Scope.REQUEST`` providers resolve once in it.

    Args:
        key: the request's identity; a fresh :class:`RequestKey` when omitted.

    Returns:
        A context manager yielding the key. On exit the previous key is restored and the
        instances cached for this key are dropped.
    """
    key = RequestKey() if key is None else key
    token = request_scope_key.set(key)
    try:
        yield key
    finally:
        request_scope_key.reset(token)
        end_request(key)


class RequestScope(injector.Scope):
    """``injector`` scope giving one instance per :data:`request_scope_key` value."""

    def get(self, key: type[T], provider: injector.Provider[T]) -> injector.Provider[T]:
        """Return the provider of *key*'s instance for the current request.

        Raises:
            ScopeError: when no request is active (``request_scope_key`` is ``None``).
        """
        request = request_scope_key.get()
        if request is None:
            raise ScopeError(
                f"{_token_name(key)} is request-scoped (Scope.REQUEST) but no request is being "
                "handled: inject it into a gateway handler (Annotated[T, Inject()]), or wrap "
                "the call in `with nestpy.request_context(): ...`."
            )
        cache = _cache_for(request)
        slot = (self, key)
        try:
            return cache[slot]
        except KeyError:
            found: injector.Provider[T] = injector.InstanceProvider(provider.get(self.injector))
            cache[slot] = found
            return found


def _token_name(key: object) -> str:
    token = getattr(key, "token", key)
    if isinstance(token, type):
        return token.__qualname__
    return repr(token)


def is_request_active() -> bool:
    """Whether a request key is set in the current context."""
    return request_scope_key.get() is not None


#: The enhancer methods nestpy calls (guards, interceptors, pipes, filters).
_ENHANCER_METHODS = ("can_activate", "intercept", "transform", "catch")


class PerRequest:
    """Stands in for an enhancer that depends on a ``Scope.REQUEST`` provider.

    Enhancers are compiled once, but such an enhancer needs one instance per request (per
    connected socket in gateways). Each enhancer method of this stand-in resolves the
    instance for the current :data:`request_scope_key` (set by the dispatcher for handlers
    that use one) and calls it; ``async``-ness is the real method's.

    Attributes:
        target: the enhancer class.
    """

    def __init__(self, target: type, get: Any) -> None:
        import inspect

        self.target = target
        for name in _ENHANCER_METHODS:
            method = getattr(target, name, None)
            if method is None:
                continue
            if inspect.iscoroutinefunction(method):

                async def call_async(*args: Any, _name: str = name) -> Any:
                    return await getattr(get(), _name)(*args)

                setattr(self, name, call_async)
            else:

                def call(*args: Any, _name: str = name) -> Any:
                    return getattr(get(), _name)(*args)

                setattr(self, name, call)

    def __repr__(self) -> str:
        return f"<PerRequest {self.target.__qualname__}>"
