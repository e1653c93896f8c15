"""The websocket reader of an Engine.IO session: client frames parsed straight off the
transport, each message handed to the session before the next is read.

aiohttp completes the handshake (``web.WebSocketResponse.prepare`` writes the 101); then this
protocol takes the connection's transport through the public asyncio API
(``transport.set_protocol``), and aiohttp's own protocol keeps only the connection's
lifecycle (``connection_lost`` and flow control are passed on to it, so aiohttp's
connection bookkeeping stays right). Why: aiohttp's reader hands every message through a
queue, a future and a task switch to ``WebSocketResponse.receive()``; for small messages that
was a third of the CPU of an ack round trip. Here a message that its handler answers at once
costs one ``data_received`` call, and the server writes its answer in the same call.

Frames are RFC 6455 client frames: masked, no extension (sessions that negotiated
per-message deflate keep aiohttp's reader), text, binary, continuation, close, ping, pong.
A protocol error closes with 1002, invalid UTF-8 with 1007, a message over ``max_payload``
with 1009 (checked on the frame header: nothing over the limit is buffered). While a message
is being handled asynchronously, the transport is paused, so what is buffered is bounded by
``max_payload`` plus one read.

Frames a client pipelines before the 101 (RFC 6455 §4.1 forbids it) stay in aiohttp's reader
and are not read.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

__all__ = ["Sink", "WebSocketReader"]


class Sink(Protocol):
    """What a ``WebSocketReader`` hands the client's messages and its end to."""

    def on_text(self, data: str) -> Awaitable[None] | None:
        """A text message."""

    def on_binary(self, data: bytes) -> Awaitable[None] | None:
        """A binary message."""

    def on_lost(self) -> None:
        """The connection ended, or the client closed it."""

    def on_error(self) -> None:
        """The client broke RFC 6455 (the reader has sent its close frame)."""

_CONTINUATION: Final = 0x0
_TEXT: Final = 0x1
_BINARY: Final = 0x2
_CLOSE: Final = 0x8
_PING: Final = 0x9
_PONG: Final = 0xA

#: Close codes (RFC 6455 §7.4.1).
NORMAL: Final = 1000
PROTOCOL_ERROR: Final = 1002
INVALID_DATA: Final = 1007
TOO_BIG: Final = 1009

#: Seconds a server-initiated close waits for the client's close frame before it drops the
#: connection (the client may be gone without a word).
CLOSE_TIMEOUT: Final = 5.0

_UNPACK_LEN2 = struct.Struct("!H").unpack_from
_UNPACK_LEN8 = struct.Struct("!Q").unpack_from


def _unmask(payload: bytes, mask: bytes) -> bytes:
    # One big-integer XOR: linear, in C, no per-byte Python loop.
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
        n, "little"
    )


def close_frame(code: int) -> bytes:
    """A server close frame carrying *code*."""
    return bytes((0x80 | _CLOSE, 2)) + code.to_bytes(2, "big")


def _control_frame(opcode: int, payload: bytes) -> bytes:
    return bytes((0x80 | opcode, len(payload))) + payload  # control payloads are <= 125


