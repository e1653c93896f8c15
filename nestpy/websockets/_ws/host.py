"""``WsHost``: one plain-WebSocket endpoint (port and path) on aiohttp's public
``web.WebSocketResponse``, serving the gateways bound to it with the compiled pipeline.

The compiled handlers (``nestpy.websockets._binding``) are transport-agnostic: they call
``send_ack(client, key, args)`` for a return value and ``send_error(client, key, payload,
silent)`` for an error, both defined here. *key* is ``NO_ID`` when the request carried no
``"id"`` (the reply is the bare value, as NestJS's ``WsAdapter`` sends it) and
``(event, id)`` otherwise (the reply is ``{"event", "id", "data"}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from nestpy.common.filters import INTERNAL_ERROR
from nestpy.logger import Logger, ws_context
from nestpy.websockets._runtime import GatewayRuntime, merge_runtimes
from nestpy.websockets._ws.client import WsClient
from nestpy.websockets._ws.frames import (
    BadFrame,
    MessageParser,
    ParsedFrame,
    encode,
    frame_fields,
    parse_json_frame,
)
from nestpy.websockets._ws.server import Rooms
from nestpy.websockets.exceptions import WsException

if TYPE_CHECKING:
    from nestpy.websockets._ws.broker import Bridge

__all__ = ["NO_ID", "PlainOptions", "WsHost"]

_log = Logger("nestpy.websockets.ws")

#: The reply key of a request without ``"id"``.
NO_ID: Any = object()
_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_tasks: set[asyncio.Task[None]] = set()
Run = Callable[[Any, Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class PlainOptions:
    """A plain gateway's options, validated at bootstrap (see ``adapter.plain_options``)."""

    path: str
    cors: Any = None
    max_message_size: int = 1_000_000
    max_send_buffer: int = 1 << 20
    ping_interval: float | None = 25.0
    close_timeout: float = 2.0
    message_parser: MessageParser | None = None


def _origin_allowed(cors: Any, origin: str | None, host: str | None) -> bool:
    if origin is None:
        return True  # not a browser: no origin to check (as Socket.IO does)
    if cors is True or cors == "*":
        return True
    if cors is None or cors is False:
        # Closed by default: the page must come from this server.
        return urlsplit(origin).netloc == (host or "")
    if isinstance(cors, dict):
        return _origin_allowed(cors.get("origin", "*"), origin, host)
    if isinstance(cors, str):
        return origin == cors
    return origin in cors


