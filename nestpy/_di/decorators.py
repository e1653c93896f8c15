"""``@Injectable``, ``@Module``, ``@Global`` and the ``Inject`` marker.

Decorators only record metadata (STYLE.md rule 1); the scanner reads and checks it when
the container is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from nestpy import _metadata
from nestpy.exceptions import BootstrapError

from .scopes import Scope

__all__ = ["Global", "Inject", "Injectable", "InjectableMetadata", "Module", "ModuleMetadata"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class InjectableMetadata:
    """What ``@Injectable`` records on a class."""

    scope: Scope = Scope.SINGLETON


@dataclass(frozen=True, slots=True)
class ModuleMetadata:
    """What ``@Module`` records on a class."""

    imports: tuple[Any, ...] = ()
    providers: tuple[Any, ...] = ()
    exports: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Inject:
    """Marker naming the token to inject into a constructor or handler parameter.

    Used as ``Annotated[Config, Inject("CONFIG")]``; needed for non-class tokens, or to ask
    for another class than the annotation says. ``Inject()`` without a token injects by the
    annotation (a gateway handler's parameter: ``ctx: Annotated[SessionState, Inject()]``).

    .. versionadded:: 0.1
    """

    token: Any = None


@overload
def Injectable(cls: type[_T], /) -> type[_T]: ...


@overload
def Injectable(*, scope: Scope = Scope.SINGLETON) -> Callable[[type[_T]], type[_T]]: ...


def Injectable(
    cls: type[_T] | None = None, /, *, scope: Scope = Scope.SINGLETON
) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """Mark a class as a provider, optionally with a scope.

    Usable as ``@Injectable``, ``@Injectable()`` or ``@Injectable(scope=Scope.TRANSIENT)``.
    Constructor dependencies are read from the ``__init__`` type hints when the container is
    built. An undecorated class listed in ``providers`` works too (as a singleton).

    Raises:
        BootstrapError: *scope* is not a :class:`Scope`.

    .. versionadded:: 0.1
    """
    if not isinstance(scope, Scope):
        raise BootstrapError(f"@Injectable(scope=...) takes a nestpy Scope, got {scope!r}.")

    def decorate(target: type[_T]) -> type[_T]:
        _metadata.set_meta(target, _metadata.INJECTABLE, InjectableMetadata(scope))
        return target

    return decorate if cls is None else decorate(cls)


def Module(
    *,
    imports: Iterable[Any] = (),
    providers: Iterable[Any] = (),
    exports: Iterable[Any] = (),
) -> Callable[[type[_T]], type[_T]]:
    """Declare a module: what it imports, the providers it owns and what it exports.

    Args:
        imports: module classes or :class:`DynamicModule` objects whose exports this module
            uses.
        providers: classes or :class:`Provider` objects owned by this module.
        exports: tokens of its providers (or of providers it can see through imports), and/or
            imported modules, re-exported whole.

    .. versionadded:: 0.1
    """
    meta = ModuleMetadata(tuple(imports), tuple(providers), tuple(exports))

    def decorate(cls: type[_T]) -> type[_T]:
        _metadata.set_meta(cls, _metadata.MODULE, meta)
        return cls

    return decorate


@overload
def Global(cls: type[_T], /) -> type[_T]: ...


@overload
def Global() -> Callable[[type[_T]], type[_T]]: ...


def Global(cls: type[_T] | None = None, /) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """Make a module global: its exports are visible to every module without importing it.

    As NestJS's ``@Global()``; the module must still be imported once (usually by the root).

    .. versionadded:: 0.1
    """

    def decorate(target: type[_T]) -> type[_T]:
        _metadata.set_meta(target, _metadata.GLOBAL, True)
        return target

    return decorate if cls is None else decorate(cls)