class WebSocketReader(asyncio.Protocol):
    """Reads one Engine.IO session's websocket (see the module docstring).

    Args:
        sink: where messages go (``sink``; the session, or an upgrade's probe until it
            completes): ``on_text(str)`` and ``on_binary(bytes)`` return None or an awaitable
            the reader waits for before reading on; ``on_lost()`` is told when the
            connection ends or the client closes it, ``on_error()`` when it sent a frame that
            is not RFC 6455.
        transport: the connection's transport, after the 101.
        inner: the protocol that was on *transport* (aiohttp's), told of the connection's end.
        max_payload: the largest message accepted, in bytes.
    """

    __slots__ = (
        "_blocked", "_broken", "_buf", "_close_sent", "_close_timer", "_frag_op", "_frag_size",
        "_frags", "_inner", "_max", "_spawn", "_stopped", "_transport", "done", "sink",
    )

    def __init__(
        self,
        sink: Sink,
        transport: asyncio.Transport,
        max_payload: int,
        spawn: Callable[[Awaitable[Any]], None],
    ) -> None:
        self.sink = sink
        self._transport = transport
        self._inner = transport.get_protocol()
        self._max = max_payload
        self._spawn = spawn
        self._buf = b""
        self._frag_op = 0
        self._frags: list[bytes] = []
        self._frag_size = 0
        self._blocked = False
        self._stopped = False  # closing: frames are read for the client's close frame only
        self._broken = False  # nothing more is read at all
        self._close_sent = False
        self._close_timer: asyncio.TimerHandle | None = None
        #: resolved when the connection is gone
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def install(self, *, paused: bool = False) -> None:
        """Take over the transport's incoming data; *paused* until ``resume()``."""
        if paused:
            self._blocked = True
            self._transport.pause_reading()
        self._transport.set_protocol(self)

    def write(self, data: bytes) -> None:
        """Write frame bytes to the connection (unless it is closing)."""
        if not self._transport.is_closing():
            self._transport.write(data)

    def resume(self) -> None:
        """Start (again) reading after ``install(paused=True)``."""
        self._unblock()

    # -- asyncio.Protocol ---------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._broken:
            return
        if self._buf:
            data = self._buf + data
            self._buf = b""
        if self._blocked:
            self._buf = data
            return
        self._feed(data)

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._stopped = self._broken = True
        self._buf = b""
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self.sink.on_lost()
        self._inner.connection_lost(exc)
        if not self.done.done():
            self.done.set_result(None)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- closing ------------------------------------------------------------------------

    def close(self, code: int = NORMAL) -> None:
        """Send a close frame (once) and dispatch nothing more; the connection is dropped
        when the client answers with its close frame, or after ``CLOSE_TIMEOUT`` seconds."""
        self._stopped = True
        transport = self._transport
        if transport.is_closing():
            return
        if not self._close_sent:
            self._close_sent = True
            transport.write(close_frame(code))
        if self._close_timer is None:
            self._close_timer = asyncio.get_running_loop().call_later(
                CLOSE_TIMEOUT, transport.close
            )
            if self._blocked:
                # Read on (messages are dropped now) to see the client's close frame.
                self._blocked = False
                transport.resume_reading()

    def _fail(self, code: int) -> None:
        # What follows a broken frame cannot be parsed: read nothing more at all.
        self._broken = True
        self._buf = b""
        self.close(code)
        self.sink.on_error()

    # -- frames -------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        pos = 0
        n = len(data)
        limit = self._max
        while n - pos >= 2:
            b0 = data[pos]
            b1 = data[pos + 1]
            length = b1 & 0x7F
            head = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length = _UNPACK_LEN2(data, head)[0]
                head += 2
            elif length == 127:
                if n - pos < 10:
                    break
                length = _UNPACK_LEN8(data, head)[0]
                head += 8
            if b0 & 0x70 or not b1 & 0x80:  # RSV bits (no extension) or an unmasked frame
                return self._fail(PROTOCOL_ERROR)
            opcode = b0 & 0x0F
            if opcode >= _CLOSE:
                if length > 125 or not b0 & 0x80:
                    return self._fail(PROTOCOL_ERROR)
            elif length + self._frag_size > limit:
                return self._fail(TOO_BIG)
            end = head + 4 + length
            if end > n:
                break
            payload = data[head + 4:end]
            if length:
                payload = _unmask(payload, data[head:head + 4])
            pos = end
            pending = self._frame(opcode, b0 & 0x80, payload)
            if self._broken:
                return None
            if pending is not None:
                self._buf = data[pos:]
                self._block(pending)
                return None
        self._buf = data[pos:] if pos < n else b""
        return None

    def _frame(self, opcode: int, fin: int, payload: bytes) -> Awaitable[None] | None:
        if opcode in (_TEXT, _BINARY):
            if self._frag_op:
                self._fail(PROTOCOL_ERROR)  # a new message inside a fragmented one
                return None
            if not fin:
                self._frag_op = opcode
                self._frags = [payload]
                self._frag_size = len(payload)
                return None
            return self._message(opcode, payload)
        if opcode == _CONTINUATION:
            if not self._frag_op:
                self._fail(PROTOCOL_ERROR)
                return None
            self._frags.append(payload)
            self._frag_size += len(payload)
            if not fin:
                return None
            opcode, payload = self._frag_op, b"".join(self._frags)
            self._frag_op, self._frags, self._frag_size = 0, [], 0
            return self._message(opcode, payload)
        if opcode == _PING:
            if not self._transport.is_closing():
                self._transport.write(_control_frame(_PONG, payload))
            return None
        if opcode == _PONG:
            return None
        if opcode == _CLOSE:
            self._closed_by_client(payload)
            return None
        self._fail(PROTOCOL_ERROR)  # reserved opcodes
        return None

    def _message(self, opcode: int, payload: bytes) -> Awaitable[None] | None:
        if self._stopped:
            return None  # closing: nothing more is dispatched
        if opcode == _TEXT:
            try:
                text = payload.decode()
            except UnicodeDecodeError:
                self._fail(INVALID_DATA)
                return None
            return self.sink.on_text(text)
        return self.sink.on_binary(payload)

    def _closed_by_client(self, payload: bytes) -> None:
        code = NORMAL
        if len(payload) == 1:
            self._fail(PROTOCOL_ERROR)
            return
        if len(payload) >= 2:
            code = int.from_bytes(payload[:2], "big")
        self._stopped = self._broken = True  # nothing is read after a close frame
        transport = self._transport
        if not self._close_sent and not transport.is_closing():
            self._close_sent = True
            # Echo the client's code (RFC 6455 §5.5.1), as Node's ws does.
            transport.write(close_frame(code if 1000 <= code < 5000 else NORMAL))
        self.sink.on_lost()
        transport.close()

    # -- flow ---------------------------------------------------------------------------

    def _block(self, pending: Awaitable[None]) -> None:
        # The message is handled asynchronously: read this client no further until it is
        # (messages of one client are handled in order; the kernel buffers, not us).
        self._blocked = True
        self._transport.pause_reading()
        self._spawn(self._wait(pending))

    async def _wait(self, pending: Awaitable[None]) -> None:
        try:
            await pending
        finally:
            self._unblock()

    def _unblock(self) -> None:
        self._blocked = False
        if self._broken or self._transport.is_closing():
            return
        self._transport.resume_reading()
        data, self._buf = self._buf, b""
        if data:
            self._feed(data)
