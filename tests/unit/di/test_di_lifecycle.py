"""Lifecycle hook order across nested modules, sync and async hooks; Container.create()."""

from typing import Annotated

import pytest

from nestpy._di import Container, Inject, Module, Provider, call_hook
from nestpy._di.lifecycle import INIT_HOOKS, SHUTDOWN_HOOKS, hook_order
from nestpy.exceptions import ScopeError, UnknownDependencyError

LOG: list[str] = []


class Hooks:
    """Records every hook; even-numbered hooks are sync, odd ones async."""

    def on_module_init(self) -> None:
        LOG.append(f"{type(self).__name__}.init")

    async def on_application_bootstrap(self) -> None:
        LOG.append(f"{type(self).__name__}.bootstrap")

    def on_module_destroy(self) -> None:
        LOG.append(f"{type(self).__name__}.destroy")

    async def before_application_shutdown(self, signal: str | None) -> None:
        LOG.append(f"{type(self).__name__}.before_shutdown({signal})")

    def on_application_shutdown(self, signal: str | None) -> None:
        LOG.append(f"{type(self).__name__}.shutdown({signal})")


class DbService(Hooks): ...


class DbPool(Hooks): ...


@Module(providers=[DbService, DbPool], exports=[DbService])
class DbModule(Hooks): ...


class UsersService(Hooks):
    def __init__(self, db: DbService) -> None:
        self.db = db


@Module(imports=[DbModule], providers=[UsersService], exports=[UsersService])
class UsersModule(Hooks): ...


class AppService(Hooks):
    def __init__(self, users: UsersService) -> None:
        self.users = users


@Module(imports=[UsersModule], providers=[AppService, Provider("PLAIN", use_value=42)])
class AppModule(Hooks): ...


async def run_all(container: Container, signal: str | None = "SIGTERM") -> list[str]:
    LOG.clear()
    for name in INIT_HOOKS:
        await call_hook(hook_order(container, name), name)
    for name in SHUTDOWN_HOOKS:
        args = () if name == "on_module_destroy" else (signal,)
        await call_hook(hook_order(container, name), name, *args)
    return list(LOG)


async def test_hook_order_across_three_nested_modules() -> None:
    """Start-up: deepest module first; shutdown: root first (NestJS 11).

    In each module: providers in declaration order, then the module instance.
    """
    c = Container.build(AppModule)
    c.instantiate()
    assert [n.cls for n in c.modules] == [DbModule, UsersModule, AppModule]
    init = [
        "DbService",
        "DbPool",
        "DbModule",
        "UsersService",
        "UsersModule",
        "AppService",
        "AppModule",
    ]
    shutdown = [
        "AppService",
        "AppModule",
        "UsersService",
        "UsersModule",
        "DbService",
        "DbPool",
        "DbModule",
    ]
    assert await run_all(c) == [
        *(f"{n}.init" for n in init),
        *(f"{n}.bootstrap" for n in init),
        *(f"{n}.destroy" for n in shutdown),
        *(f"{n}.before_shutdown(SIGTERM)" for n in shutdown),
        *(f"{n}.shutdown(SIGTERM)" for n in shutdown),
    ]


async def test_instances_order_and_values() -> None:
    c = Container.build(AppModule)
    kinds = [type(obj).__name__ for obj in c.instances()]
    assert kinds == [
        "DbService",
        "DbPool",
        "DbModule",
        "UsersService",
        "UsersModule",
        "AppService",
        "int",
        "AppModule",
    ]


async def test_async_hook_is_awaited_before_the_next_one() -> None:
    order: list[str] = []

    class Slow:
        async def on_module_init(self) -> None:
            import asyncio

            await asyncio.sleep(0.01)
            order.append("slow")

    class Fast:
        def on_module_init(self) -> None:
            order.append("fast")

    await call_hook([Slow(), object(), Fast(), None, Slow], "on_module_init")
    assert order == ["slow", "fast"]  # the class Slow itself is skipped


