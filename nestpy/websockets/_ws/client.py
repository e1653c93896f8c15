"""``WsClient``: one plain-WebSocket connection, with bounded sends.

A send is written at once while the socket's transport buffer is under its high-water
mark (the write then completes without waiting). Past it, frames wait in a per-client
queue written by one task; when that queue holds more than ``max_send_buffer`` bytes the
reader is not keeping up and is disconnected (DESIGN.md: never buffered without limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from nestpy.logger import Logger

if TYPE_CHECKING:
    from nestpy.websockets._ws.host import WsHost

__all__ = ["WsClient", "WsHandshake"]

_log = Logger("nestpy.websockets.ws")
_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY


class WsHandshake:
    """The HTTP upgrade request a plain-WebSocket client connected with."""

    __slots__ = ("address", "auth", "headers", "issued", "query", "time", "url")

    def __init__(self, request: web.Request) -> None:
        #: Request headers, lower-case names.
        self.headers: dict[str, str] = {k.lower(): v for k, v in request.headers.items()}
        #: Query string parameters (first value of each).
        self.query: dict[str, str] = {k: request.query[k] for k in request.query}
        #: What guards see as ``get_data()`` on the handshake: plain WebSocket has no auth
        #: packet, so it is the query (browsers cannot set headers on ``new WebSocket``).
        self.auth: dict[str, Any] = dict(self.query)
        #: The peer's address.
        self.address: str = request.remote or ""
        #: The request path and query.
        self.url: str = str(request.rel_url)
        #: Connection time, milliseconds since the epoch.
        self.issued = int(time.time() * 1000)
        #: Connection time as an ISO-8601 UTC string.
        self.time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.issued / 1000))


class WsClient:
    """One plain-WebSocket connection (``ConnectedSocket()`` in a plain gateway)."""

    __slots__ = (
        "_flusher",
        "_high",
        "_host",
        "_limit",
        "_pending",
        "_pending_bytes",
        "_transport",
        "_ws",
        "alive",
        "connected",
        "data",
        "disconnect_reason",
        "handshake",
        "id",
        "request",
        "rooms",
    )

    def __init__(self, host: WsHost, ws: web.WebSocketResponse, request: web.Request,
                 max_send_buffer: int) -> None:
        #: Unique connection id (20 URL-safe characters, like a Socket.IO id).
        self.id = secrets.token_urlsafe(15)
        #: The upgrade request: headers, query, address.
        self.handshake = WsHandshake(request)
        #: The aiohttp request of the upgrade (``handle_connection``'s second argument).
        self.request = request
        #: Per-connection storage for your own use.
        self.data: dict[str, Any] = {}
        #: Rooms this client is in.
        self.rooms: set[str] = set()
        #: False once the connection is closed (sends are then dropped).
        self.connected = True
        #: False from a heartbeat ping until its pong arrives.
        self.alive = True
        #: Why the server ended the connection (``handle_disconnect``'s *reason*), or None.
        self.disconnect_reason: str | None = None
        self._host = host
        self._ws = ws
        transport = request.transport
        self._transport = transport
        self._high = transport.get_write_buffer_limits()[1] if transport is not None else 0
        self._limit = max_send_buffer
        self._pending: deque[tuple[bytes, WSMsgType]] | None = None
        self._pending_bytes = 0
        self._flusher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"WsClient(id={self.id!r}, address={self.handshake.address!r})"

    # -- sending ----------------------------------------------------------------------

    async def send(self, event: str, data: Any = None) -> None:
        """Send ``{"event": event, "data": data}`` as JSON text."""
        await self._host.send_event(self, event, data)

    #: Socket.IO's name, so code written against ``Socket.emit`` works on both transports.
    emit = send

    async def send_raw(self, frame: str | bytes) -> None:
        """Send *frame* as is: ``str`` as a text frame, ``bytes`` as a binary frame."""
        if isinstance(frame, str):
            await self.write(frame.encode())
        else:
            await self.write(bytes(frame), _BINARY)

    async def write(self, frame: bytes, opcode: WSMsgType = _TEXT) -> None:
        """Send an encoded frame (UTF-8 JSON for text), keeping this client's order."""
        if not self.connected:
            return
        transport = self._transport
        if (
            self._pending is None
            and transport is not None
            and transport.get_write_buffer_size() + len(frame) <= self._high
        ):
            # Under the high-water mark the write never waits for the peer.
            try:
                await self._ws.send_frame(frame, opcode)
            except (ConnectionError, RuntimeError):
                self._lost()
            return
        self._enqueue(frame, opcode)

    async def _ping(self) -> None:
        """A heartbeat ping, written only when it cannot wait on the peer (a client whose
        sends are queued is left to the send-buffer limit instead)."""
        transport = self._transport
        if (self._pending is None and transport is not None
                and transport.get_write_buffer_size() + 6 <= self._high):
            self.alive = False
            try:
                await self._ws.ping()
            except (ConnectionError, RuntimeError):
                self._lost()

    def _enqueue(self, frame: bytes, opcode: WSMsgType) -> None:
        pending = self._pending
        if pending is None:
            pending = self._pending = deque()
        pending.append((frame, opcode))
        self._pending_bytes += len(frame)
        if self._pending_bytes > self._limit:
            _log.warning("slow reader disconnected: send buffer full", sid=self.id,
                         buffered=self._pending_bytes, limit=self._limit)
            self._lost("slow reader")
            return
        if self._flusher is None:
            self._flusher = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        pending = self._pending
        try:
            while pending:
                frame, opcode = pending.popleft()
                self._pending_bytes -= len(frame)
                await self._ws.send_frame(frame, opcode)
        except (ConnectionError, RuntimeError):
            self._lost()
        finally:
            self._flusher = None
            if not pending:
                self._pending = None

    def _lost(self, reason: str = "transport error") -> None:
        """Drop the connection at once (its reader loop then runs the disconnect hooks)."""
        if self.disconnect_reason is None:
            self.disconnect_reason = reason
        self.connected = False
        if self._pending is not None:
            self._pending.clear()
            self._pending_bytes = 0
        if self._transport is not None:
            self._transport.abort()

    def ack_sender(self, key: Any) -> Callable[..., Awaitable[None]]:
        """The ``Ack()`` callable of one message: replies as a return value would."""
        host = self._host

        def ack(*args: Any) -> Awaitable[None]:
            return host.send_ack(self, key, list(args))

        return ack

    # -- connection ------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with *code* and *reason* (at most 123 UTF-8 bytes)."""
        if not self.connected:
            return
        self.connected = False
        if self.disconnect_reason is None:
            self.disconnect_reason = "server disconnect"
        msg = reason.encode()[:123]
        flusher = self._flusher
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(BaseException):
                await flusher
        with contextlib.suppress(Exception):
            await self._ws.close(code=code, message=msg)

    async def join(self, room: str) -> None:
        """Add this client to *room*."""
        self._host.rooms.join(self, room)

    async def leave(self, room: str) -> None:
        """Remove this client from *room*."""
        self._host.rooms.leave(self, room)
