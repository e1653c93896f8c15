"""The container: one ``injector.Injector`` per module, bound from the scanned graph.

Each module's injector binds every token the module can see. Its own providers are bound
to a recipe in their scope (``SingletonScope``, ``NoScope`` or :class:`RequestScope`); a token
imported from another module is bound to a provider that asks the owner's injector, so a
singleton lives once, in the module that declares it. Keys are wrapped in :class:`_Key`, so
string tokens, classes with an ``injector`` ``__scope__`` or ``list[int]`` never reach
injector's own key interpretation.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast, overload

import injector

from nestpy import _metadata
from nestpy.exceptions import BootstrapError, UnknownDependencyError, UnknownElementError

from ._signature import Dependency
from .providers import DynamicModule, Provider
from .scanner import (
    ModuleNode,
    ProviderRecord,
    declared_scope,
    name_of,
    provider_dependencies,
    resolve_owners,
    scan,
)
from .scopes import PerRequest, RequestScope, Scope

__all__ = ["Container", "ModuleNode"]

T = TypeVar("T")

_INJECTOR_SCOPES: dict[Scope, type[injector.Scope]] = {
    Scope.SINGLETON: injector.SingletonScope,
    Scope.TRANSIENT: injector.NoScope,
    Scope.REQUEST: RequestScope,
}


@dataclass(frozen=True, slots=True)
class _Key:
    """The binding key of a token inside a module's injector."""

    token: Any

    def __repr__(self) -> str:
        return f"<token {name_of(self.token)}>"


def _get(inj: injector.Injector, key: _Key) -> Any:
    return inj.get(cast(Any, key))


# One argument: (pass positionally?, parameter name, key or None when the default applies).
_Plan = tuple[tuple[bool, str | None, _Key | None], ...]


def _plan(deps: tuple[Dependency, ...], owners: tuple[ModuleNode | None, ...]) -> _Plan:
    return tuple(
        (dep.positional, dep.name, _Key(dep.token) if owner is not None else None)
        for dep, owner in zip(deps, owners, strict=True)
    )


class _Build(injector.Provider[Any]):
    """Call a class or a sync factory with its dependencies from the module's injector."""

    __slots__ = ("_call", "_factory", "_plan")

    def __init__(self, call: Any, plan: _Plan, *, factory: bool) -> None:
        self._call = call
        self._plan = plan
        self._factory = factory

    def get(self, injector: injector.Injector) -> Any:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for positional, name, key in self._plan:
            if key is None:
                continue  # not visible: Python applies the parameter's default
            value = _get(injector, key)
            if positional or name is None:
                args.append(value)
            else:
                kwargs[name] = value
        result = self._call(*args, **kwargs)
        if self._factory and inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # never awaited: avoid the "never awaited" warning
            raise BootstrapError(
                f"The factory {name_of(self._call)} returned an awaitable. Factories must "
                f"return the value itself; do async set-up in a lifecycle hook "
                f"(async def on_module_init(self)) of the provider instead."
            )
        return result


class _Delegate(injector.Provider[Any]):
    """A token imported from another module: ask the owner's injector (owner keeps the scope)."""

    __slots__ = ("_key", "_owner")

    def __init__(self, owner: ModuleNode, key: _Key) -> None:
        self._owner = owner
        self._key = key

    def get(self, injector: injector.Injector) -> Any:
        assert self._owner.injector is not None
        return _get(self._owner.injector, self._key)


class _Alias(injector.Provider[Any]):
    """``use_existing``: resolve the other token as this module sees it."""

    __slots__ = ("_key",)

    def __init__(self, key: _Key) -> None:
        self._key = key

    def get(self, injector: injector.Injector) -> Any:
        return _get(injector, self._key)


def _provider_for(record: ProviderRecord) -> injector.Provider[Any]:
    provider = record.provider
    kind = provider.kind
    if kind == "value":
        return injector.InstanceProvider(provider.use_value)
    if kind == "existing":
        return _Alias(_Key(provider.use_existing))
    plan = _plan(record.deps, record.owners)
    if provider.use_class is not None:
        return _Build(provider.use_class, plan, factory=False)
    return _Build(provider.use_factory, plan, factory=True)


