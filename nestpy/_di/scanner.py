"""Walk the module graph and check it: visibility, exports, dependencies, cycles, scopes.

Everything here runs once, when the container is built, and creates no user instance.
The result is a list of :class:`ModuleNode` (one per module class or ``DynamicModule``) whose
providers know, for every dependency, which module owns the provider that satisfies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from nestpy import _metadata
from nestpy.exceptions import (
    BootstrapError,
    CircularDependencyError,
    ModuleVisibilityError,
    UnknownDependencyError,
)

from ._signature import Dependency, constructor_dependencies, factory_dependencies
from .decorators import InjectableMetadata, ModuleMetadata
from .providers import DynamicModule, Provider
from .scopes import Scope

if TYPE_CHECKING:
    import injector

__all__ = ["ModuleNode", "ProviderCycleError", "ProviderRecord", "scan"]


class ProviderCycleError(CircularDependencyError):
    """Providers depend on each other in a cycle; ``path`` lists the tokens, first one repeated."""

    def __init__(self, path: list[Any], module: type) -> None:
        self.path = path
        self.module = module
        super().__init__(str(self))

    def __str__(self) -> str:
        chain = " -> ".join(name_of(tok) for tok in self.path)
        return (
            f"Circular dependency between providers: {chain} (starting in module "
            f"{self.module.__qualname__}). nestpy has no forwardRef: move what both need into a "
            f"third provider, or hand one side the other later (in on_module_init)."
        )


@dataclass(eq=False)
class ProviderRecord:
    """One provider as the scanner understood it.

    ``owners[i]`` is the module owning the provider of ``deps[i]``, or ``None`` when that
    token is not visible and the parameter's default is used. ``scope`` is the effective
    scope: a singleton that depends on a request-scoped provider becomes request-scoped
    (NestJS's scope bubbling); ``request_via`` names that dependency.
    """

    provider: Provider
    node: ModuleNode
    deps: tuple[Dependency, ...]
    owners: tuple[ModuleNode | None, ...] = ()
    declared: Scope = Scope.SINGLETON
    scope: Scope = Scope.SINGLETON
    request_via: ProviderRecord | None = None

    @property
    def token(self) -> Any:
        """The token this provider answers."""
        return self.provider.token

    @property
    def kind(self) -> str:
        """``"value"``, ``"class"``, ``"factory"`` or ``"existing"``."""
        return self.provider.kind


@dataclass(eq=False)
class ModuleNode:
    """One module of the application: a ``@Module`` class or one ``DynamicModule`` object.

    Attributes:
        cls: the module class.
        dynamic: the ``DynamicModule`` this node comes from, if any.
        distance: depth from the root (root = 0); the longest import path, as NestJS computes.
        providers: own providers by token, in declaration order.
        instance: the module class instance once the container is instantiated.
        is_global: ``@Global()`` or ``DynamicModule(global_=True)``.
        imports: imported modules, in declaration order.
        exports: exported token -> the module that owns its provider.
        visible: every token this module can inject -> the module that owns its provider.
    """

    cls: type
    dynamic: DynamicModule | None = None
    distance: int = 0
    providers: dict[Any, Provider] = field(default_factory=dict)
    instance: Any = None
    is_global: bool = False
    imports: list[ModuleNode] = field(default_factory=list)
    exports: dict[Any, ModuleNode] = field(default_factory=dict)
    visible: dict[Any, ModuleNode] = field(default_factory=dict)
    records: dict[Any, ProviderRecord] = field(default_factory=dict)
    module_deps: tuple[Dependency, ...] = ()
    module_owners: tuple[ModuleNode | None, ...] = ()
    injector: injector.Injector | None = None
    raw_exports: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        """The module class's qualified name."""
        return self.cls.__qualname__

    def __repr__(self) -> str:
        dyn = " (dynamic)" if self.dynamic is not None else ""
        return f"<ModuleNode {self.name}{dyn} distance={self.distance}>"


def name_of(obj: Any) -> str:
    """A readable name for a token, class or function."""
    if isinstance(obj, type):
        return obj.__qualname__
    if isinstance(obj, str):
        return repr(obj)
    return getattr(obj, "__qualname__", None) or repr(obj)


def is_module_definition(obj: Any) -> bool:
    """A ``@Module`` class or a ``DynamicModule``."""
    return isinstance(obj, DynamicModule) or (
        isinstance(obj, type) and _metadata.has_meta(obj, _metadata.MODULE)
    )


def scan(
    root: type | DynamicModule, overrides: Mapping[Any, Provider] | None = None
) -> list[ModuleNode]:
    """Build and check the module graph from *root*; return the nodes in discovery order.

    Discovery is depth-first, a module before its imports (NestJS's insertion order); the
    root is first.

    Raises:
        BootstrapError: and its subclasses, for every wiring mistake.
    """
    overrides = _check_overrides(overrides or {})
    nodes = _discover(root, overrides)
    _compute_distances(nodes[0])
    globals_ = [node for node in nodes if node.is_global]
    _link_exports(nodes, globals_)
    for node in nodes:
        node.visible = _visible(node, globals_)
    for node in nodes:
        _resolve_dependencies(node)
    _check_cycles_and_scopes(nodes)
    return nodes


# --- discovery -------------------------------------------------------------------------------


def _discover(root: Any, overrides: Mapping[Any, Provider]) -> list[ModuleNode]:
    seen: dict[Any, ModuleNode] = {}  # module class or DynamicModule (identity) -> node
    order: list[ModuleNode] = []

    def visit(definition: Any, importer: ModuleNode | None, index: int) -> ModuleNode:
        _check_definition(definition, importer, index)
        found = seen.get(definition)
        if found is not None:
            return found  # already scanned; import cycles stop here
        node = _new_node(definition, overrides)
        seen[definition] = node
        order.append(node)
        meta, dynamic = _module_parts(definition)
        imports = [*meta.imports, *(dynamic.imports if dynamic else ())]
        node.imports = [visit(item, node, i) for i, item in enumerate(imports)]
        return node

    visit(root, None, 0)
    return order


def _check_definition(definition: Any, importer: ModuleNode | None, index: int) -> None:
    if is_module_definition(definition):
        return
    where = f"{importer.name} imports[{index}]" if importer else "The root module"
    if definition is None:
        raise BootstrapError(
            f"{where} is None. This is usually a circular Python import between two module "
            f"files: move the import inside a function, or merge the modules."
        )
    raise BootstrapError(
        f"{where} is {name_of(definition)}, which is not a module. Decorate the class with "
        f"@Module(...), or import a DynamicModule (e.g. ConfigModule.for_root(...))."
    )


def _module_parts(definition: Any) -> tuple[ModuleMetadata, DynamicModule | None]:
    if isinstance(definition, DynamicModule):
        meta = _metadata.get_meta(definition.module, _metadata.MODULE) or ModuleMetadata()
        return meta, definition
    return _metadata.get_meta(definition, _metadata.MODULE), None


def _new_node(definition: Any, overrides: Mapping[Any, Provider]) -> ModuleNode:
    meta, dynamic = _module_parts(definition)
    cls = dynamic.module if dynamic else definition
    node = ModuleNode(
        cls=cls,
        dynamic=dynamic,
        is_global=_metadata.has_meta(cls, _metadata.GLOBAL) or bool(dynamic and dynamic.global_),
        raw_exports=(*meta.exports, *(dynamic.exports if dynamic else ())),
    )
    entries = (*meta.providers, *(dynamic.providers if dynamic else ()))
    for index, entry in enumerate(entries):
        provider = _normalize(entry, node, index)
        if provider.token in overrides:
            provider = replace(overrides[provider.token], token=provider.token)
        node.providers[provider.token] = provider  # a later duplicate replaces (NestJS)
    return node


def _normalize(entry: Any, node: ModuleNode, index: int) -> Provider:
    if isinstance(entry, Provider):
        provider = entry
    elif isinstance(entry, type):
        provider = Provider(entry, use_class=entry)
    else:
        raise BootstrapError(
            f"{node.name} providers[{index}] is {entry!r}, which is neither a class nor a "
            f"Provider. Use Provider(token, use_value=...) for a value."
        )
    _check_hashable(provider.token, f"{node.name} providers[{index}]")
    return provider


def _check_hashable(token: Any, where: str) -> None:
    try:
        hash(token)
    except TypeError:
        raise BootstrapError(
            f"{where}: the token {token!r} is not hashable. Use a class, a string or another "
            f"hashable value as a token."
        ) from None


def _check_overrides(overrides: Mapping[Any, Provider]) -> dict[Any, Provider]:
    for token, provider in overrides.items():
        _check_hashable(token, "overrides")
        if not isinstance(provider, Provider):
            raise BootstrapError(
                f"overrides[{name_of(token)}] must be a Provider(...), got {provider!r}."
            )
    return dict(overrides)


# --- distances -------------------------------------------------------------------------------


def _compute_distances(root: ModuleNode) -> None:
    """Longest import path from the root, as NestJS's ``calculateModulesDistance``.

    Like NestJS, global modules count only through explicit imports. Unlike NestJS, a module
    already on the current path keeps its distance (NestJS bumps it, so a root in an import
    cycle would run its hooks first).
    """

    def walk(node: ModuleNode, distance: int, path: frozenset[int]) -> None:
        for imported in node.imports:
            if id(imported) in path or distance <= imported.distance:
                continue  # no longer path through here: nothing below changes
            imported.distance = distance
            walk(imported, distance + 1, path | {id(imported)})

    walk(root, 1, frozenset({id(root)}))


# --- exports and visibility ------------------------------------------------------------------


def _link_exports(nodes: list[ModuleNode], globals_: list[ModuleNode]) -> None:
    """Fill ``node.exports`` for every node, re-exported modules included.

    Re-exports may form cycles through import cycles, so the sets grow to a fixed point.
    """
    module_exports: dict[int, list[ModuleNode]] = {}
    token_exports: dict[int, list[Any]] = {}
    for node in nodes:
        modules, tokens = [], []
        for entry in node.raw_exports:
            matched = _imported_matching(node, entry)
            if matched:
                modules.extend(matched)
            elif is_module_definition(entry):
                other = name_of(entry.module if isinstance(entry, DynamicModule) else entry)
                raise ModuleVisibilityError(
                    f"Module {node.name} exports the module {other} but does not import it. "
                    f"Add {other} to {node.name}'s imports, or remove it from its exports."
                )
            else:
                token = entry.token if isinstance(entry, Provider) else entry
                _check_hashable(token, f"{node.name} exports")
                tokens.append(token)
        module_exports[id(node)], token_exports[id(node)] = modules, tokens

    changed = True
    while changed:
        changed = False
        for node in nodes:
            for token in token_exports[id(node)]:
                if token not in node.exports:
                    owner = _own_or_imported(node, token, globals_)
                    if owner is not None:
                        node.exports[token] = owner
                        changed = True
            for imported in module_exports[id(node)]:
                for token, owner in imported.exports.items():
                    if token not in node.exports:
                        node.exports[token] = owner
                        changed = True

    for node in nodes:
        for token in token_exports[id(node)]:
            if token not in node.exports:
                raise ModuleVisibilityError(
                    f"Module {node.name} exports {name_of(token)}, but neither provides it nor "
                    f"imports a module that exports it. Add {name_of(token)} to "
                    f"{node.name}'s providers, or import the module that provides it."
                )


def _imported_matching(node: ModuleNode, entry: Any) -> list[ModuleNode]:
    if isinstance(entry, DynamicModule):
        return [imp for imp in node.imports if imp.dynamic is entry]
    if isinstance(entry, type):
        # Exporting a module class re-exports every import of that class, dynamic or not.
        return [imp for imp in node.imports if imp.cls is entry]
    return []


def _own_or_imported(node: ModuleNode, token: Any, globals_: list[ModuleNode]) -> ModuleNode | None:
    if token in node.providers:
        return node
    for other in (*node.imports, *globals_):
        owner = other.exports.get(token)
        if owner is not None:
            return owner
    return None


def _visible(node: ModuleNode, globals_: list[ModuleNode]) -> dict[Any, ModuleNode]:
    # Lookup order (NestJS): own providers, then each import's exports in declaration order,
    # then the exports of global modules. The first match wins.
    visible = dict.fromkeys(node.providers, node)
    for other in (*node.imports, *(g for g in globals_ if g is not node)):
        for token, owner in other.exports.items():
            visible.setdefault(token, owner)
    return visible


# --- dependencies, cycles, scopes ------------------------------------------------------------


def declared_scope(provider: Provider) -> Scope:
    """The scope a provider asks for, before bubbling."""
    if provider.kind in ("value", "existing"):
        return Scope.SINGLETON
    if provider.scope is not None:
        return provider.scope
    if provider.use_class is not None:
        meta = _metadata.get_meta(provider.use_class, _metadata.INJECTABLE)
        if isinstance(meta, InjectableMetadata):
            return meta.scope
    return Scope.SINGLETON


def provider_dependencies(provider: Provider, where: str) -> tuple[Dependency, ...]:
    """What *provider* needs, parsed once."""
    if provider.use_class is not None:
        return constructor_dependencies(provider.use_class, where)
    if provider.use_factory is not None:
        return factory_dependencies(tuple(provider.inject))
    if provider.kind == "existing":
        return factory_dependencies((provider.use_existing,))
    return ()


def resolve_owners(
    node: ModuleNode, deps: tuple[Dependency, ...], dependent: Any
) -> tuple[ModuleNode | None, ...]:
    """The owning module of each dependency as seen from *node*.

    Raises:
        UnknownDependencyError: a required token is not visible from *node*.
    """
    owners: list[ModuleNode | None] = []
    for dep in deps:
        owner = node.visible.get(dep.token)
        if owner is None and not dep.optional:
            raise UnknownDependencyError(dep.token, node.cls, dependent=dependent, index=dep.index)
        owners.append(owner)
    return tuple(owners)


def _resolve_dependencies(node: ModuleNode) -> None:
    for token, provider in node.providers.items():
        where = f"module {node.name}, provider {name_of(token)}"
        deps = provider_dependencies(provider, where)
        dependent = provider.use_class if provider.use_class is not None else token
        record = ProviderRecord(provider, node, deps, declared=declared_scope(provider))
        record.owners = resolve_owners(node, deps, dependent)
        node.records[token] = record
    node.module_deps = constructor_dependencies(node.cls, f"module {node.name}, module class")
    node.module_owners = resolve_owners(node, node.module_deps, node.cls)


def _check_cycles_and_scopes(nodes: list[ModuleNode]) -> None:
    done: set[int] = set()
    active: dict[int, int] = {}  # id(record) -> position on the stack
    stack: list[ProviderRecord] = []

    def visit(record: ProviderRecord) -> None:
        if id(record) in done:
            return
        if id(record) in active:
            cycle = stack[active[id(record)] :]
            raise ProviderCycleError([r.token for r in (*cycle, record)], cycle[0].node.cls)
        active[id(record)] = len(stack)
        stack.append(record)
        scope = record.declared
        for dep, owner in zip(record.deps, record.owners, strict=True):
            if owner is None:
                continue
            target = owner.records[dep.token]
            visit(target)
            if record.kind == "existing":
                scope = target.scope  # an alias is whatever it points at
            elif target.scope is Scope.REQUEST and scope is Scope.SINGLETON:
                scope, record.request_via = Scope.REQUEST, target
        record.scope = scope
        stack.pop()
        del active[id(record)]
        done.add(id(record))

    for node in nodes:
        for record in node.records.values():
            visit(record)
        for dep, owner in zip(node.module_deps, node.module_owners, strict=True):
            if owner is None:
                continue
            visit(owner.records[dep.token])  # may live in a module not checked yet
            if owner.records[dep.token].scope is Scope.REQUEST:
                raise BootstrapError(
                    f"Module class {node.name} depends on {name_of(dep.token)}, which is "
                    f"request-scoped; a module instance lives as long as the application. "
                    f"Inject it into a request-scoped provider instead."
                )
        for record in node.records.values():
            _check_gateway_scope(record)


def _check_gateway_scope(record: ProviderRecord) -> None:
    cls = record.provider.use_class
    if cls is None or record.scope is Scope.SINGLETON:
        return
    if not _metadata.has_meta(cls, _metadata.GATEWAY):
        return
    if record.request_via is not None:
        why = (
            f"it depends on the request-scoped {name_of(record.request_via.token)}, which makes "
            f"it request-scoped too"
        )
    else:
        why = f"it is declared Scope.{record.scope.name}"
    raise BootstrapError(
        f"Gateway {cls.__qualname__} in module {record.node.name} cannot be "
        f"{record.scope.name}-scoped ({why}). A gateway lives as long as its server: make it "
        f"(and what it injects) a singleton, and resolve per-message state inside the handler."
    )
