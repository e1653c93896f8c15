"""``NestFactory`` and ``NestApplication``: assemble modules, gateways and servers.

``create()`` does every check that can fail (module graph, providers, handler markers,
gateway options) and builds the providers; ``init()`` (run by ``listen()``) creates the
Socket.IO servers, compiles the handlers with the global enhancers registered meanwhile
and runs the hooks; after that the application is sealed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal as _signal
from collections.abc import Mapping
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, overload

from nestpy import _metadata as md
from nestpy._di import Container, DynamicModule, Global, Module
from nestpy._di.container import ModuleNode
from nestpy._di.lifecycle import call_hook, hook_order
from nestpy._pipeline.enhancers import GlobalEnhancers, resolve_class_guards, resolve_enhancers
from nestpy.common.interfaces import ApplicationContext
from nestpy.common.reflector import Reflector
from nestpy.exceptions import BootstrapError, LateRegistrationError
from nestpy.logger import Logger, route_library_logs
from nestpy.observability._app import ObservabilityMixin

if TYPE_CHECKING:
    from aiohttp import web

    from nestpy.websockets._explorer import GatewayDefinition
    from nestpy.websockets._servers import ServerRegistry
    from nestpy.websockets._ws.adapter import PlainRegistry

__all__ = ["InternalCoreModule", "NestApplication", "NestFactory", "with_core_module"]

_log = Logger("NestApplication")

#: aiohttp's graceful-shutdown wait for requests still open after the clients were
#: disconnected (every long-poll is answered by then).
SHUTDOWN_TIMEOUT = 2.0
#: How long close() waits for the clients' sessions to end after their server disconnect
#: (a polling client takes its CLOSE with its next poll).
CLOSE_FLUSH_TIMEOUT = 1.0
T = TypeVar("T")


@Global()
@Module(providers=[Reflector], exports=[Reflector])
class InternalCoreModule:
    """What every module can inject without importing anything (NestJS's
    ``InternalCoreModule``): ``Reflector``, for guards and interceptors."""


def with_core_module(module: type | DynamicModule) -> DynamicModule:
    """*module* as the root, also importing :class:`InternalCoreModule`."""
    if isinstance(module, DynamicModule):
        return replace(module, imports=(*module.imports, InternalCoreModule))
    return DynamicModule(module, imports=(InternalCoreModule,))


class NestApplication(ObservabilityMixin):
    """A created application: providers built, gateways explored, not yet listening.

    Attributes:
        http_app: the aiohttp ``web.Application`` served on the application's port (the
            one ``listen(port)`` binds and gateways without a port share). Add routes,
            static files and health checks to it before ``listen()``, e.g. in a module's
            ``configure_app(self, app)`` hook, which ``nestpy start`` runs too.
    """

    def __init__(
        self,
        container: Container,
        gateways: list[tuple[Any, GatewayDefinition, ModuleNode]],
        *,
        include_cause: bool = True,
    ) -> None:
        self._container = container
        self._gateways = gateways
        self._globals = GlobalEnhancers()
        self._adapter: Any = None
        self._include_cause = include_cause
        # aiohttp is imported here, not at module level: `import nestpy` (and so
        # nestpy.common, the CLI) must not load the platform (STYLE.md dependency direction).
        from aiohttp import web

        self.http_app = web.Application()
        self._registry: ServerRegistry | None = None
        self._plain: PlainRegistry | None = None
        self._runners: list[web.AppRunner] = []
        self._bound: dict[int | None, int] = {}
        self._host = "127.0.0.1"
        self._initialised = False
        self._listening = False
        self._closed = False
        self._shutdown_hooks = False
        self._signal_loop: asyncio.AbstractEventLoop | None = None
        self._signal_tasks: set[asyncio.Future[None]] = set()

    # -- configuration (before init) ----------------------------------------------------

    def _check_open(self, what: str) -> None:
        if self._initialised:
            raise LateRegistrationError(
                f"{what} was called after the application was initialised (listen()/init()); "
                "handlers are compiled once at start, so register it before listen()."
            )

    def _check_buildable(self, items: tuple[Any, ...]) -> None:
        # A class whose dependencies are missing fails here, where it is registered, rather
        # than at listen() (built for every gateway's module then; cached by the container).
        for item in items:
            if isinstance(item, type):
                for _instance, _definition, node in self._gateways:
                    self._container.create(item, node)

    def use_global_guards(self, *guards: Any) -> NestApplication:
        """Guards for every gateway handler (classes are built by the container).

        Raises:
            UnknownDependencyError: a guard class depends on a provider no gateway's module
                can see (raised here, not at listen()).
        """
        self._check_open("use_global_guards")
        self._check_buildable(guards)
        self._globals.guards.extend(guards)
        return self

    def use_global_interceptors(self, *interceptors: Any) -> NestApplication:
        """Interceptors for every gateway handler (checked as :meth:`use_global_guards`)."""
        self._check_open("use_global_interceptors")
        self._check_buildable(interceptors)
        self._globals.interceptors.extend(interceptors)
        return self

    def use_global_pipes(self, *pipes: Any) -> NestApplication:
        """Pipes for every gateway handler's message body (checked as
        :meth:`use_global_guards`)."""
        self._check_open("use_global_pipes")
        self._check_buildable(pipes)
        self._globals.pipes.extend(pipes)
        return self

    def use_global_filters(self, *filters: Any) -> NestApplication:
        """Exception filters tried after method and class filters (checked as
        :meth:`use_global_guards`)."""
        self._check_open("use_global_filters")
        self._check_buildable(filters)
        self._globals.filters.extend(filters)
        return self

    def use_websocket_adapter(self, adapter: Any) -> NestApplication:
        """Choose the Socket.IO client manager (e.g. ``RedisIoAdapter(url)``), or
        ``WsAdapter(app)`` to serve every gateway over plain WebSocket."""
        self._check_open("use_websocket_adapter")
        self._adapter = adapter
        return self

    def enable_shutdown_hooks(self) -> NestApplication:
        """Close the application (running the shutdown hooks) on SIGINT/SIGTERM."""
        self._shutdown_hooks = True
        if self._listening:
            self._install_signals()
        return self

    @overload
    def get(self, token: type[T]) -> T: ...

    @overload
    def get(self, token: Any) -> Any: ...

    def get(self, token: Any) -> Any:
        """The instance bound to *token* in any module (NestJS's ``app.get``).

        Raises:
            UnknownElementError: no module provides *token*.
        """
        return self._container.get(token)

    @property
    def container(self) -> ApplicationContext:
        """The application's providers (``get(token)``, ``instances()``)."""
        return self._container

    # -- start ------------------------------------------------------------------------

    async def init(self) -> NestApplication:
        """Create the servers, compile handlers and run the init hooks (idempotent)."""
        if self._initialised:
            return self
        # Modules' configure_app(app) hooks: the place to add HTTP routes to app.http_app
        # (health checks, static files), global enhancers or an adapter. They run for every
        # module (deepest first), under NestFactory.run, `nestpy start` and tests alike.
        for node in self._container.modules:
            configure = getattr(node.instance, "configure_app", None)
            if configure is not None:
                r = configure(self)
                if asyncio.iscoroutine(r):
                    await r
        from nestpy._pipeline.compiler import Enhancers
        from nestpy.websockets._binding import bind_gateway
        from nestpy.websockets._servers import ServerRegistry
        from nestpy.websockets._ws import WsAdapter, WsServer
        from nestpy.websockets._ws.adapter import PlainRegistry, is_plain, port_app
        from nestpy.websockets.server import Server

        self._initialised = True
        manager_factory = None
        if self._adapter is not None and not isinstance(self._adapter, WsAdapter):
            manager_factory = self._adapter.create_client_manager
        registry = self._registry = ServerRegistry(self.http_app, manager_factory)
        plain = self._plain = PlainRegistry(self._adapter)
        after_init: list[tuple[Any, Any]] = []
        for instance, definition, node in self._gateways:
            sio: Any
            server: Any
            middleware: list[Any] = []
            if is_plain(definition.options, self._adapter):
                sio = plain.host_for(definition.cls, definition.options,
                                     port_app(registry, definition.options.port))
                server = WsServer(sio)
            else:
                sio = registry.server_for(definition.cls, definition.options)
                server = Server(sio, definition.options.namespace, middleware)
            for attr in definition.server_attrs:
                instance.__dict__[attr] = server

            def make(cls: type, _node: ModuleNode = node) -> Any:
                return self._container.create(cls, _node)

            per_handler: dict[str, Enhancers] = {}
            for h in definition.handlers:
                resolved = resolve_enhancers(
                    definition.cls, h.function, self._globals, make, h.signature
                )
                per_handler[h.event] = Enhancers(**resolved)
            conn_guards = resolve_class_guards(definition.cls, make)
            def resolve(token: Any, dependent: Any, _node: ModuleNode = node) -> Any:
                return self._container.resolver(token, _node, dependent)

            bind_gateway(instance, definition, sio, per_handler, conn_guards,
                         include_cause=self._include_cause, middleware=middleware,
                         resolve=resolve)
            if definition.has_init:
                after_init.append((instance, server))
        await plain.start()
        # After the servers exist: python-engineio has chosen its level (logger=True → INFO)
        # and added its plain StreamHandler, which this replaces with nestpy's output.
        route_library_logs()
        self._apply_observability()  # enable_metrics/tracing/admin_ui: wrap what was bound
        # NestJS calls afterInit while connecting gateways, before onModuleInit.
        for instance, server in after_init:
            r = instance.after_init(server)
            if asyncio.iscoroutine(r):
                await r
        _refuse_raw_lifecycle_handlers(registry.all_servers())
        await call_hook(hook_order(self._container, "on_module_init"), "on_module_init")
        await call_hook(
            hook_order(self._container, "on_application_bootstrap"), "on_application_bootstrap"
        )
        return self

    async def listen(
        self,
        port: int | None = None,
        host: str = "0.0.0.0",
        *,
        gateway_ports: Mapping[int, int] | None = None,
        ephemeral_gateways: bool = False,
    ) -> NestApplication:
        """Start listening.

        Args:
            port: the application's HTTP port (gateways declared without a port share it).
                ``None`` binds it only when such a gateway exists, on ``$PORT`` or 3000.
            host: interface to bind every site on.
            gateway_ports: remap declared gateway ports (``{3000: 0}`` → ephemeral).
            ephemeral_gateways: bind every gateway port on an ephemeral port (tests).
        """
        from aiohttp import web

        await self.init()
        assert self._registry is not None
        if self._listening:
            raise LateRegistrationError("listen() was called twice on one application")
        self._listening = True
        self._host = host
        remap = dict(gateway_ports or {})
        for declared, entry in self._registry.ports.items():
            if declared is None:
                # Bound when asked for, when a gateway shares it, when a plain gateway serves
                # it, or when configure_app added HTTP routes to http_app (health checks).
                if port is None and not entry.servers and not (
                    self._plain is not None and self._plain.serves(None)
                ) and not self.http_app.router.resources():
                    continue
                actual = port if port is not None else int(os.environ.get("PORT", "3000"))
                app = self.http_app
            else:
                actual = 0 if ephemeral_gateways else remap.get(declared, declared)
                app = entry.app
            runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, host, actual)
            try:
                await site.start()
            except OSError as exc:
                await runner.cleanup()
                await self._stop_runners()
                raise BootstrapError(
                    f"cannot listen on {host}:{actual} ({exc.strerror}); "
                    + ("another process uses the port: stop it or choose another port"
                       if exc.errno in (98, 48) else "check the host and port")
                ) from exc
            self._runners.append(runner)
            addresses = runner.addresses
            self._bound[declared] = int(addresses[-1][1]) if addresses else actual
            _log.info("listening", host=host, port=self._bound[declared],
                      declared=declared if declared is not None else "app")
        if self._shutdown_hooks:
            self._install_signals()
        return self

    @property
    def ports(self) -> dict[int | None, int]:
        """Declared port (``None`` = the application's) → bound port."""
        return dict(self._bound)

    def url_for(self, target: Any = None) -> str:
        """``http://host:port`` serving *target*: a gateway class, a namespace, a declared
        port, or None for the application's port."""
        declared: int | None = None
        if isinstance(target, type):
            opts = md.get_meta(target, md.GATEWAY)
            if opts is None:
                raise ValueError(f"{target.__qualname__} is not a gateway")
            declared = opts.port
        elif isinstance(target, str):
            ns = target if target.startswith("/") else "/" + target
            for _inst, definition, _node in self._gateways:
                gns = definition.options.namespace
                if (isinstance(gns, str) and gns == ns) or (
                    not isinstance(gns, str) and gns.fullmatch(ns)
                ):
                    declared = definition.options.port
                    break
            else:
                raise ValueError(f"no gateway serves namespace {ns!r}")
        elif isinstance(target, int):
            declared = target
        if declared not in self._bound:
            raise RuntimeError("the application is not listening on that port; call listen()")
        host = "127.0.0.1" if self._host in ("0.0.0.0", "", "::") else self._host
        return f"http://{host}:{self._bound[declared]}"

    def get_url(self) -> str:
        """The application's own URL (NestJS's ``app.getUrl()``)."""
        return self.url_for(None)

    # -- stop -------------------------------------------------------------------------

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        if self._signal_loop is loop:
            return
        self._signal_loop = loop
        def on_signal(sig: _signal.Signals) -> None:
            if self._closed:
                _force_exit(sig)
            task = asyncio.ensure_future(self.close(sig.name))
            self._signal_tasks.add(task)

        for sig in (_signal.SIGINT, _signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, on_signal, sig)

    async def _stop_runners(self) -> None:
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            with contextlib.suppress(Exception):
                await runner.cleanup()

    async def close(self, signal: str | None = None) -> None:
        """Shut down gracefully (idempotent), in this order:

        1. stop accepting connections and events, and let in-flight handlers finish (up to
           each server's ``drain_timeout``; acks of handlers still running then are answered
           with an error payload, never dropped);
        2. ``on_module_destroy``, then ``before_application_shutdown`` hooks;
        3. disconnect every client with a server disconnect (close frame: the client sees
           ``io server disconnect`` at once), stop listening;
        4. ``on_application_shutdown`` hooks.
        """
        if self._closed:
            return
        self._closed = True
        registry = self._registry
        if registry is not None:
            await registry.drain()
        c = self._container
        await call_hook(hook_order(c, "on_module_destroy"), "on_module_destroy")
        await call_hook(
            hook_order(c, "before_application_shutdown"), "before_application_shutdown", signal
        )
        if registry is not None:
            await registry.close(CLOSE_FLUSH_TIMEOUT)
        if self._plain is not None:
            await self._plain.close()  # every plain WebSocket closed with 1001
        await self._stop_runners()
        await call_hook(
            hook_order(c, "on_application_shutdown"), "on_application_shutdown", signal
        )
        # Only now: until here a second SIGINT/SIGTERM forces the exit (see _install_signals).
        if self._signal_loop is not None:
            for sig in (_signal.SIGINT, _signal.SIGTERM):
                with contextlib.suppress(Exception):
                    self._signal_loop.remove_signal_handler(sig)

    # -- conveniences -----------------------------------------------------------------

    async def __aenter__(self) -> NestApplication:
        if not self._listening:
            await self.listen(0, "127.0.0.1", ephemeral_gateways=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def test_client(self, namespace: str = "/", **options: Any) -> Any:
        """A ``nestpy.testing.SocketClient`` connected to *namespace* of this app.

        Use as ``async with app.test_client("/channels") as client:``;
        ``app.test_client(path="/events", adapter="ws")`` is a ``WsTestClient`` for a
        plain WebSocket gateway.
        """
        import importlib

        if options.pop("adapter", None) == "ws":
            ws_mod = importlib.import_module("nestpy.testing.ws_client")
            return ws_mod.WsTestClient.for_app(self, **options)
        # nestpy.testing is optional at runtime; imported only when a test asks for it.
        client_mod = importlib.import_module("nestpy.testing.client")
        return client_mod.SocketClient(self.url_for(namespace), namespace, **options)


def _force_exit(sig: _signal.Signals) -> NoReturn:
    """A second SIGINT/SIGTERM during the graceful shutdown: exit now (128 + signal)."""
    _log.warning("second signal during shutdown: exiting now", signal=sig.name)
    os._exit(128 + int(sig))


def _refuse_raw_lifecycle_handlers(servers: Any) -> None:
    """``server.raw.on("connect"|"disconnect", ...)`` would never run: nestpy dispatches
    connections itself (middleware, guards, hooks). Refused at start rather than ignored.
    Message events registered on ``raw`` do run (see ``_binding``)."""
    for sio in servers:
        for namespace, events in sio.handlers.items():
            for name in ("connect", "disconnect", "connect_error"):
                fn = events.get(name)
                if fn is None or getattr(fn, "__self__", None) is sio:
                    continue  # nestpy's own disconnect hook
                raise BootstrapError(
                    f"server.raw.on({name!r}) on namespace {namespace!r} is never called: "
                    "nestpy handles connections itself. Use server.use(middleware) or "
                    "handle_connection for connects, handle_disconnect for disconnects"
                )


def explore_gateways(container: Container) -> list[tuple[Any, GatewayDefinition, ModuleNode]]:
    """Instantiate *container* and explore its gateways, raising every gateway-level
    bootstrap error (markers, options alone and between gateways sharing a server)."""
    from nestpy.websockets._explorer import check_shared_namespaces, explore_gateway
    from nestpy.websockets._servers import validate_gateways
    from nestpy.websockets._ws.adapter import is_plain, validate_plain

    container.instantiate()
    gateways: list[tuple[Any, GatewayDefinition, ModuleNode]] = [
        (instance, explore_gateway(type(instance)), node)
        for instance, node in container.find(md.GATEWAY)
    ]
    # Options are checked now, not at listen (alone and between gateways sharing a server).
    sio = [d for _i, d, _n in gateways if not is_plain(d.options)]
    validate_gateways([(d.cls, d.options) for d in sio])
    check_shared_namespaces(sio)
    # Plain gateways (adapter=WsAdapter); an app-wide WsAdapter is checked by init().
    validate_plain([(d.cls, d.options) for _i, d, _n in gateways if is_plain(d.options)])
    # Enhancer classes named in decorators are built now, so a missing dependency of a
    # guard, interceptor, pipe or filter is raised by create()/compile(), not first by
    # listen() (DESIGN.md "Handler signatures are checked at bootstrap"). The container
    # caches the instances; compiling the handlers later reuses them.
    empty = GlobalEnhancers()
    for _instance, definition, node in gateways:
        def make(cls: type, _node: ModuleNode = node) -> Any:
            return container.create(cls, _node)

        for h in definition.handlers:
            resolve_enhancers(definition.cls, h.function, empty, make, h.signature)
            for spec in h.signature.injects:  # Inject() handler parameters: visible?
                container.resolver(spec.token, node, definition.cls)
        resolve_class_guards(definition.cls, make)
    return gateways


class NestFactory:
    """Creates applications from a root module (NestJS's ``NestFactory``)."""

    @staticmethod
    async def create(
        module: type | DynamicModule,
        *,
        include_cause: bool = True,
        container: Container | None = None,
    ) -> NestApplication:
        """Build *module*'s providers and explore its gateways.

        Every bootstrap error (missing provider, bad marker, bad gateway option) is
        raised here, before any port is opened.

        Args:
            module: the root module.
            include_cause: include ``cause`` in error payloads (NestJS 11 default: True).
            container: a pre-built container (used by ``nestpy.testing``).
        """
        c = container or Container.build(with_core_module(module))
        return NestApplication(c, explore_gateways(c), include_cause=include_cause)

    @staticmethod
    def run(
        module: type | DynamicModule,
        port: int | None = None,
        host: str = "0.0.0.0",
    ) -> None:
        """Create, listen, and serve until SIGINT/SIGTERM, then close gracefully.

        Binds the application port only when *port* is given or a gateway shares it.
        Uses uvloop when installed.
        """
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:
            runner = asyncio.run

        async def main() -> None:
            app = await NestFactory.create(module)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            received: list[str] = []

            def on_signal(sig: _signal.Signals) -> None:
                if received:
                    _force_exit(sig)
                received.append(sig.name)
                stop.set()

            for sig in (_signal.SIGINT, _signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, on_signal, sig)
            await app.listen(port, host)
            if os.environ.get("NESTPY_GC_FREEZE", "1") not in ("0", "false", "no"):
                # Long-lived bootstrap objects (modules, compiled handlers, imported code)
                # leave the collector's reach, so collections during connection storms
                # scan only per-connection objects (~10-15% CPU per connection). Only
                # here: a process running many apps (tests) would never free frozen ones.
                gc.collect()
                gc.freeze()
            try:
                await stop.wait()
            finally:
                _log.info("shutting down", signal=received[0] if received else None)
                await app.close(received[0] if received else None)

        runner(main())
