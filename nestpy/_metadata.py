"""The one metadata store: decorators write here, explorers read at bootstrap.

Metadata lives in a dict stored on the decorated object itself under ``__nestpy__``.
For classes the dict is looked up in the class's own ``__dict__`` so a subclass never
silently inherits a base class's *class-level* metadata (the explorer decides inheritance).
"""

from __future__ import annotations

from typing import Any

ATTR = "__nestpy__"

# Keys (strings so they read well in debuggers).
INJECTABLE = "injectable"
MODULE = "module"
GLOBAL = "global"
GATEWAY = "gateway"
MESSAGE = "message"  # event name on a handler function
GUARDS = "guards"
PIPES = "pipes"
INTERCEPTORS = "interceptors"
FILTERS = "filters"
CATCH = "catch"
THROTTLE = "throttle"
CUSTOM = "custom"  # SetMetadata(key, value) entries


def _own(obj: Any, create: bool) -> dict[str, Any] | None:
    store = obj.__dict__.get(ATTR) if isinstance(obj, type) else getattr(obj, ATTR, None)
    if store is None and create:
        store = {}
        setattr(obj, ATTR, store)
    return store


def set_meta(obj: Any, key: str, value: Any) -> None:
    """Set *key* on *obj* (a class or function), replacing any value."""
    store = _own(obj, True)
    assert store is not None
    store[key] = value


def append_meta(obj: Any, key: str, *values: Any) -> None:
    """Append *values* to the list stored under *key* on *obj*."""
    store = _own(obj, True)
    assert store is not None
    store.setdefault(key, []).extend(values)


def get_meta(obj: Any, key: str, default: Any = None) -> Any:
    """Return the value of *key* on *obj* itself, or *default*."""
    store = _own(obj, False)
    if store is None:
        return default
    return store.get(key, default)


def has_meta(obj: Any, key: str) -> bool:
    """Whether *obj* itself carries *key*."""
    store = _own(obj, False)
    return store is not None and key in store
