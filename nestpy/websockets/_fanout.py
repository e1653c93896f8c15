"""Fast broadcast path: encode a Socket.IO packet once, frame it once, write it to every socket.

python-socketio's ``AsyncManager.emit`` encodes a broadcast once, then creates one task per
recipient that hands the Engine.IO packet to the engine, which encodes and frames it again per
socket. On nestpy's own Engine.IO server (``nestpy.engineio``, which ``NestAsyncServer`` runs
on) the packet is encoded and framed (RFC 6455, unmasked, uncompressed) once per emit, and each
recipient gets it through ``EngineIOSocket.send_packet``: a websocket session writes the frame
bytes with one ``transport.write`` (bursts within one event-loop turn are joined into one write
per socket), a polling session buffers the encoded packet for its next GET. No task, no queue,
no re-encode; per-socket order is the order of the calls.

What a slow reader may make the server hold is bounded by the engine (``max_buffer_size``):
past it the client is disconnected, not buffered for.

Under another Engine.IO server (a plain ``socketio.AsyncServer``), these managers behave
exactly as python-socketio's.

Upstream internals, written against python-socketio 5.18.1 (pinned ``>=5.18,<5.19``; canaries
in ``tests/compat/test_socketio_managers.py``): ``AsyncServer._send_packet`` (the per-socket
fallback, as upstream's ``emit`` sends) and the manager's ``rooms`` / ``server.packet_class``.
No public seam hands a manager an already-encoded packet per recipient.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

import socketio
from socketio import packet as sio_packet

from nestpy.engineio import EngineIOServer
from nestpy.engineio._codec import frame

__all__ = [
    "FastAsyncAioPikaManager",
    "FastAsyncManager",
    "FastAsyncRedisManager",
    "fast_manager_class",
]

#: Kept for compatibility: the buffering bound now lives in the engine (``max_buffer_size``).
DEFAULT_WRITE_BUFFER_LIMIT: Final = 64 * 1024


def _eio_packets(encoded: Any) -> list[str | bytes]:
    """Engine.IO MESSAGE packets for an encoded Socket.IO packet (text gets the ``4``)."""
    parts = encoded if isinstance(encoded, list) else [encoded]
    return ["4" + p if isinstance(p, str) else bytes(p) for p in parts]


class FastAsyncManager(socketio.AsyncManager):  # type: ignore[misc]
    """``socketio.AsyncManager`` whose broadcasts are encoded and framed once per emit.

    Used by every nestpy gateway server by default. Every semantic of the upstream manager is
    kept (rooms, ``skip_sid``, binary attachments, callbacks, polling sockets, per-socket
    order).

    Args:
        write_buffer_limit: accepted for compatibility with 0.1; the bound on what a slow
            reader makes the server hold is the engine's ``max_buffer_size`` gateway option.

    .. versionadded:: 0.1
    """

    write_buffer_limit: int = DEFAULT_WRITE_BUFFER_LIMIT
    #: Recipients written to their websocket at once since start (for tests and benchmarks).
    direct_deliveries: int = 0
    #: Recipients whose packets were buffered (polling, or mid-upgrade) since start.
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
        self._engine: EngineIOServer | None = None

    def set_server(self, server: Any) -> None:
        """Attach to *server*; the fast path is on when it runs nestpy's Engine.IO server."""
        super().set_server(server)
        eio = getattr(server, "eio", None)
        self._engine = eio if isinstance(eio, EngineIOServer) else None

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
            # Connection state recovery: keep the packet, append its offset.
            data = self.recovery.on_broadcast(event, namespace, to or room, skip_sid, data)
        engine = self._engine
        if callback or engine is None:
            # Each recipient gets its own ack id, hence its own packet: nothing to share.
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to,
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
        packets = _eio_packets(
            self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args])
            .encode()
        )
        framed = b"".join(map(frame, packets))
        single = packets[0] if len(packets) == 1 else None
        sessions = engine.sessions
        direct = queued = 0
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            sock = sessions.get(eio_sid)
            if sock is None:
                continue
            if single is not None:
                sock.send_packet(single, framed)
            else:
                sock.send_packets(packets, framed)
            if sock.transport == "websocket":
                direct += 1
            else:
                queued += 1
        self.direct_deliveries += direct
        self.queued_deliveries += queued

    def unicast(self, eio_sid: str, pkt: Any) -> Coroutine[Any, Any, None] | None:
        """Send Socket.IO packet *pkt* to the one Engine.IO session *eio_sid*, in order.

        The unicast counterpart of ``emit`` (acks, ``Socket.emit``): encoded and framed once,
        written or buffered before this returns. Returns None on nestpy's engine; under
        another engine, a coroutine to await (python-socketio's ``_send_packet``).
        """
        engine = self._engine
        if engine is None:
            coro: Coroutine[Any, Any, None] = self.server._send_packet(eio_sid, pkt)
            return coro
        sock = engine.sessions.get(eio_sid)
        if sock is None:
            return None
        encoded = pkt.encode()
        if type(encoded) is str:  # the common case (no binary): no lists built
            sock.send_packet("4" + encoded)
        else:
            packets = _eio_packets(encoded)
            sock.send_packets(packets, b"".join(map(frame, packets)))
        if sock.transport == "websocket":
            self.direct_deliveries += 1
        else:
            self.queued_deliveries += 1
        return None


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
