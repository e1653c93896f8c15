"""nestpy's Engine.IO server in the shape python-socketio's ``AsyncServer`` drives.

python-socketio builds its Engine.IO server from ``AsyncServer._engineio_server_class()``
(see ``_engine``'s docstring for that seam) with python-engineio's keyword options, registers
``connect``/``message``/``disconnect`` handlers with ``on()``, and calls ``send``,
``send_packet``, ``disconnect``, ``attach``, ``shutdown``, ``start_background_task``,
``sleep``, ``create_event`` and ``generate_id``. ``EngineBridge`` is a
``nestpy.engineio.EngineIOServer`` answering exactly those, so python-socketio's rooms, client
managers, packet codec and ``call``/``emit`` keep working on nestpy's own transport.

Written against python-socketio 5.18.1 and python-engineio 4.15.1 (pinned in pyproject;
``tests/compat/test_socketio_seams.py`` and ``test_engineio_seams.py``): the bridge mirrors
python-engineio's private ``_async["create_route"]`` driver entry, which the cluster managers
wrap to start with the aiohttp app.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

import engineio
from aiohttp import web
from engineio import packet as eio_packet

from nestpy.engineio import DEFAULT_MAX_BUFFER_SIZE, EngineIOServer, EngineIOSocket
from nestpy.exceptions import BootstrapError

__all__ = ["EngineBridge", "bridge_class"]

_reason = engineio.AsyncServer.reason
#: nestpy.engineio's (Node's) close reasons → python-engineio's, which python-socketio and
#: gateways' ``handle_disconnect(client, reason)`` see.
_REASONS: Final = {
    "transport close": _reason.TRANSPORT_CLOSE,
    "transport error": _reason.TRANSPORT_ERROR,
    "ping timeout": _reason.PING_TIMEOUT,
    "parse error": _reason.TRANSPORT_ERROR,
    "slow reader": _reason.TRANSPORT_ERROR,
    "forced close": _reason.SERVER_DISCONNECT,
    "server shutting down": _reason.SERVER_DISCONNECT,
}

#: python-engineio options that have no effect here (accepted so gateways keep working;
#: a truthy ``cookie`` is refused: see ``EngineBridge``).
IGNORED_OPTIONS: Final = frozenset(
    {"async_handlers", "monitor_clients", "http_compression", "compression_threshold",
     "async_mode", "json", "logger", "cookie"}
)


def _environ(request: web.Request) -> dict[str, Any]:
    """A WSGI-style environ for *request*, as python-engineio's aiohttp driver builds it."""
    environ: dict[str, Any] = {
        "wsgi.url_scheme": request.scheme,
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "RAW_URI": request.path_qs,
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "REMOTE_ADDR": request.remote or "",
        "SERVER_NAME": request.host,
        "aiohttp.request": request,
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ.setdefault(key, value)
    return environ


class EngineBridge(EngineIOServer):
    """``EngineIOServer`` with the interface python-socketio's ``AsyncServer`` uses.

    Takes python-engineio's server options (``ping_interval``, ``ping_timeout``,
    ``max_http_buffer_size``, ``cors_allowed_origins``, ``cors_credentials``, ``transports``,
    ``allow_upgrades``) plus nestpy's (``per_message_deflate``, ``max_buffer_size``,
    ``upgrade_timeout``); the options in ``IGNORED_OPTIONS`` are accepted and have no effect.
    """

    async_mode = "aiohttp"
    reason = _reason

    def __init__(
        self,
        *,
        ping_interval: float | tuple[float, float] = 25.0,
        ping_timeout: float = 20.0,
        max_http_buffer_size: int = 1_000_000,
        cors_allowed_origins: str | Iterable[str] | None = None,
        cors_credentials: bool = False,
        transports: Iterable[str] | None = None,
        allow_upgrades: bool = True,
        per_message_deflate: bool = False,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
        upgrade_timeout: float = 10.0,
        **ignored: Any,
    ) -> None:
        unknown = set(ignored) - IGNORED_OPTIONS
        if unknown:
            raise TypeError(f"unknown Engine.IO server option(s): {sorted(unknown)}")
        if ignored.get("cookie"):
            raise BootstrapError(
                "gateway option cookie= (python-engineio's sticky-session cookie) is not "
                "supported by nestpy's Engine.IO server; remove it (sticky sessions are the "
                "load balancer's job)"
            )
        if isinstance(ping_interval, tuple):
            ping_interval = ping_interval[0]
        super().__init__(
            ping_interval=ping_interval, ping_timeout=ping_timeout,
            max_payload=max_http_buffer_size, upgrade_timeout=upgrade_timeout,
            transports=transports or ("polling", "websocket"),
            cors_allowed_origins=cors_allowed_origins, cors_credentials=cors_credentials,
            per_message_deflate=per_message_deflate, max_buffer_size=max_buffer_size,
            on_connect=self._connected_cb, on_message=self._message_cb,
            on_disconnect=self._disconnect_cb,
        )
        self.allow_upgrades = allow_upgrades
        self.logger = logging.getLogger("nestpy.engineio")
        self._handlers: dict[str, Callable[..., Awaitable[Any]]] = {}
        self._message: Callable[[str, Any], Awaitable[Any]] | None = None
        # python-socketio's cluster managers start with the aiohttp app through this hook
        # (nestpy.websockets._cluster wraps "create_route", as it does python-engineio's).
        self._async: dict[str, Any] = {"create_route": self._create_route}

    # -- what python-socketio calls -----------------------------------------------------

    @property
    def sockets(self) -> dict[str, EngineIOSocket]:
        """Open sessions by id (python-engineio's name for ``sessions``)."""
        return self.sessions

    @property
    def max_http_buffer_size(self) -> int:
        """python-engineio's name for ``max_payload``."""
        return self.max_payload

    def on(self, event: str, handler: Callable[..., Awaitable[Any]]) -> None:
        """Register python-socketio's ``connect``/``message``/``disconnect`` handler."""
        self._handlers[event] = handler
        if event == "message":
            self._message = handler

    def attach(self, app: web.Application, path: str = "engine.io") -> None:
        """Serve at *path* on *app*."""
        self._async["create_route"](app, self, "/" + path.strip("/"))

    def _create_route(self, app: web.Application, _server: Any, endpoint: str) -> None:
        EngineIOServer.attach(self, app, endpoint)

    async def send(self, sid: str, data: Any) -> None:
        """Send a MESSAGE with *data* (str or bytes) to session *sid*."""
        sock = self.sessions.get(sid)
        if sock is not None:
            sock.send(data)

    async def send_packet(self, sid: str, pkt: eio_packet.Packet) -> None:
        """Send a python-engineio ``Packet`` to session *sid*."""
        sock = self.sessions.get(sid)
        if sock is not None:
            sock.send_packet(pkt.encode())

    async def disconnect(self, sid: str | None = None) -> None:
        """Close session *sid* (every session when None) from the server side."""
        targets = list(self.sessions.values()) if sid is None else [self.sessions.get(sid)]
        for sock in targets:
            if sock is not None:
                sock.close()

    def generate_id(self) -> str:
        """A new random id (python-socketio uses it for Socket.IO sids)."""
        return secrets.token_urlsafe(15)

    def create_event(self) -> asyncio.Event:
        """An event object for python-socketio's ``call()``."""
        return asyncio.Event()

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` in a task."""
        return asyncio.ensure_future(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)

    async def handle_request(self, request: web.Request) -> web.StreamResponse:
        """Answer one Engine.IO request (python-socketio's ``handle_request`` entry)."""
        if not self.allow_upgrades and request.query.get("sid") and (
            request.headers.get("Upgrade", "").lower() == "websocket"
        ):
            return self.error(3, "Bad request")
        return await super().handle_request(request)

    def _open_packet(self, sid: str, upgrades: str) -> str:
        return super()._open_packet(sid, upgrades if self.allow_upgrades else "[]")

    # -- callbacks from the engine ------------------------------------------------------

    async def _connected_cb(self, sock: EngineIOSocket) -> None:
        handler = self._handlers.get("connect")
        if handler is not None:
            await handler(sock.sid, _environ(sock.request))

    def _message_cb(self, sock: EngineIOSocket, data: str | bytes) -> Awaitable[Any] | None:
        handler = self._message
        return handler(sock.sid, data) if handler is not None else None

    async def _disconnect_cb(self, sock: EngineIOSocket, reason: str) -> None:
        handler = self._handlers.get("disconnect")
        if handler is not None:
            await handler(sock.sid, _REASONS.get(reason, _reason.TRANSPORT_CLOSE))


def bridge_class(per_message_deflate: bool, max_buffer_size: int) -> type[EngineBridge]:
    """An ``EngineBridge`` subclass with nestpy's own options bound (python-socketio builds
    the Engine.IO server itself, passing only python-engineio's options)."""

    class _Bridge(EngineBridge):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("per_message_deflate", per_message_deflate)
            kwargs.setdefault("max_buffer_size", max_buffer_size)
            super().__init__(**kwargs)

    return _Bridge
