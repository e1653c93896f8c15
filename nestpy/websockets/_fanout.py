"""Fast broadcast path: encode a Socket.IO packet once, frame it once, write it to every socket.

python-socketio's ``AsyncManager.emit`` encodes a broadcast once, then creates one task per
recipient that puts the Engine.IO packet on the socket's queue; each socket's writer task
re-encodes it and frames it through aiohttp. Here the packet is encoded and framed (RFC 6455,
unmasked, uncompressed) once per emit, and each recipient whose websocket writer is idle gets
the frame bytes with one ``transport.write`` — no task, no queue, no re-encode. Further
broadcasts to the same socket within the same event-loop turn (a handler emitting a burst) are
held back and written together, one ``transport.write`` per socket, when the turn ends.

A recipient takes the normal queued path (ordering preserved) whenever a direct write could be
observed by the client differently from the queued one:

- the socket is polling, upgrading, closing or past its ping timeout;
- its send queue holds packets, or its writer task has packets in hand (it is not parked in
  ``queue.get()``) — a direct write would overtake them;
- its transport is closing, flow control paused it, or its write buffer is over the limit
  (so a slow reader makes the server buffer no more than upstream does);
- per-message-deflate was negotiated (frames are compressed per connection);
- the emit asks for a callback (each recipient needs its own ack id).

The socket ↔ websocket link is learnt through python-engineio's async-driver seam: the
``'websocket'`` entry of the server's driver table is replaced (per server, not globally) by a
subclass of the aiohttp driver's wrapper that registers each prepared ``WebSocketResponse``.
Other async modes keep working: without a registered websocket every recipient is queued.

.. versionadded:: 0.1
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Final

import socketio
from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet as sio_packet

__all__ = [
    "FastAsyncAioPikaManager",
    "FastAsyncManager",
    "FastAsyncRedisManager",
    "fast_manager_class",
]

#: Default cap on a transport's write buffer for a direct write. asyncio pauses a protocol at
#: 64 KiB (its high-water mark), which is also where aiohttp's websocket writer starts draining.
DEFAULT_WRITE_BUFFER_LIMIT: Final = 64 * 1024

_OP_TEXT: Final = 0x1
_OP_BINARY: Final = 0x2
_PACK_LEN1 = struct.Struct("!BB").pack
_PACK_LEN2 = struct.Struct("!BBH").pack
_PACK_LEN3 = struct.Struct("!BBQ").pack
# Attribute on the engineio server holding {eio_sid: _Channel}; set by FastAsyncManager.
_REGISTRY_ATTR: Final = "_nestpy_fanout_channels"


def _frame(payload: bytes, opcode: int) -> bytes:
    """Build one final, unmasked, uncompressed websocket frame (server → client)."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        header = _PACK_LEN1(first, n)
    elif n < 65536:
        header = _PACK_LEN2(first, 126, n)
    else:
        header = _PACK_LEN3(first, 127, n)
    return header + payload


def _frame_eio(pkt: Any) -> bytes:
    """Frame one Engine.IO packet exactly as the aiohttp driver's ``send`` would."""
    encoded = pkt.encode()
    if isinstance(encoded, bytes | bytearray):
        return _frame(bytes(encoded), _OP_BINARY)
    return _frame(encoded.encode("utf-8"), _OP_TEXT)


def _frame_part(part: str | bytes | bytearray) -> bytes:
    """Frame one part of an encoded Socket.IO packet as an Engine.IO MESSAGE (same bytes as
    ``_frame_eio(Packet(MESSAGE, part))``: text gets the ``4`` type prefix, binary goes as is)."""
    if isinstance(part, str):
        return _frame(("4" + part).encode("utf-8"), _OP_TEXT)
    return _frame(bytes(part), _OP_BINARY)


def _eio_packets(parts: list[Any]) -> list[Any]:
    """Engine.IO MESSAGE packets, one per part of an encoded Socket.IO packet."""
    return [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]


