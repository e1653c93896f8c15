"""``NestApplication``'s observability methods: recorded before start, applied once at
bootstrap (after every gateway is bound, before ``after_init``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from nestpy.exceptions import BootstrapError

if TYPE_CHECKING:
    from aiohttp import web
    from typing_extensions import Self

    from nestpy.websockets._servers import ServerRegistry

__all__ = ["ObservabilityMixin"]

Apply = Callable[[Any], None]


def _require(module: str, extra: str, what: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise BootstrapError(
            f"{what} needs the {module!r} package: pip install 'nestpy-io[{extra}]'"
        )


class ObservabilityMixin:
    """``enable_metrics``, ``enable_tracing`` and ``enable_admin_ui`` for the application."""

    http_app: web.Application
    _registry: ServerRegistry | None
    _observers: tuple[Apply, ...] = ()
    #: The metrics of ``enable_metrics()`` (``None`` until the application is initialised).
    metrics: Any = None

    def _check_open(self, what: str) -> None:  # provided by NestApplication
        raise NotImplementedError

    def _observe(self, apply: Apply) -> None:
        self._observers = (*self._observers, apply)

    def enable_metrics(
        self,
        path: str = "/metrics",
        *,
        registry: Any = None,
        buckets: Iterable[float] | None = None,
    ) -> Self:
        """Count connections, messages, latency, errors and ack timeouts per namespace and
        event (a plain WebSocket gateway's path is its namespace label), and serve them in
        Prometheus's text format at *path* on every port the application listens on.

        Args:
            path: the HTTP path of the exposition.
            registry: a ``prometheus_client.CollectorRegistry`` (default: a new one for
                this application; pass ``prometheus_client.REGISTRY`` to share the global).
            buckets: handler latency histogram buckets in seconds.

        Raises:
            BootstrapError: ``prometheus-client`` is not installed.
            LateRegistrationError: called after the application started.

        .. versionadded:: 0.2
        """
        self._check_open("enable_metrics")
        _require("prometheus_client", "metrics", "enable_metrics()")
        if not path.startswith("/"):
            raise ValueError(f"enable_metrics(path={path!r}): the path must start with '/'")
        from prometheus_client import CollectorRegistry

        from nestpy.observability.metrics import DEFAULT_BUCKETS, GatewayMetrics

        reg = registry if registry is not None else CollectorRegistry()
        metrics = GatewayMetrics(reg, buckets if buckets is not None else DEFAULT_BUCKETS)
        self.metrics = metrics

        def apply(app: Any) -> None:
            from nestpy.observability._plain import plain_hosts
            from nestpy.observability.http import add_metrics_route

            registry_: ServerRegistry = app._registry
            for sio in registry_.all_servers():
                metrics.instrument(sio)
            for host in plain_hosts(app):
                metrics.instrument_plain(host)
            apps = [app.http_app, *(e.app for p, e in registry_.ports.items() if p is not None)]
            for web_app in apps:
                add_metrics_route(web_app, path, reg)

        self._observe(apply)
        return self

    def enable_tracing(self, tracer_provider: Any = None) -> Self:
        """Open an OpenTelemetry span per handled message, connection and disconnection
        (Socket.IO and plain WebSocket gateways).

        Args:
            tracer_provider: the provider to take the tracer from (default: the global one
                that ``opentelemetry.trace.set_tracer_provider`` configured).

        Raises:
            BootstrapError: ``opentelemetry-api`` is not installed.

        .. versionadded:: 0.2
        """
        self._check_open("enable_tracing")
        _require("opentelemetry", "tracing", "enable_tracing()")
        from opentelemetry import trace

        from nestpy.__about__ import __version__
        from nestpy.observability._plain import plain_hosts
        from nestpy.observability.tracing import instrument_plain_tracing, instrument_tracing

        tracer = trace.get_tracer("nestpy", __version__, tracer_provider=tracer_provider)

        def apply(app: Any) -> None:
            for sio in app._registry.all_servers():
                instrument_tracing(sio, tracer)
            for host in plain_hosts(app):
                instrument_plain_tracing(host, tracer)

        self._observe(apply)
        return self

    def enable_admin_ui(
        self,
        auth: Any,
        *,
        namespace: str = "/admin",
        read_only: bool = False,
        mode: str = "development",
        server_stats_interval: float = 2.0,
    ) -> Self:
        """Let the Socket.IO Admin UI (https://admin.socket.io) connect to every server of
        the application, through python-socketio's ``instrument()``.

        Args:
            auth: ``{"username": ..., "password": ...}``, a list of them, or a callable
                deciding on the client's ``auth``. Required: the admin UI is never open.
            namespace: the admin namespace.
            read_only: refuse the UI's emit/join/leave/disconnect commands.
            mode: ``"development"`` (socket list, every event) or ``"production"``
                (statistics only; cheaper).
            server_stats_interval: seconds between ``server_stats`` reports.

        Raises:
            ValueError: no or empty credentials.

        .. versionadded:: 0.2
        """
        self._check_open("enable_admin_ui")
        from nestpy.observability.admin import attach_admin, check_auth

        check_auth(auth)
        if mode not in ("development", "production"):
            raise ValueError(f"enable_admin_ui(mode={mode!r}): 'development' or 'production'")

        def apply(app: Any) -> None:
            for sio in app._registry.all_servers():
                attach_admin(sio, auth, namespace=namespace, read_only=read_only, mode=mode,
                             server_stats_interval=server_stats_interval)

        self._observe(apply)
        return self

    def _apply_observability(self) -> None:
        """Run what ``enable_*`` recorded (``NestApplication.init``, once)."""
        for apply in self._observers:
            apply(self)
