"""``Reflector``: read custom metadata set with ``SetMetadata`` or a typed decorator."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar, overload

from nestpy import _metadata as md

__all__ = ["ReflectableDecorator", "Reflector"]

T = TypeVar("T")
D = TypeVar("D")


class ReflectableDecorator(Generic[T]):
    """A typed metadata decorator made by ``Reflector.create_decorator()``.

    ``Roles: ReflectableDecorator[list[str]] = Reflector.create_decorator()``, then
    ``@Roles(["admin"])`` on a handler and ``reflector.get(Roles, context.get_handler())``
    (typed ``list[str] | None``) in a guard.

    .. versionadded:: 0.1
    """

    __slots__ = ("key",)

    def __init__(self, key: str | None = None) -> None:
        self.key: Any = key if key is not None else self

    def __call__(self, value: T) -> Callable[[D], D]:
        from nestpy.common.decorators import SetMetadata

        return SetMetadata(self.key, value)

    def __repr__(self) -> str:
        return f"ReflectableDecorator({self.key!r})" if self.key is not self else (
            "ReflectableDecorator()"
        )


def _lookup(key: Any, target: Any) -> tuple[bool, Any]:
    # Classes inherit custom metadata from their bases (NestJS reads it with
    # Reflect.getMetadata, which follows the prototype chain); the nearest class wins.
    chain = target.__mro__ if isinstance(target, type) else (target,)
    for obj in chain:
        store = md.get_meta(obj, md.CUSTOM)
        if store is not None and key in store:
            return True, store[key]
    return False, None


class Reflector:
    """Reads metadata attached with ``SetMetadata`` (or a ``ReflectableDecorator``).

    Inject it by type (``def __init__(self, reflector: Reflector)``): every module can see
    it, as in NestJS.

    .. versionadded:: 0.1
    """

    @staticmethod
    def create_decorator(key: str | None = None) -> ReflectableDecorator[Any]:
        """A decorator storing its argument as metadata under its own unique key (or *key*).

        Annotate the variable to type the value:
        ``Roles: ReflectableDecorator[list[str]] = Reflector.create_decorator()``.
        """
        return ReflectableDecorator(key)

    @overload
    def get(self, key: ReflectableDecorator[T], target: Any) -> T | None: ...

    @overload
    def get(self, key: Any, target: Any) -> Any: ...

    def get(self, key: Any, target: Any) -> Any:
        """The value of *key* on *target* (a handler or gateway class), or None."""
        return _lookup(_key(key), target)[1]

    def get_all(self, key: Any, targets: Iterable[Any]) -> list[Any]:
        """The value of *key* on each of *targets* (None where absent), in order."""
        k = _key(key)
        return [_lookup(k, t)[1] for t in targets]

    @overload
    def get_all_and_override(
        self, key: ReflectableDecorator[T], targets: Iterable[Any]
    ) -> T | None: ...

    @overload
    def get_all_and_override(self, key: Any, targets: Iterable[Any]) -> Any: ...

    def get_all_and_override(self, key: Any, targets: Iterable[Any]) -> Any:
        """The first value of *key* found on *targets* (``[handler, cls]``: the method's
        value overrides the class's), or None."""
        k = _key(key)
        for t in targets:
            found, value = _lookup(k, t)
            if found and value is not None:
                return value
        return None

    def get_all_and_merge(self, key: Any, targets: Iterable[Any]) -> Any:
        """Every value of *key* on *targets* merged: lists/tuples concatenated, dicts
        merged (earlier targets win), otherwise the list of values. None when absent."""
        k = _key(key)
        values = [v for v in (_lookup(k, t)[1] for t in targets) if v is not None]
        if not values:
            return None
        if all(isinstance(v, Mapping) for v in values):
            merged: dict[Any, Any] = {}
            for v in reversed(values):
                merged.update(v)
            return merged
        out: list[Any] = []
        for v in values:
            if isinstance(v, (list, tuple)):
                out.extend(v)
            else:
                out.append(v)
        return out


def _key(key: Any) -> Any:
    return key.key if isinstance(key, ReflectableDecorator) else key
