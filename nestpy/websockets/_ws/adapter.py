"""``WsAdapter`` (NestJS's ``@nestjs/platform-ws``) and the registry of plain endpoints.

App-wide: ``app.use_websocket_adapter(WsAdapter(app))`` makes every gateway plain. Per
gateway: ``@WebSocketGateway(port, path="/events", adapter=WsAdapter)``; Socket.IO and
plain gateways then share one application and one port.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from nestpy.exceptions import BootstrapError
from nestpy.websockets._ws.broker import Bridge, bridge_for
from nestpy.websockets._ws.frames import MessageParser
from nestpy.websockets._ws.host import PlainOptions, WsHost

if TYPE_CHECKING:
    from aiohttp import web

    from nestpy.websockets.decorators import GatewayOptions

__all__ = ["PlainRegistry", "WsAdapter", "is_plain", "plain_options", "validate_plain"]

#: Gateway options a plain gateway accepts besides port, path and cors.
PLAIN_OPTIONS = frozenset(
    {"adapter", "max_message_size", "max_send_buffer", "ping_interval", "close_timeout",
     "message_parser"}
)
_SOCKET_IO_PATH = "/socket.io"


class WsAdapter:
    """Serve gateways over plain WebSocket (RFC 6455), NestJS's ``WsAdapter``.

    Args:
        app: the application (accepted for NestJS's ``new WsAdapter(app)`` form; unused).
        message_parser: default parser for every plain gateway: ``parser(raw)`` gets the
            frame (``str`` text, ``bytes`` binary) and returns ``{"event", "data", "id"?}``
            or None to ignore it. Without one, frames are NestJS's JSON text.
        scale_out: a ``RedisIoAdapter`` or ``AmqpIoAdapter`` whose broker carries rooms and
            broadcasts across processes (app-wide form; per gateway, the application's
            adapter is used).

    .. versionadded:: 0.2
    """

    def __init__(self, app: Any = None, *, message_parser: MessageParser | None = None,
                 scale_out: Any = None) -> None:
        self.message_parser = message_parser
        self.scale_out = scale_out

    def __repr__(self) -> str:
        return "WsAdapter()"


def is_plain(options: GatewayOptions, app_adapter: Any = None) -> bool:
    """Whether a gateway with *options* is served over plain WebSocket."""
    chosen = options.server_options.get("adapter")
    if chosen is not None:
        return chosen is WsAdapter or isinstance(chosen, WsAdapter)
    return isinstance(app_adapter, WsAdapter)


def _fail(gateway: type, text: str) -> BootstrapError:
    return BootstrapError(f"[gateway={gateway.__qualname__}] {text}")


def _positive(gateway: type, name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise _fail(gateway, f"{name} must be a positive number, got {value!r}")


def plain_options(gateway: type, options: GatewayOptions, app_adapter: Any = None
                  ) -> PlainOptions:
    """Validated plain-WebSocket options of *gateway*.

    Raises:
        BootstrapError: a namespace, transports, an unknown or invalid option.
    """
    if options.namespace != "/":
        raise _fail(gateway, "plain WebSocket gateways have no namespaces (NestJS's WsAdapter "
                    "neither); give each gateway its own path=... instead")
    if options.transports is not None:
        raise _fail(gateway, "transports=... is a Socket.IO option; remove it")
    extra = options.server_options
    for name in extra:
        if name not in PLAIN_OPTIONS:
            close = difflib.get_close_matches(name, sorted(PLAIN_OPTIONS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _fail(gateway, f"unknown option {name!r} for a plain WebSocket gateway{hint} "
                        f"(options: {', '.join(sorted(PLAIN_OPTIONS))})")
    # Only gateways ``is_plain`` accepted get here: ``adapter=`` is absent, WsAdapter or an
    # instance of it (any other adapter makes a Socket.IO gateway).
    chosen = extra.get("adapter")
    base = chosen if isinstance(chosen, WsAdapter) else (
        app_adapter if isinstance(app_adapter, WsAdapter) else None)
    path = options.path
    if path == _SOCKET_IO_PATH:
        path = "/"  # not given: NestJS's ws server answers at the root
    if not path.startswith("/"):
        path = "/" + path
    parser = extra.get("message_parser", base.message_parser if base is not None else None)
    if parser is not None and not callable(parser):
        raise _fail(gateway, f"message_parser must be callable, got {parser!r}")
    opts = PlainOptions(path=path.rstrip("/") or "/", cors=options.cors, message_parser=parser)
    for name in ("max_message_size", "max_send_buffer", "close_timeout"):
        if name in extra:
            _positive(gateway, name, extra[name])
            opts = replace(opts, **{name: extra[name]})
    if "ping_interval" in extra:
        _positive(gateway, "ping_interval", extra["ping_interval"], allow_none=True)
        opts = replace(opts, ping_interval=extra["ping_interval"])
    return opts


def validate_plain(gateways: list[tuple[type, GatewayOptions]], app_adapter: Any = None) -> None:
    """Check every plain gateway's options and that gateways sharing a path agree.

    Raises:
        BootstrapError: a bad option, or two gateways on one port and path disagreeing.
    """
    seen: dict[tuple[int | None, str], tuple[type, PlainOptions]] = {}
    for gateway, options in gateways:
        opts = plain_options(gateway, options, app_adapter)
        key = (options.port, opts.path)
        first = seen.get(key)
        if first is None:
            seen[key] = (gateway, opts)
        elif first[1] != opts:
            raise _fail(gateway, f"shares port {options.port or 'app'} and path {opts.path!r} "
                        f"with {first[0].__qualname__} but sets other options; gateways on "
                        "one path share one endpoint: use the same options")


class PlainRegistry:
    """The plain endpoints of one application: one ``WsHost`` per (port, path)."""

    def __init__(self, app_adapter: Any) -> None:
        self.app_adapter = app_adapter
        self.hosts: dict[tuple[int | None, str], WsHost] = {}
        self.ordered: list[WsHost] = []
        scale = app_adapter.scale_out if isinstance(app_adapter, WsAdapter) else app_adapter
        self.bridge: Bridge | None = bridge_for(scale, self.ordered)

    def host_for(self, gateway: type, options: GatewayOptions, app: web.Application) -> WsHost:
        """The endpoint *gateway* is served on, its route added to *app* on first use.

        Raises:
            BootstrapError: a bad option or a path already taken.
        """
        opts = plain_options(gateway, options, self.app_adapter)
        key = (options.port, opts.path)
        host = self.hosts.get(key)
        if host is not None:
            if host.options != opts:
                raise _fail(gateway, f"shares path {opts.path!r} with other options")
            return host
        host = WsHost(opts, len(self.ordered))
        host.bridge = self.bridge
        try:
            app.router.add_get(opts.path, host.handle)
        except RuntimeError as exc:
            raise _fail(gateway, f"cannot serve path {opts.path!r}: {exc}") from exc
        self.hosts[key] = host
        self.ordered.append(host)
        return host

    def serves(self, port: int | None) -> bool:
        """Whether a plain endpoint is declared on *port* (None: the application's)."""
        return any(p == port for p, _ in self.hosts)

    async def start(self) -> None:
        """Connect to the broker when scaled out (before listening)."""
        if self.bridge is not None and self.ordered:
            await self.bridge.start()

    async def close(self) -> None:
        """Close every client with 1001, then leave the broker."""
        for host in self.ordered:
            await host.close()
        if self.bridge is not None and self.ordered:
            await self.bridge.close()


def port_app(registry: Any, port: int | None) -> web.Application:
    """The aiohttp application of *port* in the Socket.IO *registry* (``ServerRegistry``),
    created when no Socket.IO gateway declared that port: both transports share it."""
    from aiohttp import web

    from nestpy.websockets._servers import PortEntry

    entry = registry.ports.get(port)
    if entry is None:
        entry = registry.ports[port] = PortEntry(port, web.Application())
    app: web.Application = entry.app
    return app
