"""The Engine.IO v4 server: request routing, handshake, upgrade, CORS, session registry."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from aiohttp import web

from nestpy.engineio._socket import FORCED_CLOSE, PING_TIMEOUT, SERVER_SHUTDOWN, EngineIOSocket
from nestpy.engineio._tasks import EAGER, start_task

__all__ = ["EngineIOServer"]

_log = logging.getLogger("nestpy.engineio")

#: Defaults, Node engine.io's where it has one.
DEFAULT_PING_INTERVAL: Final = 25.0
DEFAULT_PING_TIMEOUT: Final = 20.0
DEFAULT_MAX_PAYLOAD: Final = 1_000_000
DEFAULT_UPGRADE_TIMEOUT: Final = 10.0
#: Bytes one session may have waiting to be sent (unread by a slow client) before it is
#: disconnected. One message of up to ``max_payload`` always fits in an empty buffer.
DEFAULT_MAX_BUFFER_SIZE: Final = 1024 * 1024
#: One "invalid packet" warning per client address per this many seconds.
WARN_INTERVAL: Final = 10.0
_WARN_MEMORY: Final = 10_000

OnConnect = Callable[[EngineIOSocket], Awaitable[None] | None]
OnMessage = Callable[[EngineIOSocket, "str | bytes"], Awaitable[None] | None]
OnDisconnect = Callable[[EngineIOSocket, str], Awaitable[None] | None]


class EngineIOServer:
    """An Engine.IO v4 server (polling, websocket, upgrade) on aiohttp's public API.

    Attach it to an aiohttp application at a path, and give it callbacks::

        async def echo(sock: EngineIOSocket, data: str | bytes) -> None:
            sock.send(data)

        eio = EngineIOServer(on_message=echo)
        eio.attach(app, "/engine.io")

    Callbacks may be plain functions or coroutine functions. ``on_message`` runs in the
    order a session's messages arrive (awaited one after the other); ``on_disconnect`` runs
    once per session, whatever ended it (its *reason* is Node's: ``"transport close"``,
    ``"ping timeout"``, ``"parse error"``, ``"forced close"`` …).

    Args:
        ping_interval: seconds between server PINGs (sub-second values are fine).
        ping_timeout: seconds a client has to answer a PING before its session closes.
        max_payload: largest message or polling POST body, in bytes (larger: the session
            closes; a POST gets HTTP 413, a websocket close code 1009).
        upgrade_timeout: seconds a polling session may take to finish a websocket upgrade.
        transports: the transports offered, ``"polling"`` and/or ``"websocket"``.
        cors_allowed_origins: None (same origin only: any other ``Origin`` is refused with
            HTTP 400), ``"*"`` (any origin, answered ``Access-Control-Allow-Origin: *``), or a
            list of origins (echoed back when listed, refused otherwise).
        cors_credentials: send ``Access-Control-Allow-Credentials: true`` (as Node's
            ``cors`` package: only when asked for).
        per_message_deflate: accept websocket compression when the client offers it.
        max_buffer_size: bytes a session may have waiting to go out (unread by its client);
            past it the client is disconnected with a warning, not buffered for.
        on_connect, on_message, on_disconnect: the callbacks above.
    """

    def __init__(
        self,
        *,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        ping_timeout: float = DEFAULT_PING_TIMEOUT,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        upgrade_timeout: float = DEFAULT_UPGRADE_TIMEOUT,
        transports: Iterable[str] = ("polling", "websocket"),
        cors_allowed_origins: str | Iterable[str] | None = None,
        cors_credentials: bool = False,
        per_message_deflate: bool = False,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
        on_connect: OnConnect | None = None,
        on_message: OnMessage | None = None,
        on_disconnect: OnDisconnect | None = None,
    ) -> None:
        transports = tuple(transports)
        unknown = set(transports) - {"polling", "websocket"}
        if unknown or not transports:
            raise ValueError(f"transports must be 'polling' and/or 'websocket', not {transports}")
        for name, value in (("ping_interval", ping_interval), ("ping_timeout", ping_timeout),
                            ("upgrade_timeout", upgrade_timeout)):
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if max_payload < 1 or max_buffer_size < 1:
            raise ValueError("max_payload and max_buffer_size must be positive byte counts")
        self.ping_interval = float(ping_interval)
        self.ping_timeout = float(ping_timeout)
        self.max_payload = int(max_payload)
        self.upgrade_timeout = float(upgrade_timeout)
        self.transports = transports
        self.cors_allowed_origins: str | frozenset[str] | None = (
            cors_allowed_origins if cors_allowed_origins is None or cors_allowed_origins == "*"
            else frozenset([cors_allowed_origins]) if isinstance(cors_allowed_origins, str)
            else frozenset(cors_allowed_origins)
        )
        self.cors_credentials = cors_credentials
        self.per_message_deflate = per_message_deflate
        self.max_buffer_size = int(max_buffer_size)
        self.on_connect = on_connect
        self.on_message = on_message
        self.on_disconnect = on_disconnect
        #: Open sessions by id.
        self.sessions: dict[str, EngineIOSocket] = {}
        self._accepting = True
        self._tasks: set[asyncio.Task[Any]] = set()
        self._turn = 0
        self._corked: list[EngineIOSocket] = []
        self._turn_scheduled = False
        self._warned: dict[str, float] = {}
        self._all_gone: asyncio.Future[None] | None = None
        # Built once: the handshake only differs by sid and upgrades.
        self._open_tail = (
            f',"pingInterval":{round(self.ping_interval * 1000)},'
            f'"pingTimeout":{round(self.ping_timeout * 1000)},"maxPayload":{self.max_payload}}}'
        )

    # -- aiohttp ------------------------------------------------------------------------

    def attach(self, app: web.Application, path: str = "/engine.io") -> None:
        """Serve Engine.IO at *path* (with and without a trailing slash) on *app*."""
        base = "/" + path.strip("/")
        app.router.add_route("*", base + "/", self.handle_request)
        app.router.add_route("*", base, self.handle_request)

    def stop_accepting(self) -> None:
        """Refuse new sessions from now on (HTTP 503); open ones carry on."""
        self._accepting = False

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Close every session (server close) and wait up to *timeout* s for them to end."""
        self._accepting = False
        for sock in list(self.sessions.values()):
            sock.close(FORCED_CLOSE)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self.sessions:
            self._all_gone = loop.create_future()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._all_gone), timeout)
            self._all_gone = None
        for sock in list(self.sessions.values()):
            sock._finish(SERVER_SHUTDOWN)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=max(0.0, deadline - loop.time()))

    async def handle_request(self, request: web.Request) -> web.StreamResponse:
        """Answer one Engine.IO HTTP request (aiohttp handler)."""
        cors = self._cors(request)
        if cors is None:
            self._warn_origin(request)
            return _error(3, "Not an accepted origin.", None)
        if request.method == "OPTIONS":
            return self._preflight(request, cors)
        query = request.query
        transport = query.get("transport")
        if transport not in self.transports:
            return _error(0, "Transport unknown", cors)
        is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
        sid = query.get("sid")
        if sid is not None:
            sock = self.sessions.get(sid)
            if sock is not None and sock.expired(asyncio.get_running_loop().time()):
                sock.close(PING_TIMEOUT)
                sock = None
            if sock is None:
                return _error(1, "Session ID unknown", cors)
            if transport == "websocket" and is_ws:
                return await self._upgrade(sock, request)
            if sock.transport != transport or is_ws:
                return _error(3, "Bad request", cors)
            if request.method == "GET":
                resp = await sock.handle_get()
            elif request.method == "POST":
                resp = await sock.handle_post(request)
            else:
                return _error(3, "Bad request", cors)
            resp.headers.update(cors)
            return resp
        if request.method != "GET":
            return _error(2, "Bad handshake method", cors)
        if query.get("EIO") != "4":
            return _error(5, "Unsupported protocol version", cors)
        if not self._accepting:
            return _error(3, "Server is shutting down", cors, 503)
        if transport == "websocket":
            if not is_ws:
                return _error(3, "Bad request", cors)
            return await self._websocket(request)
        sock = self._new_session(request, "polling")
        upgrades = '["websocket"]' if "websocket" in self.transports else "[]"
        body = self._open_packet(sock.sid, upgrades)
        await self._connected(sock)
        resp = web.Response(text=body, content_type="text/plain")
        resp.headers.update(cors)
        return resp

    # -- handshakes ---------------------------------------------------------------------

    def _open_packet(self, sid: str, upgrades: str) -> str:
        return f'0{{"sid":"{sid}","upgrades":{upgrades}{self._open_tail}'

    def _new_session(self, request: web.Request, transport: str) -> EngineIOSocket:
        sid = secrets.token_urlsafe(15)
        sock = self.sessions[sid] = EngineIOSocket(self, sid, request, transport)
        return sock

    async def _connected(self, sock: EngineIOSocket) -> None:
        sock.start_heartbeat()
        if self.on_connect is not None:
            pending = self.on_connect(sock)
            if pending is not None:
                await pending

    def _websocket_response(self) -> web.WebSocketResponse:
        return web.WebSocketResponse(
            max_msg_size=self.max_payload, compress=self.per_message_deflate, autoping=True
        )

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = self._websocket_response()
        if not await _accept(ws, request):
            return _gone()
        sock = self._new_session(request, "websocket")
        sock.attach_websocket(ws, request)
        # Installed before anything is awaited: the client may send as soon as it has OPEN.
        reader = sock.read_websocket(request)
        sock.send_packet(self._open_packet(sock.sid, "[]"))
        await self._connected(sock)
        if reader is None:
            await sock.run_websocket(ws)
            return ws
        reader.resume()
        await reader.done
        return ws

    async def _upgrade(self, sock: EngineIOSocket, request: web.Request) -> web.StreamResponse:
        ws = self._websocket_response()
        if not await _accept(ws, request):
            return _gone()
        # Node accepts the websocket and closes it when the session cannot take it (already
        # upgraded or upgrading): the client sees a clean close, not a failed handshake.
        if sock.transport != "polling" or sock._upgrading or sock.closed or sock._closing:
            await ws.close()
            return ws
        reader = sock.begin_upgrade(ws, request)
        if reader is not None:
            await reader.done
            return ws
        if not await sock.run_upgrade(ws, request):
            await ws.close()
            return ws
        await sock.run_websocket(ws)
        return ws

    # -- CORS ---------------------------------------------------------------------------

    def _cors(self, request: web.Request) -> dict[str, str] | None:
        """Response headers for *request*'s origin; None when the origin is refused."""
        origin = request.headers.get("Origin")
        if origin is None:
            return {}
        allowed = self.cors_allowed_origins
        if allowed is None:
            return {} if origin == f"{request.scheme}://{request.host}" else None
        if allowed == "*":
            headers = {"Access-Control-Allow-Origin": "*"}
        elif origin in allowed:
            headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        else:
            return None
        if self.cors_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers

    def _preflight(self, request: web.Request, cors: dict[str, str]) -> web.Response:
        resp = web.Response(status=204)
        resp.headers.update(cors)
        resp.headers["Access-Control-Allow-Methods"] = "GET,POST,OPTIONS"
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            resp.headers["Access-Control-Allow-Headers"] = asked
        return resp

    # -- for sessions -------------------------------------------------------------------

    def error(self, code: int, message: str) -> web.Response:
        """An Engine.IO error response (HTTP 400, Node's JSON body)."""
        return _error(code, message, None)

    def _may_warn(self, key: str) -> bool:
        """True at most once per *key* per ``WARN_INTERVAL`` seconds (bounded memory)."""
        now = asyncio.get_running_loop().time()
        last = self._warned.get(key)
        if last is not None and now - last < WARN_INTERVAL:
            return False
        if len(self._warned) >= _WARN_MEMORY:
            self._warned.clear()
        self._warned[key] = now
        return True

    def warn_invalid(self, sock: EngineIOSocket, what: str) -> None:
        """Log one warning line for *sock*'s invalid input, at most one per client address
        per ``WARN_INTERVAL`` seconds (a client cannot flood the log)."""
        addr = sock.request.remote or "?"
        if self._may_warn(addr):
            _log.warning("engine.io session %s from %s: %s; closing it", sock.sid, addr, what)

    def _warn_origin(self, request: web.Request) -> None:
        """One warning line for a refused origin, at most one per client address per
        ``WARN_INTERVAL`` seconds; the origin is quoted and cut (it is the client's text).
        python-engineio's wording, which ``nestpy.logger`` rewrites with the fix."""
        if self._may_warn("origin " + (request.remote or "?")):
            origin = request.headers.get("Origin", "")[:200]
            _log.warning("%r is not an accepted origin.", origin)

    def _deliver(self, sock: EngineIOSocket, data: str | bytes) -> Awaitable[None] | None:
        """Hand one MESSAGE to ``on_message``: None when it was handled before returning,
        else an awaitable of the rest, which the reader awaits before reading *sock* on
        (messages of one client are handled in order)."""
        handler = self.on_message
        if handler is None:
            return None
        try:
            pending = handler(sock, data)
        except Exception:  # a bug above the transport: logged, the connection carries on
            _log.exception("engine.io session %s: message handler failed", sock.sid)
            return None
        if pending is None:
            return None
        rest = self._finish_message(sock, pending)
        if EAGER:
            # Python 3.12+: started at once, in a task of its own; most finish without
            # suspending (a connect without async guards, a disconnect), and then the reader
            # reads on at once.
            task = start_task(rest)
            return None if task.done() else task
        return rest

    @staticmethod
    async def _finish_message(sock: EngineIOSocket, pending: Awaitable[Any]) -> None:
        try:
            await pending
        except Exception:  # a bug above the transport: logged, the connection carries on
            _log.exception("engine.io session %s: message handler failed", sock.sid)

    def _written(self, sock: EngineIOSocket, corked: bool) -> None:
        if corked:
            self._corked.append(sock)
        if not self._turn_scheduled:
            self._turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._end_turn)

    def _end_turn(self) -> None:
        """Write every session's held-back frames (one write each) and start a new turn."""
        self._turn_scheduled = False
        self._turn += 1
        corked, self._corked = self._corked, []
        for sock in corked:
            sock._uncork()

    def _forget(self, sock: EngineIOSocket, reason: str) -> None:
        if self.sessions.get(sock.sid) is sock:
            del self.sessions[sock.sid]
            if not self.sessions and self._all_gone is not None and not self._all_gone.done():
                self._all_gone.set_result(None)
        if self.on_disconnect is not None:
            pending = self.on_disconnect(sock, reason)
            if pending is not None:
                self._spawn(pending)

    def _spawn(self, aw: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(aw)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _error(code: int, message: str, cors: dict[str, str] | None, status: int = 400) -> web.Response:
    resp = web.Response(
        status=status, text=json.dumps({"code": code, "message": message}),
        content_type="application/json",
    )
    if cors:
        resp.headers.update(cors)
    return resp


def _gone() -> web.Response:
    # What a handler returns for a client that left during the websocket handshake. Not the
    # half-prepared WebSocketResponse: aiohttp would call its close() and log the
    # RuntimeError ("Call .prepare() first") as an unhandled error. This one's write fails
    # with a ConnectionError, which aiohttp takes quietly.
    return web.Response(status=400)


async def _accept(ws: web.WebSocketResponse, request: web.Request) -> bool:
    """Complete the websocket handshake; False when the client left during it (nothing to
    serve, and not a server error: aiohttp would log one)."""
    try:
        await ws.prepare(request)
    except ConnectionError:
        return False
    return True

