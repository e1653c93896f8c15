"""nestpy's pytest fixtures ``nest_app`` and ``nest_client``: their types and their work.

The ``pytest11: nestpy`` entry point is the top-level module ``nestpy_pytest``, which defines
the two fixtures and imports this module only when a fixture runs (a plugin inside the
``nestpy`` package would import nestpy before pytest-cov starts, and coverage would miss
every module-level line).

Both fixtures are factories, so one test can start several applications and open several
clients. Whatever they created is closed at teardown, whether the test passed or failed:
clients first, then applications (their ports refuse connections afterwards).

The async fixtures run on pytest-asyncio (a dependency of pytest-aiohttp), in any
``asyncio_mode``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from nestpy_pytest import nest_app, nest_client

if TYPE_CHECKING:
    from nestpy._application import NestApplication
    from nestpy._di import DynamicModule
    from nestpy.testing.client import SocketClient
    from nestpy.testing.module import TestingModule

__all__ = [
    "NestAppFactory",
    "NestClientFactory",
    "app_factory",
    "client_factory",
    "nest_app",
    "nest_client",
]


class NestAppFactory(Protocol):
    """The ``nest_app`` fixture: ``app = await nest_app(AppModule, overrides={...})``."""

    def __call__(
        self,
        target: type | DynamicModule | TestingModule | NestApplication,
        *,
        overrides: Mapping[Any, Any] | None = None,
        listen: bool = True,
    ) -> Awaitable[NestApplication]:
        """Create (and by default start) an application; closed at teardown.

        Args:
            target: a root module (class or ``DynamicModule``), a compiled
                ``TestingModule``, or an application already created.
            overrides: token → replacement, for a module *target*: a ``Provider(...)`` is
                used as it is, any other value as ``use_value``.
            listen: listen on 127.0.0.1 with every port ephemeral (``app.url_for(...)``
                gives the URLs). With False, call ``await app.listen(...)`` yourself
                (e.g. after ``app.use_global_pipes(...)``).
        """
        ...


class NestClientFactory(Protocol):
    """The ``nest_client`` fixture: ``client = await nest_client(app, "/chat", auth=...)``."""

    def __call__(
        self, target: NestApplication | str, namespace: str = "/", **options: Any
    ) -> Awaitable[SocketClient]:
        """Open a connected ``SocketClient``; disconnected at teardown.

        Args:
            target: a listening application, or a server URL.
            namespace: the namespace to join.
            options: ``SocketClient`` options (``auth=``, ``headers=``, ``transports=``...).
        """
        ...


async def _make_app(target: Any, overrides: Mapping[Any, Any] | None) -> NestApplication:
    from dataclasses import replace

    from nestpy._application import NestApplication, NestFactory
    from nestpy._di import Provider
    from nestpy.testing.module import Test, TestingModule

    if isinstance(target, NestApplication):
        if overrides:
            raise TypeError("nest_app(app, overrides=...): an application is already built")
        return target
    if isinstance(target, TestingModule):
        if overrides:
            raise TypeError(
                "nest_app(testing_module, overrides=...): the module is compiled already; "
                "override on the builder (Test.create_testing_module(...).override_provider)"
            )
        return target.create_nest_application()
    if not overrides:
        return await NestFactory.create(target)
    builder = Test.create_testing_module(imports=[target])
    for token, value in overrides.items():
        if isinstance(value, Provider):
            builder._set(replace(value, token=token))
        else:
            builder.override_provider(token).use_value(value)
    module = await builder.compile()
    return module.create_nest_application()


@contextlib.asynccontextmanager
async def app_factory() -> AsyncIterator[NestAppFactory]:
    """What the ``nest_app`` fixture yields: the factory, and the closing of what it made.

    The application listens on 127.0.0.1 with every port ephemeral; use
    ``app.url_for("/namespace")`` or ``nest_client(app, "/namespace")``. Every application
    it returned is closed on exit, even when the test failed.
    """
    apps: list[NestApplication] = []

    async def make(
        target: Any, *, overrides: Mapping[Any, Any] | None = None, listen: bool = True
    ) -> NestApplication:
        app = await _make_app(target, overrides)
        apps.append(app)
        if listen and not app.ports:
            await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
        return app

    try:
        yield make
    finally:
        errors: list[BaseException] = []
        for app in reversed(apps):
            try:
                await app.close()
            except Exception as exc:  # close every app; report the first failure after
                errors.append(exc)
        if errors:
            raise errors[0]


@contextlib.asynccontextmanager
async def client_factory() -> AsyncIterator[NestClientFactory]:
    """What the ``nest_client`` fixture yields: the factory, and the disconnecting.

    Returns a connected ``SocketClient``; every client it opened is disconnected on exit,
    even when the test failed (the fixture depends on ``nest_app``, so clients go before
    applications).
    """
    from nestpy.testing.client import SocketClient

    clients: list[SocketClient] = []

    async def make(target: Any, namespace: str = "/", **options: Any) -> SocketClient:
        url = target if isinstance(target, str) else target.url_for(namespace)
        client = SocketClient(url, namespace, **options)
        clients.append(client)
        await client.connect()
        return client

    try:
        yield make
    finally:
        for client in reversed(clients):
            await client.disconnect()