class WsHost:
    """Serves one path on one port: handshake, frames, rooms and the gateways' handlers."""

    #: Async generators reply with every item (``_binding`` reads this once).
    reply_each_item = True
    #: ``handle_connection(client, request)`` gets the upgrade request.
    passes_request = True

    def __init__(self, options: PlainOptions, index: int) -> None:
        self.options = options
        self.path = options.path
        self.index = index
        self.clients: dict[str, WsClient] = {}
        self.rooms = Rooms()
        self.middlewares: list[Callable[[WsClient], Any]] = []
        self.bridge: Bridge | None = None
        self._runtime: GatewayRuntime | None = None
        self._handlers: dict[str, tuple[Run, bool]] = {}
        self._closing = False
        self._pinger: asyncio.Task[None] | None = None

    # -- what the compiled pipeline calls ----------------------------------------------

    def add_gateway(self, runtime: GatewayRuntime) -> None:
        """Serve *runtime*'s handlers here (several gateways on one path are merged)."""
        first = self._runtime
        self._runtime = runtime if first is None else merge_runtimes(first, runtime)
        self.refresh_handlers()

    @property
    def runtime(self) -> GatewayRuntime | None:
        """The (merged) gateway runtime served here, None before any gateway is added."""
        return self._runtime

    def refresh_handlers(self) -> None:
        """Rebuild the dispatch table from the runtime's compiled handlers (after they
        are added, or replaced at bootstrap by observability's wrappers)."""
        runtime = self._runtime
        self._handlers = {} if runtime is None else {
            event: (h.run, h.inline) for event, h in runtime.handlers.items()
        }

    def ack_sender(self, client: WsClient, key: Any) -> Callable[..., Awaitable[None]]:
        """The callable an ``Ack()`` parameter receives for request *key* of *client*."""
        return client.ack_sender(key)

    async def send_ack(self, client: WsClient, key: Any, args: list[Any]) -> None:
        """Reply to one request with a handler's result (*args*: ``[]`` for None)."""
        if key is NO_ID:
            if not args:
                return  # NestJS sends nothing for a null result
            value = args[0] if len(args) == 1 else args
            try:
                frame = encode(value)
            except TypeError as exc:
                await self._encode_failed(client, key, exc)
                return
        else:
            event, rid = key
            value = None if not args else (args[0] if len(args) == 1 else args)
            try:
                frame = encode({"event": event, "id": rid, "data": value})
            except TypeError as exc:
                await self._encode_failed(client, key, exc)
                return
        await client.write(frame)

    async def send_error(self, client: WsClient, key: Any, payload: Any, silent: bool) -> None:
        """Send an ``exception`` frame (with the request's id); *silent*: a filter handled
        the error and returned None, so only a client waiting on an id gets a reply."""
        if key is NO_ID:
            if silent:
                return
            msg: dict[str, Any] = {"event": "exception", "data": payload}
        else:
            msg = {"event": "exception", "id": key[1], "data": payload}
        try:
            frame = encode(msg)
        except TypeError as exc:
            await self._encode_failed(client, key, exc)
            return
        await self.write_error(client, frame, key is not NO_ID)

    async def write_error(self, client: WsClient, frame: bytes, reply: bool = False) -> None:
        """Write an encoded ``exception`` frame to *client*; *reply*: it answers a
        handler's request (a frame with an id). Every error frame passes here, so that
        observability can count it by shadowing this method once."""
        await client.write(frame)

    def send_event(self, client: WsClient, event: str, data: Any) -> Awaitable[None]:
        """``client.send(event, data)``: ``{"event", "data"}`` to one client (returns the
        write's awaitable: no coroutine of its own per send)."""
        return client.write(encode({"event": event, "data": data}))

    async def _encode_failed(self, client: WsClient, key: Any, exc: TypeError) -> None:
        _log.error("cannot encode a reply", sid=client.id, error=str(exc))
        data = {"status": "error", "message": INTERNAL_ERROR}
        frame = {"event": "exception", "data": data}
        if key is not NO_ID:
            frame["id"] = key[1]
        await self.write_error(client, encode(frame), key is not NO_ID)

    # -- broadcasting --------------------------------------------------------------------

    def broadcast_event(
        self, event: str, data: Any, rooms: tuple[str, ...] | None, exclude: Iterable[str]
    ) -> Awaitable[None]:
        """``server.broadcast`` / ``server.to(...).broadcast``: one ``{"event", "data"}``
        frame to the targeted clients, in every process (returns the broadcast's
        awaitable)."""
        return self.broadcast_frame(encode({"event": event, "data": data}), rooms, exclude)

    async def broadcast_frame(
        self, frame: bytes, rooms: tuple[str, ...] | None, exclude: Iterable[str]
    ) -> None:
        """Deliver *frame* here and, with a scale-out adapter, in every other process."""
        exclude = tuple(exclude)
        if self.bridge is not None:
            await self.bridge.publish(self.index, frame, rooms, exclude)
        await self.deliver(frame, rooms, exclude)

    async def deliver(
        self, frame: bytes, rooms: Iterable[str] | None, exclude: Iterable[str]
    ) -> None:
        """Deliver *frame* to this process's clients in *rooms* (all when None)."""
        if rooms is None:
            targets: Iterable[WsClient] = list(self.clients.values())
        else:
            found = self.rooms.members(rooms)
            for room in rooms:  # a client's id is a room of its own
                c = self.clients.get(room)
                if c is not None:
                    found.add(c)
            targets = found
        if exclude:
            skip = self.rooms.members(exclude)
            skip.update(c for r in exclude if (c := self.clients.get(r)) is not None)
            targets = [c for c in targets if c not in skip]
        for client in targets:
            await client.write(frame)

    # -- connections ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler of this path: upgrade, admit, read frames, clean up."""
        opts = self.options
        if self._closing:
            return web.Response(status=503, text="server shutting down")
        if not _origin_allowed(opts.cors, request.headers.get("Origin"), request.host):
            _log.info("origin refused", origin=request.headers.get("Origin"), path=self.path)
            return web.Response(status=403, text="origin not allowed")
        # Heartbeats are this host's own (one timer for every client, see _heartbeat):
        # aiohttp's per-connection heartbeat re-arms a timer on every message received.
        ws = web.WebSocketResponse(
            autoping=False, max_msg_size=opts.max_message_size,
            compress=False, timeout=opts.close_timeout,
        )
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, text="expected a WebSocket upgrade",
                                headers={"Upgrade": "websocket"})
        await ws.prepare(request)
        client = WsClient(self, ws, request, opts.max_send_buffer)
        refusal = await self._admit(client)
        if refusal is not None:
            client.connected = False
            with contextlib.suppress(Exception):
                await ws.close(code=1008, message=refusal.encode()[:123])
            return ws
        self.clients[client.id] = client
        if self._pinger is None and opts.ping_interval:
            self._pinger = asyncio.ensure_future(self._heartbeat(opts.ping_interval))
        reason = "transport close"
        try:
            reason = await self._read(client, ws)
        finally:
            reason = client.disconnect_reason or reason
            self.clients.pop(client.id, None)
            client.connected = False
            self.rooms.leave_all(client)
            runtime = self._runtime
            if runtime is not None:
                await runtime.on_disconnect(cast(Any, client), reason)
        return ws

    async def _admit(self, client: WsClient) -> str | None:
        """None when *client* may stay; otherwise the refusal message."""
        try:
            for mw in self.middlewares:
                r = mw(client)
                if inspect.isawaitable(r):
                    r = await r
                if r is False:
                    return "Connection rejected by server"
        except WsException as exc:
            err = exc.get_error()
            if isinstance(err, dict):
                return str(err.get("message", "Connection refused"))
            return err if isinstance(err, str) else str(err)
        except Exception:
            _log.exception("middleware failed", sid=client.id, path=self.path)
            return INTERNAL_ERROR
        runtime = self._runtime
        if runtime is None:
            return None
        refusal = await runtime.accept(cast(Any, client))
        return None if refusal is None else str(refusal.get("message", "Connection refused"))

    async def _heartbeat(self, interval: float) -> None:
        """Ping every client each *interval*; drop those that did not answer the last one
        (the ``ws`` package's documented pattern: one timer, not one per connection)."""
        while True:
            await asyncio.sleep(interval)
            for client in list(self.clients.values()):
                if not client.alive:
                    _log.info("no pong: connection dropped", sid=client.id)
                    client._lost("ping timeout")
                    continue
                await client._ping()

    async def _read(self, client: WsClient, ws: web.WebSocketResponse) -> str:
        parser = self.options.message_parser
        receive = ws.receive
        handlers = self._handlers
        path = self.path
        while True:
            msg = await receive()
            kind = msg.type
            if kind is _TEXT:
                raw: str | bytes = msg.data
            elif kind is WSMsgType.PONG:
                client.alive = True
                continue
            elif kind is WSMsgType.PING:
                with contextlib.suppress(Exception):
                    await ws.pong(msg.data)
                continue
            elif kind is _BINARY:
                if parser is None:
                    await self._reject(client, BadFrame(
                        "Binary frames need a message_parser on this gateway"))
                    continue
                raw = msg.data
            elif kind is WSMsgType.ERROR:
                # An oversized frame: aiohttp has already closed with 1009.
                _log.info("connection closed on a bad frame", sid=client.id,
                          error=str(msg.data), code=ws.close_code)
                return "parse error"
            else:
                # a close frame from the client, or the connection just ended
                return "client disconnect" if kind is WSMsgType.CLOSE else "transport close"
            try:
                parsed = parse_json_frame(raw) if parser is None else self._parse(parser, raw)
            except BadFrame as exc:
                await self._reject(client, exc)
                continue
            if parsed is None:
                continue
            # The dispatch, inlined: this loop runs once per message.
            event, data, rid = parsed
            entry = handlers.get(event)
            if entry is None:
                await self._unknown(client, event, rid)
                continue
            run, inline = entry
            token = ws_context.set((client.id, path, event))
            try:
                if inline:
                    await run(client, data, NO_ID if rid is None else (event, rid))
                else:
                    task = asyncio.ensure_future(
                        run(client, data, NO_ID if rid is None else (event, rid)))
                    if not task.done():
                        _tasks.add(task)
                        task.add_done_callback(_tasks.discard)
            finally:
                ws_context.reset(token)

    @staticmethod
    def _parse(parser: MessageParser, raw: str | bytes) -> ParsedFrame | None:
        try:
            msg = parser(raw)
        except Exception as exc:
            raise BadFrame(f"Frame rejected by message_parser: {exc}") from None
        return None if msg is None else frame_fields(msg)

    async def _reject(self, client: WsClient, exc: BadFrame) -> None:
        frame: dict[str, Any] = {"event": "exception",
                                 "data": {"status": "error", "message": str(exc)}}
        if exc.request_id is not None:
            frame["id"] = exc.request_id
        await self.write_error(client, encode(frame))

    async def _unknown(self, client: WsClient, event: str, rid: Any) -> None:
        # NestJS ignores unknown events; a client waiting on an id still gets an answer.
        _log.debug("no handler for event", sid=client.id, pattern=event)
        if rid is not None:
            await self._reject(client, BadFrame(f"Unknown event '{event}'", rid))

    async def close(self) -> None:
        """Refuse new connections and close every client with 1001 (bounded wait)."""
        self._closing = True
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(BaseException):
                await self._pinger
            self._pinger = None
        clients = list(self.clients.values())
        if not clients:
            return
        closing = [asyncio.ensure_future(c.close(1001, "Server shutting down")) for c in clients]
        _done, pending = await asyncio.wait(closing, timeout=self.options.close_timeout + 0.5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