class _Channel:
    """What a direct write to one Engine.IO socket needs, resolved once at connection time."""

    __slots__ = (
        "getters",
        "items",
        "pending",
        "pending_size",
        "protocol",
        "socket",
        "transport",
        "turn",
        "writer",
        "ws",
    )

    def __init__(
        self,
        socket: Any,
        items: deque[Any],
        getters: deque[asyncio.Future[Any]],
        ws: web.WebSocketResponse,
        writer: Any,
        transport: asyncio.Transport,
        protocol: BaseProtocol,
    ) -> None:
        self.socket = socket
        self.items = items
        self.getters = getters
        self.ws = ws
        self.writer = writer
        self.transport = transport
        self.protocol = protocol
        # Coalescing (see FastAsyncManager._flush): the manager's turn number when this socket
        # was last written directly, and frames held back since then (with their size).
        self.turn = -1
        self.pending: list[bytes] | None = None
        self.pending_size = 0

    @classmethod
    def create(cls, socket: Any, ws: web.WebSocketResponse) -> _Channel | None:
        """Return a channel for *socket* over *ws*, or None when direct writes are unsafe."""
        writer = ws._writer
        queue = getattr(socket, "queue", None)
        if (
            writer is None
            or writer.compress  # per-message-deflate: frames differ per connection
            or writer.use_mask
            or not isinstance(queue, asyncio.Queue)
        ):
            return None
        # asyncio.Queue keeps its items in ``_queue`` and parked getters in ``_getters`` (both
        # deques, created once); without them the writer's idleness cannot be observed.
        items = getattr(queue, "_queue", None)
        getters = getattr(queue, "_getters", None)
        if not isinstance(items, deque) or not isinstance(getters, deque):
            return None
        transport = writer.transport
        protocol = writer.protocol
        if transport is None or not isinstance(protocol, BaseProtocol):
            return None
        return cls(socket, items, getters, ws, writer, transport, protocol)


class _TrackingMixin:
    """Mixed into an aiohttp websocket driver class: registers each socket for fan-out."""

    # Set by the driver's __init__ / __call__ (python-engineio's aiohttp WebSocket contract).
    handler: Callable[[Any], Awaitable[None]]
    server: Any
    _sock: web.WebSocketResponse | None

    def __init__(self, handler: Callable[[Any], Awaitable[None]], server: Any) -> None:
        super().__init__(handler, server)  # type: ignore[call-arg]
        self._fanout_handler = handler
        # The driver's __call__ prepares the WebSocketResponse, then awaits self.handler(self).
        self.handler = self._run_registered

    async def _run_registered(self, ws: Any) -> None:
        # The handler is AsyncSocket._websocket_handler, bound to the socket it serves.
        socket: Any = getattr(self._fanout_handler, "__self__", None)
        registry: dict[str, _Channel] | None = getattr(self.server, _REGISTRY_ATTR, None)
        channel = None
        if (
            registry is not None
            and socket is not None
            and isinstance(self._sock, web.WebSocketResponse)
        ):
            channel = _Channel.create(socket, self._sock)
            if channel is not None:
                registry[socket.sid] = channel
        try:
            await self._fanout_handler(ws)
        finally:
            if channel is not None and registry is not None and registry.get(socket.sid) is channel:
                del registry[socket.sid]


_tracking_drivers: dict[type[Any], type[Any]] = {}


def _tracking_driver(driver: type[Any]) -> type[Any]:
    """Return *driver* (an aiohttp websocket driver class) with ``_TrackingMixin`` in front."""
    cls = _tracking_drivers.get(driver)
    if cls is None:
        name = f"Tracking{driver.__name__}"
        cls = _tracking_drivers[driver] = type(name, (_TrackingMixin, driver), {})
    return cls


def _install_websocket_hook(eio: Any) -> dict[str, _Channel] | None:
    """Give *eio* (an engineio.AsyncServer) a registering websocket driver; return its registry.

    The installed driver is wrapped, not replaced, so a server that already swapped in its
    own subclass of python-engineio's aiohttp ``WebSocket`` keeps it. Returns None when the
    server does not run on that driver (another async mode): every recipient is then queued.
    """
    existing: dict[str, _Channel] | None = getattr(eio, _REGISTRY_ATTR, None)
    if existing is not None:
        return existing
    drivers: Any = getattr(eio, "_async", None)
    driver: Any = drivers.get("websocket") if isinstance(drivers, dict) else None
    if not (isinstance(driver, type) and issubclass(driver, eio_aiohttp.WebSocket)):
        return None
    registry: dict[str, _Channel] = {}
    setattr(eio, _REGISTRY_ATTR, registry)
    if not issubclass(driver, _TrackingMixin):
        # Copy the table: python-engineio's own is a module-level dict shared by all servers.
        eio._async = {**drivers, "websocket": _tracking_driver(driver)}
    return registry


