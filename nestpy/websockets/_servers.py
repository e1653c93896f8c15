"""Port → aiohttp application → Socket.IO servers; gateway options checked at bootstrap."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import inspect
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from nestpy._speed import default_json
from nestpy.exceptions import BootstrapError
from nestpy.websockets._engine import NestAsyncServer
from nestpy.websockets._fanout import FastAsyncManager
from nestpy.websockets._ratelimit import parse_rate_limit
from nestpy.websockets._recovery import RecoveryStore
from nestpy.websockets.decorators import GatewayOptions

__all__ = [
    "GatewayOptionError", "PortEntry", "ServerRegistry", "server_kwargs", "validate_gateways",
]

#: nestpy's own server options (not python-socketio's).
NEST_OPTIONS = frozenset({
    "connect_timeout", "per_message_deflate", "connection_state_recovery", "rate_limit",
    "max_buffer_size", "max_handlers_in_flight", "max_attachments", "namespace_cache_bytes",
    "drain_timeout", "upgrade_timeout",
})
#: Options nestpy sets itself; a gateway may not override them.
RESERVED = frozenset({"async_mode", "async_handlers", "namespaces", "cors_allowed_origins"})
#: python-socketio options nestpy's connection handling does not honour, and why.
UNSUPPORTED = {
    "always_connect": (
        "nestpy runs middleware, class guards and handle_connection before it acknowledges "
        "the connection, so a refusal reaches the client as connect_error (which every "
        "Socket.IO v3+ client handles); remove it"
    ),
}
#: @WebSocketGateway's own keyword parameters: suggested for near-miss spellings.
DECORATOR_PARAMS = ("namespace", "path", "cors", "transports")


class GatewayOptionError(BootstrapError):
    """A gateway option python-socketio/engineio do not know (or nestpy reserves)."""

    def __init__(self, gateway: type, name: str, suggestion: str | None, reserved: bool) -> None:
        self.gateway = gateway
        self.name = name
        self.suggestion = suggestion
        self.reserved = reserved
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"[gateway={self.gateway.__qualname__}] "
        if self.reserved:
            if self.name in UNSUPPORTED:
                return head + f"option {self.name!r} is not supported: {UNSUPPORTED[self.name]}"
            return head + (
                f"option {self.name!r} is set by nestpy; "
                + ("use cors=... instead" if self.name == "cors_allowed_origins" else "remove it")
            )
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return head + (
            f"unknown @WebSocketGateway option {self.name!r}{hint} "
            "(options are python-socketio/python-engineio server options in snake_case, "
            f"plus nestpy's {', '.join(sorted(NEST_OPTIONS))})"
        )


@functools.cache
def _known_options() -> frozenset[str]:
    import engineio.base_server
    import socketio.base_server

    names: set[str] = set(NEST_OPTIONS)
    for fn in (socketio.base_server.BaseServer.__init__, engineio.base_server.BaseServer.__init__):
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                names.add(p.name)
    names.add("engineio_logger")
    return frozenset(names)


def _camel_to_snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def server_kwargs(options: GatewayOptions, gateway: type) -> dict[str, Any]:
    """The ``NestAsyncServer`` keyword arguments for *options* (validated).

    Raises:
        GatewayOptionError: an unknown or reserved option name.
    """
    known = _known_options()
    kwargs: dict[str, Any] = {}
    for name, value in options.server_options.items():
        if name in RESERVED or name in UNSUPPORTED:
            raise GatewayOptionError(gateway, name, None, reserved=True)
        if name not in known:
            snake = _camel_to_snake(name)
            guess = snake if snake in known and snake not in RESERVED else None
            if guess is None:
                # Never suggest a name the user may not set (that hint would loop).
                settable = sorted((known - RESERVED - UNSUPPORTED.keys()) | set(DECORATOR_PARAMS))
                close = difflib.get_close_matches(name, settable, n=1)
                guess = close[0] if close else None
            raise GatewayOptionError(gateway, name, guess, reserved=False)
        if name == "connection_state_recovery":  # recovery hook (cluster branch): check early
            try:
                RecoveryStore.from_option(value)
            except (TypeError, ValueError) as exc:
                raise BootstrapError(f"[gateway={gateway.__qualname__}] {exc}") from None
        kwargs[name] = value
    if "rate_limit" in kwargs:
        kwargs["rate_limit"] = parse_rate_limit(kwargs["rate_limit"], gateway)
    cors = options.cors
    if cors is not None and cors is not False:
        # CORS stays closed (same origin only) unless a gateway opens it.
        if cors is True:
            origins: Any = "*"
            credentials = None
        elif isinstance(cors, dict):
            origins = cors.get("origin", "*")
            origins = "*" if origins is True else origins
            credentials = cors.get("credentials")
        else:
            origins, credentials = cors, None
        kwargs["cors_allowed_origins"] = origins
        if credentials is not None:
            kwargs["cors_credentials"] = bool(credentials)
    if options.transports is not None:
        kwargs["transports"] = list(options.transports)
    return kwargs


def _check_shared(
    gateway: type,
    options: GatewayOptions,
    kwargs: dict[str, Any],
    shared: dict[str, Any],
    sharing: list[str],
) -> None:
    """Raise when *gateway* sets server options that the gateways *sharing* its server do
    not set identically (one Socket.IO server has one set of options)."""
    for key, value in kwargs.items():
        if key in shared and shared[key] != value:
            raise BootstrapError(
                f"[gateway={gateway.__qualname__}] shares port {options.port or 'app'} and "
                f"path {options.path!r} with {', '.join(sharing)} but sets "
                f"{key}={value!r} (they set {shared[key]!r}). Gateways on one port "
                "and path share one Socket.IO server: use the same options, or another "
                "port or path."
            )
    if any(k not in shared for k in kwargs):
        raise BootstrapError(
            f"[gateway={gateway.__qualname__}] sets server options "
            f"{sorted(set(kwargs) - set(shared))} that {', '.join(sharing)} on "
            "the same port and path does not; declare them on the first gateway too."
        )


def validate_gateways(gateways: list[tuple[type, GatewayOptions]]) -> None:
    """Check every gateway's options, and that gateways sharing a server agree on them.

    Run by ``NestFactory.create`` so that these bootstrap errors come before any port is
    opened (DESIGN.md "Core"), not from ``listen()``.

    Raises:
        GatewayOptionError: an unknown or reserved option name.
        BootstrapError: gateways sharing a server disagree on an option.
    """
    servers: dict[tuple[int | None, str], tuple[dict[str, Any], list[str]]] = {}
    for gateway, options in gateways:
        kwargs = server_kwargs(options, gateway)
        first = servers.get((options.port, options.path))
        if first is None:
            servers[(options.port, options.path)] = (kwargs, [gateway.__qualname__])
        else:
            _check_shared(gateway, options, kwargs, *first)
            first[1].append(gateway.__qualname__)


@dataclass
class _ServerSlot:
    server: NestAsyncServer
    kwargs: dict[str, Any]
    gateways: list[str]


@dataclass
class PortEntry:
    """One listening port: its aiohttp app and the Socket.IO servers attached by path."""

    declared_port: int | None
    app: web.Application
    servers: dict[str, _ServerSlot] = field(default_factory=dict)


class ServerRegistry:
    """Creates one ``NestAsyncServer`` per (port, path); gateways on it share it."""

    def __init__(self, main_app: web.Application, client_manager_factory: Any = None) -> None:
        self.ports: dict[int | None, PortEntry] = {None: PortEntry(None, main_app)}
        self._manager_factory = client_manager_factory

    def server_for(self, gateway: type, options: GatewayOptions) -> NestAsyncServer:
        """The server *gateway* attaches to, created on first use.

        Raises:
            BootstrapError: gateways sharing a server disagree on an option.
        """
        kwargs = server_kwargs(options, gateway)
        entry = self.ports.get(options.port)
        if entry is None:
            entry = self.ports[options.port] = PortEntry(options.port, web.Application())
        slot = entry.servers.get(options.path)
        if slot is None:
            # The fast broadcast path (encode and frame once) is the default manager.
            manager = self._manager_factory() if self._manager_factory else FastAsyncManager()
            extra: dict[str, Any] = {}
            if "json" not in kwargs:
                codec = default_json()
                if codec is not None:
                    extra["json"] = codec
            server = NestAsyncServer(client_manager=manager, **kwargs, **extra)
            server.attach(entry.app, socketio_path=options.path)
            entry.servers[options.path] = _ServerSlot(server, kwargs, [gateway.__qualname__])
            return server
        _check_shared(gateway, options, kwargs, slot.kwargs, slot.gateways)
        slot.gateways.append(gateway.__qualname__)
        return slot.server

    def all_servers(self) -> list[NestAsyncServer]:
        """Every Socket.IO server created so far."""
        return [s.server for e in self.ports.values() for s in e.servers.values()]

    async def drain(self) -> None:
        """Stop accepting connections and events on every server and let in-flight handlers
        finish (each server's ``drain_timeout``)."""
        servers = self.all_servers()
        if servers:
            await asyncio.gather(*(sio.drain() for sio in servers))

    async def close(self, flush_timeout: float) -> None:
        """Disconnect every client (a server disconnect each sees at once, flushed for at
        most *flush_timeout* seconds) and shut every server down. Errors are not raised:
        closing goes on for the other servers."""
        for sio in self.all_servers():
            with contextlib.suppress(Exception):
                await sio.disconnect_all(timeout=flush_timeout)
            with contextlib.suppress(Exception):
                await sio.shutdown()