async def test_a_failing_hook_propagates() -> None:
    class Broken:
        def on_module_init(self) -> None:
            raise RuntimeError("init failed")

    with pytest.raises(RuntimeError, match="init failed"):
        await call_hook([Broken()], "on_module_init")


async def test_on_error_reports_and_continues() -> None:
    class Broken:
        async def on_module_destroy(self) -> None:
            raise RuntimeError("destroy failed")

    class Fine:
        def on_module_destroy(self) -> None:
            LOG.append("fine")

    LOG.clear()
    errors: list[tuple[object, Exception]] = []
    broken = Broken()
    await call_hook(
        [broken, Fine()], "on_module_destroy", on_error=lambda i, e: errors.append((i, e))
    )
    assert LOG == ["fine"]
    assert errors[0][0] is broken and str(errors[0][1]) == "destroy failed"


# --- create() -----------------------------------------------------------------------------


class RolesGuard:
    def __init__(self, users: UsersService, prefix: Annotated[str, Inject("PREFIX")] = "") -> None:
        self.users, self.prefix = users, prefix


def test_create_builds_an_unregistered_class_with_visible_dependencies() -> None:
    c = Container.build(AppModule)
    app = next(n for n in c.modules if n.cls is AppModule)
    guard = c.create(RolesGuard, app)
    assert guard.users is c.get(UsersService)
    assert guard.prefix == ""
    assert c.create(RolesGuard, app) is guard  # cached per (class, module)
    users = next(n for n in c.modules if n.cls is UsersModule)
    assert c.create(RolesGuard, users) is not guard
    # created instances take part in the module's hooks, before the module instance
    assert c.module_instances(app)[-2:] == [guard, app.instance]


def test_create_reports_dependencies_the_module_cannot_see() -> None:
    c = Container.build(AppModule)
    db = next(n for n in c.modules if n.cls is DbModule)
    with pytest.raises(UnknownDependencyError) as info:
        c.create(RolesGuard, db)
    assert info.value.dependent is RolesGuard and "DbModule" in str(info.value)


def test_create_honours_overrides_and_registered_providers() -> None:
    fake = object()
    c = Container.build(AppModule, overrides={RolesGuard: Provider(RolesGuard, use_value=fake)})
    app = next(n for n in c.modules if n.cls is AppModule)
    assert c.create(RolesGuard, app) is fake
    assert c.create(AppService, app) is c.get(AppService)  # a visible provider is reused


def test_create_builds_an_enhancer_with_request_scoped_dependencies_per_request() -> None:
    """DESIGN "Scopes in gateways": an enhancer may use a request-scoped provider; it is
    then one instance per request (per socket in gateways). Contract changed from a
    BootstrapError (issue 10)."""
    from nestpy._di import Injectable, Scope
    from nestpy._di.scopes import PerRequest, request_context

    @Injectable(scope=Scope.REQUEST)
    class PerMessage: ...

    class Guard:
        def __init__(self, m: PerMessage) -> None:
            self.m = m

        def can_activate(self, context: object) -> object:
            return self.m

    @Module(providers=[PerMessage])
    class M: ...

    c = Container.build(M)
    guard = c.create(Guard, c.modules[0])
    assert isinstance(guard, PerRequest) and guard.target is Guard
    with request_context():
        first = guard.can_activate(None)
        assert guard.can_activate(None) is first  # one instance per request
    with request_context():
        assert guard.can_activate(None) is not first
    with pytest.raises(ScopeError):
        guard.can_activate(None)  # outside a request


def test_create_gives_a_visible_request_scoped_enhancer_per_request() -> None:
    from nestpy._di import Injectable, Scope
    from nestpy._di.scopes import PerRequest, request_context

    @Injectable(scope=Scope.REQUEST)
    class PerMessageGuard:
        def can_activate(self, context: object) -> object:
            return self

    @Module(providers=[PerMessageGuard])
    class M: ...

    c = Container.build(M)
    guard = c.create(PerMessageGuard, c.modules[0])
    assert isinstance(guard, PerRequest)
    with request_context():
        assert isinstance(guard.can_activate(None), PerMessageGuard)