class FastAsyncManager(socketio.AsyncManager):  # type: ignore[misc]
    """``socketio.AsyncManager`` whose broadcasts are encoded and framed once per emit.

    Pass an instance as ``client_manager=`` to ``socketio.AsyncServer(async_mode="aiohttp")``.
    Every semantic of the upstream manager is kept (rooms, ``skip_sid``, binary attachments,
    callbacks, polling sockets, per-socket order); see the module docstring for when a
    recipient takes the queued path instead of a direct write.

    Args:
        write_buffer_limit: a websocket whose transport buffers more than this many bytes is
            written through its queue (and so waits for its writer to drain) instead of
            directly. None keeps the class default (64 KiB).

    .. versionadded:: 0.1
    """

    write_buffer_limit: int = DEFAULT_WRITE_BUFFER_LIMIT
    #: Recipients served by one direct ``transport.write`` since start (for tests and benchmarks).
    direct_deliveries: int = 0
    #: Recipients served through their socket's send queue (no callback) since start.
    queued_deliveries: int = 0
    #: Connection state recovery (``nestpy.websockets._recovery.RecoveryStore``), set by the
    #: server when the gateway option is on; None otherwise.
    recovery: Any = None

    def __init__(self, *args: Any, write_buffer_limit: int | None = None, **kwargs: Any) -> None:
        # *args/**kwargs: in a pub/sub subclass (fast_manager_class) this sits after
        # AsyncPubSubManager in the MRO, which calls ``super().__init__()`` without arguments.
        super().__init__(*args, **kwargs)
        if write_buffer_limit is not None:
            self.write_buffer_limit = write_buffer_limit
        self._channels: dict[str, _Channel] | None = None
        # A "turn" lasts from one _flush to the next; see _flush.
        self._turn = 0
        self._corked: list[_Channel] = []
        self._flush_handle: asyncio.Handle | None = None

    def set_server(self, server: Any) -> None:
        """Attach to *server* and hook its websocket driver (a no-op outside aiohttp)."""
        super().set_server(server)
        eio = getattr(server, "eio", None)
        self._channels = _install_websocket_hook(eio) if eio is not None else None

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Callable[..., Any] | None = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Emit *event* to a single client, a room, or the whole namespace (upstream semantics).

        Note: this method is a coroutine.
        """
        if self.recovery is not None and not callback:
            # recovery hook (cluster branch): keep the packet, append its offset
            data = self.recovery.on_broadcast(event, namespace, to or room, skip_sid, data)
        if callback:
            # Each recipient gets its own ack id, hence its own packet: nothing to share.
            await super().emit(
                event,
                data,
                namespace,
                room=room,
                skip_sid=skip_sid,
                callback=callback,
                to=to,
                **kwargs,
            )
            return
        room = to or room
        if namespace not in self.rooms:
            return
        # Same argument expansion as AsyncManager.emit.
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}

        server = self.server
        encoded = server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        parts: list[Any] = encoded if isinstance(encoded, list) else [encoded]
        eio_pkts = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]
        # Encoding the eio packets here fills their encode cache with the websocket form, which
        # the writer task of a queued websocket recipient then reuses.
        frame = b"".join(map(_frame_eio, eio_pkts))
        frame_len = len(frame)
        binary = any(isinstance(p, bytes | bytearray) for p in parts)
        # Polling payloads encode binary packets as base64 (``encode(b64=True)``), but
        # engineio's packet cache ignores ``b64``: polling recipients get their own packets.
        poll_pkts: list[Any] | None = None

        eio = server.eio
        sockets = eio.sockets
        channels = self._channels or {}
        ping_timeout = eio.ping_timeout
        now = time.time()
        log = eio.logger.isEnabledFor(logging.INFO)
        send_direct = self._send_direct
        deferred: list[str] = []
        direct = queued = polled = 0

        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            ch = channels.get(eio_sid)
            if ch is not None and send_direct(ch, frame, frame_len, now):
                direct += 1
                if log:
                    _log_sent(eio, eio_sid, eio_pkts)
                continue
            sock = sockets.get(eio_sid)
            if (
                sock is None
                or sock.closed
                or sock.closing
                or (sock.last_ping and now - sock.last_ping > ping_timeout)
            ):
                # Missing, closing or timed-out sockets: upstream's send decides (logs, closes).
                deferred.append(eio_sid)
                continue
            pkts = eio_pkts
            if binary and not sock.upgraded:
                if poll_pkts is None:
                    poll_pkts = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]
                pkts = poll_pkts
            queue = sock.queue
            for p in pkts:
                queue.put_nowait(p)  # engineio queues are unbounded: same as ``await put``
            queued += 1
            if not sock.upgraded:
                polled += 1
            if log:
                _log_sent(eio, eio_sid, pkts)

        self.direct_deliveries += direct
        self.queued_deliveries += queued + len(deferred)
        if deferred:
            await asyncio.gather(*(_send_upstream(server, e, eio_pkts) for e in deferred))
        elif polled:
            # Upstream's emit suspends until its send tasks ran; yielding once likewise lets a
            # parked long-poll answer before the next emit, so a burst of emits reaches a
            # polling client in several payloads (python-engineio's client rejects a payload
            # of more than 16 packets). Websocket-only emits do not yield: a burst of them in
            # one turn is coalesced into one write per socket (see _flush).
            await asyncio.sleep(0)

    def unicast(self, eio_sid: str, pkt: Any) -> Coroutine[Any, Any, None] | None:
        """Send Socket.IO packet *pkt* to the one Engine.IO session *eio_sid*, in order.

        The unicast counterpart of ``emit`` (acks, ``Socket.emit``): encoded and framed once and
        written straight to the transport when the session's websocket writer is idle, under
        exactly the checks and per-turn coalescing of a broadcast (``_send_direct``); otherwise
        put on the session's send queue before returning, as ``AsyncSocket.send`` does. Either
        way the packet is ordered after everything sent to that session before the call.

        Returns:
            None when the packet was written, held back for this turn's flush, or queued; a
            coroutine to await when the session is missing, closing or past its ping timeout
            (upstream's ``send`` then decides: it logs, or closes the session).
        """
        encoded = pkt.encode()
        parts: list[Any] = encoded if isinstance(encoded, list) else [encoded]
        channels = self._channels
        eio = self.server.eio
        now = time.time()
        ch = channels.get(eio_sid) if channels else None
        if ch is not None:
            # Framed straight from the Socket.IO encoding (what ``Packet.encode`` + the driver
            # would produce): no Engine.IO packet objects unless they are needed below.
            frame = _frame_part(parts[0]) if len(parts) == 1 else b"".join(map(_frame_part, parts))
            if self._send_direct(ch, frame, len(frame), now):
                self.direct_deliveries += 1
                if eio.logger.isEnabledFor(logging.INFO):
                    _log_sent(eio, eio_sid, _eio_packets(parts))
                return None
        sock = eio.sockets.get(eio_sid)
        if (
            sock is None
            or sock.closed
            or sock.closing
            or (sock.last_ping and now - sock.last_ping > eio.ping_timeout)
        ):
            self.queued_deliveries += 1
            return _send_upstream(self.server, eio_sid, _eio_packets(parts))
        # Fresh packets: their encode cache is empty, so a long-poll payload encodes binary
        # attachments as base64 and a websocket writer as bytes, whichever takes them.
        pkts = _eio_packets(parts)
        queue = sock.queue
        for p in pkts:
            queue.put_nowait(p)  # engineio queues are unbounded: same as ``await put``
        self.queued_deliveries += 1
        if eio.logger.isEnabledFor(logging.INFO):
            _log_sent(eio, eio_sid, pkts)
        return None

    def _send_direct(self, ch: _Channel, frame: bytes, frame_len: int, now: float) -> bool:
        """Write *frame* to *ch* now, or hold it back for this turn's flush; False when unsafe.

        The one place that decides a direct write (broadcasts and unicasts alike): the socket's
        queue is empty and its writer parked in ``queue.get()`` (nothing sent earlier can be
        overtaken), the session is upgraded and alive, and the transport is open, not paused
        and under ``write_buffer_limit``. The first frame a socket gets in a turn goes straight
        to the wire; later ones in the same turn are joined and written by ``_flush``.
        """
        if ch.items:
            return False
        getters = ch.getters
        sock = ch.socket
        last_ping = sock.last_ping
        transport = ch.transport
        if not (
            # the writer is parked in queue.get(): it holds no packet of its own
            len(getters) == 1
            and not getters[0].done()
            and sock.upgraded
            and not sock.upgrading
            and not sock.closing
            and not sock.closed
            and not (last_ping and now - last_ping > self.server.eio.ping_timeout)
            and not ch.writer._closing
            and not ch.protocol._paused
            and not transport.is_closing()
            and transport.get_write_buffer_size() + ch.pending_size <= self.write_buffer_limit
        ):
            return False
        turn = self._turn
        if ch.turn != turn:
            # First frame for this socket this turn: straight to the wire.
            try:
                transport.write(frame)
            except Exception:  # the transport died under us: let the queue decide
                return False
            # aiohttp's writer drains once it has output this many bytes since its last
            # check: count ours so its flow control sees every byte.
            ch.writer._output_size += frame_len
            ch.turn = turn
            if self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)
            return True
        # Written already this turn (a burst of emits): hold the frame back and write all of
        # them with one syscall when the turn ends.
        if ch.pending is None:
            ch.pending = [frame]
            self._corked.append(ch)
        else:
            ch.pending.append(frame)
        ch.pending_size += frame_len
        return True

    def _flush(self) -> None:
        """End the turn: write each socket's held-back frames with one ``transport.write``.

        Scheduled with ``call_soon`` by the turn's first direct write, so it runs before any
        callback scheduled later — in particular before a writer task woken by a packet queued
        after that write: held-back frames still reach the wire ahead of such packets.
        """
        self._flush_handle = None
        self._turn += 1
        corked, self._corked = self._corked, []
        for ch in corked:
            frames, ch.pending, ch.pending_size = ch.pending, None, 0
            transport = ch.transport
            if not frames or transport.is_closing() or ch.writer._closing:
                continue  # the connection is going away: upstream's writer would fail too
            data = frames[0] if len(frames) == 1 else b"".join(frames)
            try:
                transport.write(data)
            except Exception:  # lost between the emit and now; the read side will notice
                continue
            ch.writer._output_size += len(data)


async def _send_upstream(server: Any, eio_sid: str, pkts: Iterable[Any]) -> None:
    """Send *pkts* to one recipient through ``AsyncServer._send_eio_packet``, in order."""
    for p in pkts:
        await server._send_eio_packet(eio_sid, p)


def _log_sent(eio: Any, eio_sid: str, pkts: Iterable[Any]) -> None:
    """Log each packet as engineio's ``AsyncSocket.send`` does."""
    for p in pkts:
        eio.logger.info(
            "%s: Sending packet %s data %s",
            eio_sid,
            eio_packet.packet_names[p.packet_type],
            p.data if not isinstance(p.data, bytes) else "<binary>",
        )


def fast_manager_class(base: type[Any]) -> type[Any]:
    """Return a subclass of *base* whose local delivery uses the fast broadcast path.

    ``FastAsyncManager`` is placed right before ``socketio.AsyncManager`` in the MRO, so a
    pub/sub manager's own ``emit`` still publishes, and its ``_handle_emit`` — which calls
    ``super().emit`` from ``AsyncPubSubManager`` — reaches the fast path rather than skipping
    it (a mixin placed first would be bypassed by that ``super()`` call).

    Args:
        base: ``socketio.AsyncManager`` or a subclass of it (e.g. ``AsyncRedisManager``).

    Returns:
        The fast subclass; the same class object for the same *base*.

    Raises:
        TypeError: if *base* is not a subclass of ``socketio.AsyncManager``.

    .. versionadded:: 0.1
    """
    if not (isinstance(base, type) and issubclass(base, socketio.AsyncManager)):
        raise TypeError(
            f"fast_manager_class() needs a socketio.AsyncManager subclass, got {base!r}"
        )
    if issubclass(base, FastAsyncManager):
        return base
    cls = _fast_classes.get(base)
    if cls is None:
        cls = _fast_classes[base] = type(f"Fast{base.__name__}", (base, FastAsyncManager), {})
    return cls


class FastAsyncRedisManager(socketio.AsyncRedisManager, FastAsyncManager):  # type: ignore[misc]
    """``socketio.AsyncRedisManager`` delivering to local sockets through the fast path.

    .. versionadded:: 0.1
    """


class FastAsyncAioPikaManager(socketio.AsyncAioPikaManager, FastAsyncManager):  # type: ignore[misc]
    """``socketio.AsyncAioPikaManager`` delivering to local sockets through the fast path.

    .. versionadded:: 0.1
    """


# fast_manager_class() returns one class per base; the ready-made ones are seeded here.
_fast_classes: dict[type[Any], type[Any]] = {
    socketio.AsyncManager: FastAsyncManager,
    socketio.AsyncRedisManager: FastAsyncRedisManager,
    socketio.AsyncAioPikaManager: FastAsyncAioPikaManager,
}
