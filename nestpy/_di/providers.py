"""Custom providers and dynamic modules: plain value objects read by the scanner."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from nestpy.exceptions import BootstrapError

from .scopes import Scope

__all__ = ["DynamicModule", "Provider"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final[Any] = _Missing()
"""Sentinel: the ``use_*`` field was not given."""

_USE_FIELDS = ("use_value", "use_class", "use_factory", "use_existing")


@dataclass(frozen=True, slots=True)
class Provider:
    """A custom provider: *token* made by exactly one ``use_*`` recipe (NestJS's custom providers).

    Args:
        token: what consumers ask for: a class, or any hashable value (``"CONFIG"``) consumed as
            ``Annotated[T, Inject("CONFIG")]``.
        use_value: this very object.
        use_class: build this class (its constructor dependencies are injected).
        use_factory: call this **sync** function with the tokens in *inject*, positionally.
        use_existing: an alias: resolve this other token instead (same instance).
        inject: tokens passed to *use_factory*, in order.
        scope: overrides the scope (``use_class`` defaults to the class's ``@Injectable`` scope,
            the rest to ``Scope.SINGLETON``). Ignored for ``use_value`` and ``use_existing``.

    Raises:
        BootstrapError: not exactly one ``use_*`` given, ``inject`` without ``use_factory``, or
            an ``async def`` factory.

    .. versionadded:: 0.1
    """

    token: Any
    use_value: Any = field(default=MISSING, kw_only=True)
    use_class: type | None = field(default=None, kw_only=True)
    use_factory: Callable[..., Any] | None = field(default=None, kw_only=True)
    use_existing: Any = field(default=MISSING, kw_only=True)
    inject: Sequence[Any] = field(default=(), kw_only=True)
    scope: Scope | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        given = [name for name in _USE_FIELDS if self._has(name)]
        if len(given) != 1:
            raise BootstrapError(
                f"Provider({_show(self.token)}) needs exactly one of use_value=, use_class=, "
                f"use_factory=, use_existing= (got {', '.join(given) or 'none'})."
            )
        object.__setattr__(self, "inject", tuple(self.inject))
        if self.inject and self.use_factory is None:
            raise BootstrapError(
                f"Provider({_show(self.token)}): inject= lists the factory's arguments and only "
                "applies to use_factory=."
            )
        if self.use_class is not None and not isinstance(self.use_class, type):
            raise BootstrapError(
                f"Provider({_show(self.token)}): use_class= must be a class, got "
                f"{self.use_class!r}; use use_factory= for a callable."
            )
        factory = self.use_factory
        if factory is not None:
            if not callable(factory):
                raise BootstrapError(
                    f"Provider({_show(self.token)}): use_factory= must be callable, "
                    f"got {factory!r}."
                )
            if inspect.iscoroutinefunction(factory) or inspect.isasyncgenfunction(factory):
                raise BootstrapError(
                    f"Provider({_show(self.token)}): use_factory={_show(factory)} is async. "
                    "Factories run synchronously while the container is built; do the async "
                    "set-up in a lifecycle hook instead (async def on_module_init(self) on the "
                    "provider), and make the factory a plain def."
                )
        if self.scope is not None and not isinstance(self.scope, Scope):
            raise BootstrapError(
                f"Provider({_show(self.token)}): scope= must be a nestpy Scope, got {self.scope!r}."
            )

    def _has(self, name: str) -> bool:
        value = getattr(self, name)
        if name in ("use_class", "use_factory"):
            return value is not None
        return value is not MISSING  # use_value=None is a legitimate value

    @property
    def kind(self) -> str:
        """Which recipe: ``"value"``, ``"class"``, ``"factory"`` or ``"existing"``."""
        for name in _USE_FIELDS:
            if self._has(name):
                return name[4:]
        raise AssertionError("unreachable: validated in __post_init__")


@dataclass(frozen=True, eq=False)
class DynamicModule:
    """A module configured at import time, as NestJS's ``ConfigModule.forRoot()`` returns.

    Its ``imports``/``providers``/``exports`` are added to those of ``@Module`` on *module*.
    Identity matters: the same ``DynamicModule`` object imported twice is one module
    instance; two calls of ``for_root(...)`` give two modules.

    Args:
        module: the module class (usually the class whose classmethod builds this).
        imports: modules to import in addition to the class's own.
        providers: providers to add.
        exports: tokens or modules to export.
        global_: make the module global, as ``@Global()`` does (NestJS's ``global: true``).

    .. versionadded:: 0.1
    """

    module: type
    imports: Sequence[Any] = field(default=(), kw_only=True)
    providers: Sequence[Any] = field(default=(), kw_only=True)
    exports: Sequence[Any] = field(default=(), kw_only=True)
    global_: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.module, type):
            raise BootstrapError(f"DynamicModule(module=...) needs a class, got {self.module!r}.")
        for name in ("imports", "providers", "exports"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def __repr__(self) -> str:
        return f"DynamicModule({self.module.__qualname__})"


def _show(obj: Any) -> str:
    if isinstance(obj, type) or inspect.isfunction(obj):
        return str(obj.__qualname__)
    return repr(obj)
