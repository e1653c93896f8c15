"""``Test.create_testing_module(...)``: build a module graph with providers replaced.

NestJS's ``Test.createTestingModule({...}).overrideProvider(X).useValue(fake).compile()``,
in Python: the builder collects overrides, ``compile()`` builds a container from a
synthetic root module that imports and provides what was given, with the overrides in
place, and instantiates it. Guards, pipes, interceptors and filters named by class in
``@UseGuards(...)`` & co. are built by ``Container.create``, which consults the same
overrides, so ``override_guard(G)`` replaces ``G`` wherever it is used.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from nestpy._di import Container, DynamicModule, Module, Provider
from nestpy.common.interfaces import ApplicationContext
from nestpy.exceptions import BootstrapError

if TYPE_CHECKING:
    from nestpy._application import NestApplication
    from nestpy._di.container import ModuleNode
    from nestpy.websockets._explorer import GatewayDefinition

__all__ = ["OverrideBy", "Test", "TestingModule", "TestingModuleBuilder"]

T = TypeVar("T")

_counter = itertools.count(1)


class OverrideBy:
    """Says what replaces one token: returned by ``override_provider(...)`` and friends.

    Each ``use_*`` method records the replacement and returns the builder, so calls chain:
    ``builder.override_provider(A).use_value(a).override_guard(G).use_value(g)``.

    .. versionadded:: 0.1
    """

    __slots__ = ("_builder", "_token")

    def __init__(self, builder: TestingModuleBuilder, token: Any) -> None:
        self._builder = builder
        self._token = token

    def use_value(self, value: Any) -> TestingModuleBuilder:
        """Replace the token with this very object (a fake, a stub, a configured instance)."""
        return self._builder._set(Provider(self._token, use_value=value))

    def use_class(self, cls: type) -> TestingModuleBuilder:
        """Replace the token with an instance of *cls* (its constructor is injected)."""
        return self._builder._set(Provider(self._token, use_class=cls))

    def use_factory(
        self, factory: Callable[..., Any], *, inject: Sequence[Any] = ()
    ) -> TestingModuleBuilder:
        """Replace the token with ``factory(*resolved inject tokens)`` (a plain ``def``)."""
        return self._builder._set(Provider(self._token, use_factory=factory, inject=inject))


class TestingModuleBuilder:
    """Collects a testing module's imports, providers and overrides; ``compile()`` builds it.

    Create it with :meth:`Test.create_testing_module`.

    .. versionadded:: 0.1
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, imports: Sequence[Any], providers: Sequence[Any]) -> None:
        self._imports = tuple(imports)
        self._providers = tuple(providers)
        self._overrides: dict[Any, Provider] = {}

    def _set(self, provider: Provider) -> TestingModuleBuilder:
        self._overrides[provider.token] = provider  # a later override of a token wins
        return self

    def override_provider(self, token: Any) -> OverrideBy:
        """Replace the provider of *token* (a class or any token) in every module."""
        return OverrideBy(self, token)

    def override_guard(self, guard: type) -> OverrideBy:
        """Replace guard class *guard* wherever ``@UseGuards``/``use_global_guards`` name it.

        Only guards given as classes can be replaced; an instance (``@UseGuards(G())``) is
        used as it is.
        """
        return OverrideBy(self, _enhancer_class(guard, "override_guard"))

    def override_pipe(self, pipe: type) -> OverrideBy:
        """Replace pipe class *pipe* wherever it is named by class."""
        return OverrideBy(self, _enhancer_class(pipe, "override_pipe"))

    def override_interceptor(self, interceptor: type) -> OverrideBy:
        """Replace interceptor class *interceptor* wherever it is named by class."""
        return OverrideBy(self, _enhancer_class(interceptor, "override_interceptor"))

    def override_filter(self, filter_: type) -> OverrideBy:
        """Replace exception-filter class *filter_* wherever it is named by class."""
        return OverrideBy(self, _enhancer_class(filter_, "override_filter"))

    async def compile(self) -> TestingModule:
        """Build and check the module graph, with the overrides, and create every singleton.

        Returns:
            The compiled :class:`TestingModule`.

        Raises:
            BootstrapError: any wiring mistake, as ``NestFactory.create`` would raise it.
        """
        root: type = Module(imports=self._imports, providers=self._providers)(
            type(f"RootTestModule{next(_counter)}", (), {"__module__": __name__})
        )
        from nestpy._application import explore_gateways, with_core_module

        # The same root wrapping as NestFactory.create (Reflector & co. injectable).
        container = Container.build(with_core_module(root), overrides=self._overrides)
        container.instantiate()
        return TestingModule(container, explore_gateways(container))


class TestingModule:
    """A compiled testing module: resolve providers, or create an application from it.

    .. versionadded:: 0.1
    """

    __test__ = False

    def __init__(
        self,
        container: Container,
        gateways: list[tuple[Any, GatewayDefinition, ModuleNode]],
    ) -> None:
        self._container = container
        self._gateways = gateways
        self._apps: list[NestApplication] = []

    @property
    def container(self) -> ApplicationContext:
        """The providers the module was compiled into (``get(token)``, ``instances()``)."""
        return self._container

    @overload
    def get(self, token: type[T]) -> T: ...

    @overload
    def get(self, token: Any) -> Any: ...

    def get(self, token: Any) -> Any:
        """The instance bound to *token* in any module (an override if one was given).

        Raises:
            UnknownElementError: no module provides *token*.
        """
        return self._container.get(token)

    def create_nest_application(self, *, include_cause: bool = True) -> NestApplication:
        """A ``NestApplication`` over this module's providers, not listening yet.

        ``async with module.create_nest_application() as app:`` listens on 127.0.0.1 with
        every port ephemeral and closes the application on exit; or call
        ``await app.listen(...)`` yourself.

        Args:
            include_cause: include ``cause`` in error payloads (as ``NestFactory.create``).
        """
        from nestpy._application import NestApplication

        app = NestApplication(self._container, self._gateways, include_cause=include_cause)
        self._apps.append(app)
        return app

    async def close(self) -> None:
        """Close every application created from this module (idempotent)."""
        apps, self._apps = self._apps, []
        for app in reversed(apps):
            await app.close()


class Test:
    """Entry point of the testing module API (NestJS's ``Test``).

    .. versionadded:: 0.1
    """

    __test__ = False

    @staticmethod
    def create_testing_module(
        *, imports: Iterable[Any] = (), providers: Iterable[Any] = ()
    ) -> TestingModuleBuilder:
        """A builder for a root module that imports *imports* and provides *providers*.

        Args:
            imports: module classes or ``DynamicModule`` objects (e.g. your ``AppModule``).
            providers: classes or ``Provider(...)`` objects, gateways included.

        Example::

            module = await (
                Test.create_testing_module(imports=[AppModule])
                .override_provider(ChatService).use_value(FakeChatService())
                .compile()
            )
        """
        imports = tuple(imports)
        for index, item in enumerate(imports):
            if not isinstance(item, (type, DynamicModule)):
                raise BootstrapError(
                    f"Test.create_testing_module(imports=...)[{index}] is {item!r}, which is "
                    "not a module. Pass module classes or DynamicModule objects; providers "
                    "go in providers=[...]."
                )
        return TestingModuleBuilder(imports, tuple(providers))


def _enhancer_class(cls: Any, method: str) -> type:
    if not isinstance(cls, type):
        raise TypeError(
            f"{method}() takes the class named in the decorator, got {cls!r}; an instance "
            "passed to the decorator cannot be replaced. Pass the class to the decorator "
            "instead."
        )
    return cls