class Container:
    """The application's providers: built from the root module, then instantiated.

    Build with :meth:`build` (checks everything, creates nothing), then call
    :meth:`instantiate` to create every singleton and module instance.

    .. versionadded:: 0.1
    """

    modules: list[ModuleNode]
    """Modules in lifecycle-hook order: larger distance first (deepest imports first)."""

    def __init__(self, nodes: list[ModuleNode], overrides: Mapping[Any, Provider]) -> None:
        self._nodes = nodes  # discovery order, root first
        self.root = nodes[0]
        # Stable sort: equal distances keep discovery order (NestJS sorts the same way).
        self.modules = sorted(nodes, key=lambda node: -node.distance)
        self._overrides = dict(overrides)
        self._created: dict[tuple[type, int], Any] = {}
        self._created_by_module: dict[int, list[Any]] = {}
        self._instantiated = False
        for node in nodes:
            node.injector = self._bind(node)

    @classmethod
    def build(
        cls, root: type | DynamicModule, *, overrides: Mapping[Any, Provider] | None = None
    ) -> Container:
        """Scan *root*, check visibility, exports, cycles and scopes, and bind every module.

        Args:
            root: the root module class or ``DynamicModule``.
            overrides: token -> Provider replacing that token's provider wherever it is
                declared (the testing module's ``override_provider``); also consulted by
                :meth:`create`.

        Raises:
            BootstrapError: for any wiring mistake (``UnknownDependencyError``,
                ``ModuleVisibilityError``, ``CircularDependencyError``...). No user code has run.
        """
        overrides = overrides or {}
        return cls(scan(root, overrides), overrides)

    @staticmethod
    def _bind(node: ModuleNode) -> injector.Injector:
        inj = injector.Injector(auto_bind=False)
        binder = inj.binder
        for token, owner in node.visible.items():
            key = _Key(token)
            if owner is node:
                record = node.records[token]
                scope = _INJECTOR_SCOPES[record.scope]
                if record.kind in ("value", "existing"):
                    scope = injector.NoScope  # nothing to cache: a value, or the target's cache
                binder.bind(cast(Any, key), to=_provider_for(record), scope=scope)
            else:
                binder.bind(cast(Any, key), to=_Delegate(owner, key), scope=injector.NoScope)
        return inj

    # --- instances ---------------------------------------------------------------------------

    def instantiate(self) -> None:
        """Create every singleton provider and every module class instance (idempotent).

        Order: modules in :attr:`modules` order; in each, its providers in declaration order
        (dependencies are created first, wherever they live), then the module class.

        Raises:
            Whatever a constructor or factory raises, unchanged.
        """
        if self._instantiated:
            return
        for node in self.modules:
            self._module_providers(node)
            if node.instance is None:
                assert node.injector is not None
                build = _Build(node.cls, _plan(node.module_deps, node.module_owners), factory=False)
                node.instance = build.get(node.injector)
        self._instantiated = True

    def _module_providers(self, node: ModuleNode) -> list[Any]:
        assert node.injector is not None
        return [
            _get(node.injector, _Key(record.token))
            for record in node.records.values()
            if record.scope is Scope.SINGLETON and record.kind != "existing"
        ]

    def module_instances(self, node: ModuleNode) -> list[Any]:
        """*node*'s hook targets: its singleton providers in declaration order, then what
        :meth:`create` built for it, then the module instance (NestJS's order)."""
        self.instantiate()
        found = self._module_providers(node)
        seen = {id(obj) for obj in found}
        found.extend(
            obj for obj in self._created_by_module.get(id(node), ()) if id(obj) not in seen
        )
        found.append(node.instance)
        return found

    def instances(self) -> list[Any]:
        """Every non-transient instance, in lifecycle-hook order.

        Per module in :attr:`modules` order: its singleton providers in declaration order,
        then the classes built by :meth:`create` for it, then the module instance itself.
        Aliases (``use_existing``) are left out; request-scoped providers have no instance
        outside a request. Instantiates the container if needed.
        """
        return [obj for node in self.modules for obj in self.module_instances(node)]

    def find(self, meta_key: str) -> list[tuple[Any, ModuleNode]]:
        """Instantiated singleton providers whose class carries *meta_key*, in hook order.

        Example: ``container.find("gateway")`` lists every gateway with its module.
        """
        self.instantiate()
        # Class metadata counts when a base class carries it too (NestJS treats a subclass
        # of a gateway as a gateway).
        return [
            (obj, node)
            for node in self.modules
            for obj in self._module_providers(node)
            if any(_metadata.has_meta(k, meta_key) for k in type(obj).__mro__)
        ]

    @overload
    def get(self, token: type[T]) -> T: ...

    @overload
    def get(self, token: Any) -> Any: ...

    def get(self, token: Any) -> Any:
        """Resolve *token* as NestJS's ``app.get`` (``strict=False``) does.

        Lookup order: what the root module can see, then every module providing it (discovery
        order), then module classes (their instance).

        Raises:
            UnknownElementError: no module provides *token*.
            ScopeError: *token* is request-scoped and no request is active.
        """
        try:
            key = _Key(token)
            hash(key)
        except TypeError:
            raise UnknownElementError(f"{token!r} is not hashable, so it is no token.") from None
        if token in self.root.visible:
            assert self.root.injector is not None
            return _get(self.root.injector, key)
        for node in self._nodes:
            if token in node.records:
                assert node.injector is not None
                return _get(node.injector, key)
        for node in self._nodes:
            if node.cls is token:
                self.instantiate()
                return node.instance
        raise UnknownElementError(
            f"No module provides {name_of(token)}. Add it to the providers of a module "
            f"imported (directly or not) by {self.root.name}."
        )

    def resolver(self, token: Any, module: ModuleNode, dependent: Any = None) -> Any:
        """A zero-argument callable resolving *token* as *module* sees it (bootstrap only;
        the callable is what runs per use: one injector lookup).

        Raises:
            UnknownDependencyError: *module* cannot see *token*.
        """
        if token not in module.visible:
            raise UnknownDependencyError(token, module.cls, dependent=dependent)
        assert module.injector is not None
        inj = module.injector
        key = _Key(token)
        return lambda: _get(inj, key)

    def create(self, cls: type[T], module: ModuleNode) -> T:
        """Build *cls* with dependencies visible from *module*; one instance per (cls, module).

        For the guard, pipe, interceptor and filter classes named in decorators. An override
        keyed by *cls* wins; when *module* can see *cls* as a provider, that provider's
        instance is returned; otherwise *cls* is constructed (it need not be registered).

        Raises:
            UnknownDependencyError: a constructor dependency is not visible from *module*.

        When *cls* is (or depends on) a ``Scope.REQUEST`` provider, a :class:`PerRequest`
        stand-in is returned: its enhancer methods use the instance of the current request.
        """
        cache_key = (cls, id(module))
        if cache_key in self._created:
            return cast(T, self._created[cache_key])
        assert module.injector is not None
        if cls in self._overrides:
            provider = replace(self._overrides[cls], token=cls)
        elif cls in module.visible:
            provider = None
        else:
            provider = Provider(cls, use_class=cls)
        instance: Any
        if provider is None:
            owner = module.visible[cls]
            if owner.records[cls].scope is Scope.REQUEST:
                # Built per request (per socket in gateways), not once: see PerRequest.
                instance = PerRequest(cls, self.resolver(cls, module))
            else:
                instance = _get(module.injector, _Key(cls))
        else:
            where = f"module {module.name}, {cls.__qualname__}"
            deps = provider_dependencies(provider, where)
            dependent = provider.use_class or cls
            owners = resolve_owners(module, deps, dependent)
            record = ProviderRecord(provider, module, deps, owners, declared_scope(provider))
            if self._needs_request(deps, owners):
                inj = module.injector
                scope = RequestScope(inj)
                recipe = _provider_for(record)
                key: Any = _Key(cls)
                instance = PerRequest(cls, lambda: scope.get(key, recipe).get(inj))
            else:
                instance = _provider_for(record).get(module.injector)
        self._created[cache_key] = instance
        self._created_by_module.setdefault(id(module), []).append(instance)
        return cast(T, instance)

    @staticmethod
    def _needs_request(
        deps: tuple[Dependency, ...], owners: tuple[ModuleNode | None, ...]
    ) -> bool:
        return any(
            owner is not None and owner.records[dep.token].scope is Scope.REQUEST
            for dep, owner in zip(deps, owners, strict=True)
        )
