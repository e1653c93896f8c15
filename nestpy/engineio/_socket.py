"""One Engine.IO session: its transport (polling or websocket), heartbeat, upgrade and close."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from aiohttp import WSMsgType, web

from nestpy.engineio import _codec
from nestpy.engineio._codec import CLOSE, MESSAGE, NOOP, PING, PONG, UPGRADE, PacketError
from nestpy.engineio._reader import WebSocketReader

if TYPE_CHECKING:
    from nestpy.engineio._server import EngineIOServer

__all__ = ["EngineIOSocket"]

_log = logging.getLogger("nestpy.engineio")

# Disconnect reasons, Node engine.io's words.
TRANSPORT_CLOSE: Final = "transport close"
TRANSPORT_ERROR: Final = "transport error"
PING_TIMEOUT: Final = "ping timeout"
PARSE_ERROR: Final = "parse error"
FORCED_CLOSE: Final = "forced close"
SLOW_READER: Final = "slow reader"
SERVER_SHUTDOWN: Final = "server shutting down"

#: Packets per long-poll response at most: python-engineio's client refuses a payload of
#: more than 16 (Node's takes any number); the rest waits for the next GET.
MAX_POLL_PACKETS: Final = 16


class EngineIOSocket:
    """One Engine.IO session (Node engine.io's ``Socket``).

    Created by ``EngineIOServer`` at the handshake. ``send`` queues or writes a message;
    ``close`` ends the session (a pending long-poll is answered, a websocket gets a close
    frame). Everything a client sends after its CLOSE packet is ignored.

    Attributes:
        sid: the session id.
        request: the handshake request (headers, query, remote address).
        transport: ``"polling"`` or ``"websocket"`` (after an upgrade, ``"websocket"``).
        closed: True once the session is over (nothing is sent or dispatched any more).
        state: free slot for the layer above (the Socket.IO server keeps its client here).
    """

    __slots__ = (
        "_buffer",
        "_buffer_size",
        "_close_handle",
        "_closing",
        "_pending",
        "_pending_size",
        "_ping_due",
        "_ping_handle",
        "_poll",
        "_poll_flush",
        "_posting",
        "_reader",
        "_server",
        "_timeout_handle",
        "_turn",
        "_upgrading",
        "_ws",
        "_wt",
        "closed",
        "ping_deadline",
        "reason",
        "request",
        "sid",
        "state",
        "transport",
    )

    def __init__(self, server: EngineIOServer, sid: str, request: web.Request, transport: str):
        self._server = server
        self.sid = sid
        self.request = request
        self.transport = transport
        self.closed = False
        self.reason: str | None = None
        self.state: Any = None
        # polling: encoded packets waiting for a GET, their size, the GET waiting for them
        self._buffer: list[str | bytes] = []
        self._buffer_size = 0
        self._poll: asyncio.Future[str] | None = None
        self._poll_flush = False
        self._posting = False
        # server close over polling: the next GET gets the rest of the buffer and CLOSE
        self._closing = False
        self._close_handle: asyncio.TimerHandle | None = None
        self._upgrading = False
        # websocket: the response, its transport, frames held back this turn
        self._ws: web.WebSocketResponse | None = None
        self._wt: asyncio.Transport | None = None
        self._reader: WebSocketReader | None = None
        self._turn = -1
        self._pending: list[bytes] | None = None
        self._pending_size = 0
        self._ping_handle: asyncio.TimerHandle | None = None
        self._timeout_handle: asyncio.TimerHandle | None = None
        self.ping_deadline = 0.0
        self._ping_due = 0.0

    @property
    def buffered(self) -> int:
        """Packets waiting to go out: for the next poll (or for the deflate writer)."""
        return len(self._buffer)

    @property
    def compressed(self) -> bool:
        """Whether per-message deflate was negotiated (frames are then built by aiohttp)."""
        return self._ws is not None and bool(self._ws.compress)

    # -- sending ------------------------------------------------------------------------

    def send(self, data: str | bytes) -> bool:
        """Send a MESSAGE carrying *data* (text or binary); False when the session is over."""
        return self.send_packet(MESSAGE + data if type(data) is str else data)

    def send_packet(self, packet: str | bytes, framed: bytes | None = None) -> bool:
        """Send one encoded packet (``"4hello"``, ``"2"``, or bytes for a binary MESSAGE).

        *framed* is *packet*'s websocket frame when the caller built it already (a broadcast
        frames once for all recipients). Returns False when the session is over.
        """
        if self.closed or self._closing:
            return False
        if self._wt is not None and not self._upgrading:
            return self._write(framed if framed is not None else _codec.frame(packet))
        size = len(packet)
        if self._ws is not None and not self._upgrading:
            return self._send_deflated(packet, size)
        if self._buffer_size + size > self._server.max_buffer_size and self._buffer:
            self._drop_slow_reader(self._buffer_size + size)
            return False
        self._buffer.append(packet)
        self._buffer_size += size
        if self._poll is not None and not self._upgrading and not self._poll_flush:
            # Answer the waiting GET once this turn's packets are in (one payload, not one
            # response per packet).
            self._poll_flush = True
            asyncio.get_running_loop().call_soon(self._flush_poll)
        return True

    def send_packets(self, packets: list[str | bytes], framed: bytes) -> bool:
        """Send several encoded packets in order (a Socket.IO packet with binary
        attachments); *framed* is all of them as websocket frames, joined."""
        if self.closed or self._closing:
            return False
        if self._wt is not None and not self._upgrading:
            return self._write(framed)
        return all(self.send_packet(packet) for packet in packets)

    def _write(self, data: bytes) -> bool:
        """Write frame bytes to the websocket: the first write of a turn goes straight to the
        socket, later ones in the same turn are joined into one write at the turn's end."""
        wt = self._wt
        assert wt is not None
        if wt.is_closing():
            return False
        buffered = wt.get_write_buffer_size() + self._pending_size + len(data)
        if buffered > self._server.max_buffer_size and buffered > len(data):
            self._drop_slow_reader(buffered)
            return False
        server = self._server
        if self._turn != server._turn:
            self._turn = server._turn
            wt.write(data)
            server._written(self, False)
            return True
        if self._pending is None:
            self._pending = [data]
            server._written(self, True)
        else:
            self._pending.append(data)
        self._pending_size += len(data)
        return True

    def _send_deflated(self, packet: str | bytes, size: int) -> bool:
        """Per-message deflate was negotiated: aiohttp compresses, one writer task sends."""
        if self._buffer_size + size > self._server.max_buffer_size and self._buffer:
            self._drop_slow_reader(self._buffer_size + size)
            return False
        self._buffer.append(packet)
        self._buffer_size += size
        if len(self._buffer) == 1:
            self._server._spawn(self._deflate_writer())
        return True

    async def _deflate_writer(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            while self._buffer and not self.closed:
                packet = self._buffer[0]
                if isinstance(packet, str):
                    await ws.send_str(packet)
                else:
                    await ws.send_bytes(packet)
                self._buffer.pop(0)
                self._buffer_size -= len(packet)
        except (ConnectionError, RuntimeError):
            self._finish(TRANSPORT_ERROR)

    def _uncork(self) -> None:
        """Write the frames held back this turn (called by the server at the turn's end)."""
        frames, self._pending, self._pending_size = self._pending, None, 0
        wt = self._wt
        if frames and wt is not None and not wt.is_closing():
            wt.write(frames[0] if len(frames) == 1 else b"".join(frames))

    def _drop_slow_reader(self, size: int) -> None:
        _log.warning(
            "engine.io session %s: client does not read fast enough (%d bytes buffered, "
            "limit %d); disconnecting it", self.sid, size, self._server.max_buffer_size,
        )
        if self._wt is not None:
            self._wt.abort()  # the close frame would wait behind the unread bytes
        self._finish(SLOW_READER)

    # -- polling ------------------------------------------------------------------------

    def _flush_poll(self) -> None:
        self._poll_flush = False
        if self._poll is not None and self._buffer:
            self._answer_poll(None)

    def _answer_poll(self, last: str | None) -> None:
        """Answer the waiting GET with the buffered packets (and *last*, if any)."""
        poll, self._poll = self._poll, None
        if poll is None or poll.done():
            return
        packets = self._take(MAX_POLL_PACKETS - (last is not None))
        if last == NOOP and packets:
            pass  # a noop only ends the poll: a payload with data ends it as well
        elif last is not None:
            if self._buffer:  # no room left for it: the next GET gets the rest
                self._buffer.append(last)
                self._buffer_size += len(last)
            else:
                packets.append(last)
        poll.set_result(_codec.encode_payload(packets))

    def _take(self, limit: int = MAX_POLL_PACKETS) -> list[str | bytes]:
        """Up to *limit* buffered packets, removed from the buffer."""
        buffer = self._buffer
        if len(buffer) <= limit:
            self._buffer, self._buffer_size = [], 0
            return buffer
        taken, self._buffer = buffer[:limit], buffer[limit:]
        self._buffer_size -= sum(map(len, taken))
        return taken

    async def handle_get(self) -> web.Response:
        """A long-poll GET on this session."""
        if self._poll is not None:
            # Two polls at once: a broken or hostile client (Node closes the session too).
            self.close(TRANSPORT_ERROR)
            return self._server.error(3, "Bad request")
        if self._closing:
            packets = self._take(MAX_POLL_PACKETS - 1)
            if self._buffer:
                return _text(_codec.encode_payload(packets))
            self._finish(FORCED_CLOSE)
            return _text(_codec.encode_payload([*packets, CLOSE]))
        if self._upgrading:
            return _text(NOOP)  # end the poll: the client is moving to the websocket
        if self._buffer:
            return _text(_codec.encode_payload(self._take()))
        poll = self._poll = asyncio.get_running_loop().create_future()
        try:
            body = await poll
        finally:
            if self._poll is poll:
                self._poll = None
        return _text(body)

    async def handle_post(self, request: web.Request) -> web.Response:
        """A POST of a payload on this session."""
        server = self._server
        if self._posting:
            self.close(TRANSPORT_ERROR)
            return server.error(3, "Bad request")
        self._posting = True
        try:
            limit = server.max_payload
            if (request.content_length or 0) > limit:
                self.close(TRANSPORT_ERROR)
                return _too_large()
            chunks: list[bytes] = []
            size = 0
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > limit:
                    self.close(TRANSPORT_ERROR)
                    return _too_large()
                chunks.append(chunk)
            try:
                packets = _codec.decode_payload(b"".join(chunks).decode())
            except (PacketError, UnicodeDecodeError):
                server.warn_invalid(self, "invalid polling payload")
                self.close(PARSE_ERROR)
                return server.error(3, "Bad request")
            for packet in packets:
                if self.closed or self._closing:
                    break  # nothing after a CLOSE is dispatched
                await self._on_packet(packet)
        finally:
            self._posting = False
        return web.Response(text="ok", content_type="text/html")

    # -- websocket ----------------------------------------------------------------------

    def attach_websocket(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        """Make *ws* this session's transport (a websocket handshake or a finished upgrade)."""
        self._ws = ws
        # Frames are written pre-built through the public asyncio transport API, unless
        # per-message deflate was negotiated (then aiohttp compresses: see _send_deflated).
        self._wt = request.transport if not ws.compress else None
        self.transport = "websocket"

    def read_websocket(self, request: web.Request) -> WebSocketReader | None:
        """Read this session's websocket with nestpy's reader (``_reader``), paused until
        its ``resume()``; None when aiohttp reads it (per-message deflate: ``run_websocket``)."""
        transport = request.transport
        if self._wt is None or transport is None:
            return None
        reader = self._reader = WebSocketReader(
            self, transport, self._server.max_payload, self._server._spawn
        )
        reader.install(paused=True)
        return reader

    # Sink of the reader: the client's messages, in order.

    def on_text(self, data: str) -> Awaitable[None] | None:
        """A text frame: one Engine.IO packet."""
        if data[:1] == MESSAGE:  # the common case, dispatched without a detour
            return self._server._deliver(self, data[1:])
        if not data or data[0] not in "0123456":
            self._server.warn_invalid(self, "invalid websocket packet")
            self.close(PARSE_ERROR)
            return None
        self._on_control(data[0])
        return None

    def on_binary(self, data: bytes) -> Awaitable[None] | None:
        """A binary frame: a binary MESSAGE."""
        return self._server._deliver(self, data)

    def on_lost(self) -> None:
        """The websocket ended (closed by the client, or the connection dropped)."""
        self._finish(TRANSPORT_CLOSE)

    def on_error(self) -> None:
        """The client broke the websocket protocol (the reader sent the close frame)."""
        self._finish(TRANSPORT_ERROR)

    def begin_upgrade(
        self, ws: web.WebSocketResponse, request: web.Request
    ) -> WebSocketReader | None:
        """Start upgrading this polling session to *ws* (read by nestpy's reader): the probe
        runs as the reader's sink until ``5`` completes it. None when *ws* cannot be read by
        it (aiohttp's reader: ``run_upgrade``)."""
        transport = request.transport
        if ws.compress or transport is None:
            return None
        self._upgrading = True
        probe = _Probe(self, ws, request)
        reader = probe.reader = WebSocketReader(
            probe, transport, self._server.max_payload, self._server._spawn
        )
        probe.timer = asyncio.get_running_loop().call_later(
            self._server.upgrade_timeout, probe.fail
        )
        reader.install()
        return reader

    def _upgraded(
        self, ws: web.WebSocketResponse, request: web.Request, reader: WebSocketReader | None
    ) -> bool:
        """The probe is done (``5`` came): move to the websocket, read by *reader* (None:
        aiohttp's reader, ``run_websocket``). False when the session ended meanwhile."""
        self._upgrading = False
        if self.closed or self._closing:
            return False
        if self._poll is not None:
            self._answer_poll(NOOP)
        packets = self._buffer
        self._buffer, self._buffer_size = [], 0
        self.attach_websocket(ws, request)
        if reader is not None:
            self._reader = reader
            reader.sink = self
        for packet in packets:
            self.send_packet(packet)
        return True

    async def run_websocket(self, ws: web.WebSocketResponse) -> None:
        """Read *ws* with aiohttp's reader until it closes or the session ends (sessions
        that negotiated per-message deflate; others use ``read_websocket``)."""
        try:
            while not self.closed:
                msg = await ws.receive()
                if self.closed:
                    break
                kind = msg.type
                if kind is WSMsgType.TEXT:
                    pending = self.on_text(msg.data)
                elif kind is WSMsgType.BINARY:
                    pending = self.on_binary(msg.data)
                else:
                    # CLOSE / CLOSING / CLOSED, or ERROR (e.g. a frame over max_payload:
                    # aiohttp answered it with close code 1009)
                    self._finish(TRANSPORT_ERROR if kind is WSMsgType.ERROR else TRANSPORT_CLOSE)
                    break
                if pending is not None:
                    await pending
        finally:
            if not self.closed and self._ws is ws:
                self._finish(TRANSPORT_CLOSE)
            await ws.close()

    async def run_upgrade(self, ws: web.WebSocketResponse, request: web.Request) -> bool:
        """Upgrade this polling session to *ws*: ``2probe`` → ``3probe``, pending poll
        answered with a noop, then ``5`` switches. Returns False when the upgrade failed."""
        self._upgrading = True
        try:
            upgraded = await asyncio.wait_for(
                self._probe(ws, request.transport), self._server.upgrade_timeout
            )
        except asyncio.TimeoutError:
            upgraded = False
        finally:
            self._upgrading = False
        return upgraded and self._upgraded(ws, request, None)

    async def _probe(self, ws: web.WebSocketResponse, wt: asyncio.Transport | None) -> bool:
        while True:
            msg = await ws.receive()
            if msg.type is not WSMsgType.TEXT or self.closed or wt is None:
                return False
            if msg.data == "2probe":
                self._answer_probe(wt.write)
            else:
                return bool(msg.data == UPGRADE)

    def _answer_probe(self, write: Callable[[bytes], object]) -> None:
        write(_codec.frame("3probe"))
        if self._poll is not None:
            self._answer_poll(NOOP)  # the client moves on to the websocket

    # -- packets from the client --------------------------------------------------------

    async def _on_packet(self, packet: str | bytes) -> None:
        # A polling payload's packets, one after the other (as the websocket readers do).
        pending = self.on_text(packet) if isinstance(packet, str) else self.on_binary(packet)
        if pending is not None:
            await pending

    def _on_control(self, kind: str) -> None:
        if kind == PONG:
            self._on_pong()
        elif kind == CLOSE:
            self.close_by_client()
        # PING (probe only, during an upgrade), OPEN, UPGRADE, NOOP: nothing to do here.

    # -- heartbeat ----------------------------------------------------------------------

    def start_heartbeat(self) -> None:
        """Start pinging: every ``ping_interval``; no PONG within ``ping_timeout`` closes."""
        self._schedule_ping(asyncio.get_running_loop().time() + self._server.ping_interval)

    def _schedule_ping(self, due: float) -> None:
        # Deadlines count from when the PING was due, not when its timer ran: a busy loop
        # does not stretch a client's ping timeout.
        self.ping_deadline = due + self._server.ping_timeout
        self._ping_due = due
        self._ping_handle = asyncio.get_running_loop().call_at(due, self._ping)

    def _ping(self) -> None:
        self._ping_handle = None
        if self.closed:
            return
        self.send_packet(PING)
        self._timeout_handle = asyncio.get_running_loop().call_at(
            self.ping_deadline, self._ping_timed_out
        )

    def _on_pong(self) -> None:
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
            self._timeout_handle = None
            # Every ping_interval from the handshake, as the spec words it ("the server
            # sends a ping every pingInterval"): a slow PONG does not shift later PINGs.
            now = asyncio.get_running_loop().time()
            self._schedule_ping(max(now, self._ping_due + self._server.ping_interval))

    def expired(self, now: float) -> bool:
        """Whether the client let its ping timeout pass (the timer may not have run yet)."""
        return self._timeout_handle is not None and now >= self.ping_deadline

    def _ping_timed_out(self) -> None:
        self._timeout_handle = None
        self.close(PING_TIMEOUT)

    # -- closing ------------------------------------------------------------------------

    def close_by_client(self) -> None:
        """The client sent CLOSE: answer a pending poll with a noop and end the session."""
        if self._poll is not None:
            self._answer_poll(NOOP)
        self._finish(TRANSPORT_CLOSE)

    def close(self, reason: str = FORCED_CLOSE) -> None:
        """End the session from the server side.

        A pending long-poll gets what is buffered plus CLOSE; with no poll pending, the next
        GET gets them (within ``ping_timeout``, else the session is dropped). A websocket
        gets its buffered frames, then a close frame.
        """
        if self.closed or self._closing:
            return
        if self._wt is None and self._ws is None and reason == FORCED_CLOSE:
            if self._poll is not None and len(self._buffer) < MAX_POLL_PACKETS:
                self._answer_poll(CLOSE)
            else:
                if self._poll is not None:
                    self._answer_poll(None)
                self._closing = True
                self._cancel_heartbeat()
                self._close_handle = asyncio.get_running_loop().call_later(
                    self._server.ping_timeout, self._finish, FORCED_CLOSE
                )
                return
        elif self._poll is not None:
            self._answer_poll(CLOSE)
        elif self._ws is not None and reason in (FORCED_CLOSE, SERVER_SHUTDOWN):
            # Node ends a websocket session with the close frame alone; CLOSE first tells
            # python-engineio's client too that the server closed it (the JS client ignores it).
            self.send_packet(CLOSE)
        self._finish(reason)

    def _cancel_heartbeat(self) -> None:
        if self._ping_handle is not None:
            self._ping_handle.cancel()
            self._ping_handle = None
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
            self._timeout_handle = None

    def _finish(self, reason: str) -> None:
        """The session is over: release it and tell the layer above (once)."""
        if self.closed:
            return
        self.closed = True
        self.reason = reason
        self._cancel_heartbeat()
        if self._close_handle is not None:
            self._close_handle.cancel()
            self._close_handle = None
        if self._poll is not None:
            self._answer_poll(CLOSE)
        if self._pending:
            self._uncork()
        self._buffer, self._buffer_size = [], 0
        reader = self._reader
        ws = self._ws
        if reader is not None:
            reader.close()
        elif ws is not None and not ws.closed:
            self._server._spawn(ws.close())
        self._server._forget(self, reason)


class _Probe:
    """The reader's sink while a polling session probes its new websocket: ``2probe`` is
    answered ``3probe`` (and the pending poll a noop), ``5`` completes the upgrade; anything
    else, the client leaving, or ``upgrade_timeout`` closes the websocket, and the session
    carries on polling."""

    __slots__ = ("reader", "request", "sock", "timer", "ws")

    def __init__(self, sock: EngineIOSocket, ws: web.WebSocketResponse, request: web.Request):
        self.sock = sock
        self.ws = ws
        self.request = request
        self.reader: WebSocketReader | None = None
        self.timer: asyncio.TimerHandle | None = None

    def on_text(self, data: str) -> None:
        sock = self.sock
        reader = self.reader
        assert reader is not None
        if sock.closed:
            self.fail()
        elif data == "2probe":
            sock._answer_probe(reader.write)
        elif data == UPGRADE:
            self._stop_timer()
            if not sock._upgraded(self.ws, self.request, reader):
                reader.close()
        else:
            self.fail()

    def on_binary(self, data: bytes) -> None:
        self.fail()

    def on_lost(self) -> None:
        self._stop_timer()
        self.sock._upgrading = False

    def on_error(self) -> None:
        self.on_lost()

    def fail(self) -> None:
        self.on_lost()
        if self.reader is not None:
            self.reader.close()

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _text(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/plain")


def _too_large() -> web.Response:
    return web.Response(
        status=413, text=json.dumps({"code": 3, "message": "Payload too large"}),
        content_type="application/json",
    )
