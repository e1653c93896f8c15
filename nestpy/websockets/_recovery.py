"""Connection state recovery (Socket.IO 4.6), in memory, for one process.

Read from socket.io's ``SessionAwareAdapter`` (socket.io-adapter ``in-memory-adapter.ts``),
``Socket`` and ``Namespace._createSocket`` (socket.io ``socket.ts``/``namespace.ts``):

- every socket gets a private session id ``pid``, sent in the CONNECT reply beside ``sid``;
- every broadcast event without ack gets an offset appended as its last argument (the
  official clients keep the last one they received) and is kept, with its target rooms, for
  ``max_disconnection_duration``;
- a socket that goes away for a recoverable reason (transport close or error, ping timeout)
  leaves its session (``sid``, ``pid``, rooms, ``data``) behind for that long;
- a CONNECT whose auth carries that ``pid`` and an ``offset`` still held gets the same
  ``sid``, rooms and ``data`` back, then every kept packet after the offset that targeted it,
  in order, once (the session is consumed), and ``recovered`` is True; otherwise the client
  connects as new.

The hooks into the connect, disconnect and broadcast paths are single calls in
``_engine.py``, ``_fanout.py`` and ``socket.py`` (marked "recovery hook").

.. versionadded:: 0.2
"""

from __future__ import annotations

import contextvars
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from bidict import ValueDuplicationError

if TYPE_CHECKING:
    from nestpy.websockets.socket import Socket

__all__ = [
    "EXCEPT_ROOMS", "RecoveryStore", "Restored", "attach_recovery", "is_recoverable",
    "pre_connect_as", "rejoin",
]

#: Disconnect reasons after which a session is kept (socket.io's
#: ``RECOVERABLE_DISCONNECT_REASONS``, in python-engineio's words).
RECOVERABLE: Final = frozenset({
    "transport close", "transport error", "ping timeout", "forced close",
    "server shutting down", "forced server close",
})
#: Packets kept at most (the oldest go first), whatever their age: a bound on memory.
DEFAULT_MAX_PACKETS: Final = 10_000
#: Sessions kept at most (the oldest go first).
DEFAULT_MAX_SESSIONS: Final = 100_000
_OPTIONS: Final = frozenset({
    "max_disconnection_duration", "skip_middlewares", "max_packets", "max_sessions",
})

#: The rooms a broadcast excludes (``except_``), set by ``BroadcastOperator.emit`` around its
#: local emit: python-socketio's managers only see the excluded sids, and a disconnected
#: session is in none of them.
EXCEPT_ROOMS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "nestpy_except_rooms", default=()
)


@dataclass(slots=True)
class _Session:
    sid: str
    pid: str
    namespace: str
    rooms: list[str]
    data: Any
    disconnected_at: float


@dataclass(slots=True)
class _Packet:
    seq: int
    namespace: str
    rooms: tuple[str, ...]
    skip: frozenset[str]
    except_rooms: tuple[str, ...]
    data: list[Any]
    emitted_at: float


@dataclass(slots=True)
class Restored:
    """A session found for a reconnecting client."""

    sid: str
    pid: str
    rooms: list[str]
    data: Any
    missed: list[list[Any]] = field(default_factory=list)


class RecoveryStore:
    """Sessions and broadcast packets of one Socket.IO server (all its namespaces).

    Args:
        max_disconnection_duration: seconds a session and a packet are kept.
        skip_middlewares: skip connection guards and middleware on a recovered connection
            (``handle_connection`` still runs), as socket.io's ``skipMiddlewares``.
        max_packets, max_sessions: hard bounds on what is kept.
    """

    def __init__(
        self,
        max_disconnection_duration: float = 120.0,
        skip_middlewares: bool = True,
        max_packets: int = DEFAULT_MAX_PACKETS,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        if max_disconnection_duration <= 0 or max_packets < 1 or max_sessions < 1:
            raise ValueError(
                "connection_state_recovery: max_disconnection_duration must be > 0, "
                "max_packets and max_sessions >= 1"
            )
        self.max_disconnection_duration = float(max_disconnection_duration)
        self.skip_middlewares = bool(skip_middlewares)
        self.max_packets = max_packets
        self.max_sessions = max_sessions
        self._sessions: dict[str, _Session] = {}
        self._packets: deque[_Packet] = deque()
        self._pids: dict[str, str] = {}  # sid → pid of connected sockets
        #: Engine.IO sessions being closed as a whole (python-engineio says "client
        #: disconnect" for a client's Engine.IO CLOSE, where Node's engine.io says "transport
        #: close"; a namespace DISCONNECT packet is "client disconnect" in both).
        self.engine_closing: set[str] = set()
        # Offsets are "<prefix><seq>": another process's (or an earlier run's) never match.
        self._prefix = secrets.token_urlsafe(6) + "-"
        self._seq = 0

    @classmethod
    def from_option(cls, value: Any) -> RecoveryStore | None:
        """The store for the gateway option ``connection_state_recovery`` (None: off).

        Raises:
            ValueError: not a dict (or True), or an unknown key.
        """
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if not isinstance(value, dict):
            raise ValueError(
                "connection_state_recovery must be a dict such as "
                "{'max_disconnection_duration': 120, 'skip_middlewares': True}"
            )
        unknown = sorted(set(value) - _OPTIONS)
        if unknown:
            raise ValueError(
                f"connection_state_recovery: unknown option(s) {unknown}; "
                f"known: {sorted(_OPTIONS)}"
            )
        return cls(**value)

    # -- connected sockets ----------------------------------------------------------------

    def pid_for(self, sid: str) -> str:
        """The private session id of connected socket *sid* (made on first call)."""
        pid = self._pids.get(sid)
        if pid is None:
            pid = self._pids[sid] = secrets.token_urlsafe(15)
        return pid

    def persist(self, sock: Socket, reason: Any) -> None:
        """*sock* is going away: keep its session when *reason* is recoverable."""
        pid = self._pids.pop(sock.id, None)
        if pid is None or not is_recoverable(sock, reason, self.engine_closing):
            return
        now = time.monotonic()
        self._expire(now)
        sessions = self._sessions
        while len(sessions) >= self.max_sessions:
            del sessions[next(iter(sessions))]
        sessions[pid] = _Session(
            sock.id, pid, sock.namespace, sorted(sock.rooms), sock.data, now
        )

    # -- broadcasts -----------------------------------------------------------------------

    def on_broadcast(
        self, event: str, namespace: str, room: Any, skip_sid: Any, data: Any
    ) -> tuple[Any, ...]:
        """Keep a broadcast and return its arguments with the offset appended (python-socketio's
        *data* rule: a tuple is several arguments, None none, anything else one)."""
        if isinstance(data, tuple):
            args = list(data)
        elif data is None:
            args = []
        else:
            args = [data]
        self._seq += 1
        offset = f"{self._prefix}{self._seq}"
        args.append(offset)
        rooms: tuple[str, ...] = (
            () if room is None else ((room,) if isinstance(room, str) else tuple(room))
        )
        if skip_sid is None:
            skip: frozenset[str] = frozenset()
        elif isinstance(skip_sid, list | tuple | set | frozenset):
            skip = frozenset(skip_sid)
        else:
            skip = frozenset((skip_sid,))
        now = time.monotonic()
        packets = self._packets
        packets.append(
            _Packet(self._seq, namespace, rooms, skip, EXCEPT_ROOMS.get(), [event, *args], now)
        )
        if len(packets) > self.max_packets:
            packets.popleft()
        # Expire from the old end: packets are in time order.
        limit = now - self.max_disconnection_duration
        while packets and packets[0].emitted_at < limit:
            packets.popleft()
        return tuple(args)

    # -- reconnection ---------------------------------------------------------------------

    async def restore(self, namespace: str, auth: Any) -> Restored | None:
        """The session *auth* (``{pid, offset}``) names, with the packets it missed; None
        when there is none (expired, unknown, another namespace, offset too old)."""
        if not isinstance(auth, dict):
            return None
        pid = auth.get("pid")
        offset = auth.get("offset")
        if not isinstance(pid, str) or not isinstance(offset, str):
            return None
        now = time.monotonic()
        self._expire(now)
        session = self._sessions.get(pid)
        if session is None or session.namespace != namespace:
            return None
        if not offset.startswith(self._prefix):
            return None
        try:
            seq = int(offset[len(self._prefix):])
        except ValueError:
            return None
        packets = self._packets
        if seq > self._seq or (packets and seq < packets[0].seq - 1):
            return None  # not ours, or older than what is kept: packets may be lost
        del self._sessions[pid]
        restored = Restored(session.sid, pid, session.rooms, session.data)
        start = seq - packets[0].seq + 1 if packets else 0
        rooms = set(session.rooms)
        for i in range(max(start, 0), len(packets)):
            p = packets[i]
            if p.namespace != namespace or session.sid in p.skip:
                continue
            if p.rooms and rooms.isdisjoint(p.rooms):
                continue
            if p.except_rooms and not rooms.isdisjoint(p.except_rooms):
                continue
            restored.missed.append(p.data)
        self._pids[session.sid] = pid
        return restored

    def _expire(self, now: float) -> None:
        limit = now - self.max_disconnection_duration
        sessions = self._sessions
        while sessions:
            pid = next(iter(sessions))  # insertion order is disconnection order
            if sessions[pid].disconnected_at >= limit:
                break
            del sessions[pid]


def is_recoverable(sock: Socket, reason: Any, engine_closing: set[str]) -> bool:
    """Whether *sock* leaving for *reason* keeps its session (socket.io's reasons; a client's
    Engine.IO CLOSE, "client disconnect" in python-engineio, is Node's "transport close")."""
    if reason == "client disconnect" and sock._eio_sid in engine_closing:
        return True
    return str(reason) in RECOVERABLE


def attach_recovery(manager: Any, option: Any) -> Any:
    """The recovery store for gateway option *option* (None: off), attached to *manager*'s
    broadcast path. A manager with its own (``attach_recovery``: the Redis Streams one,
    across processes) makes it; the in-memory store otherwise.

    Raises:
        ValueError: a malformed option.
    """
    store = RecoveryStore.from_option(option)
    if store is None:
        return None
    attach = getattr(manager, "attach_recovery", None)
    if attach is not None:
        return attach(store)
    if hasattr(manager, "recovery"):  # FastAsyncManager and its subclasses
        manager.recovery = store
        return store
    raise ValueError(
        "connection_state_recovery needs nestpy's client managers (a custom client_manager "
        "has no broadcast hook)"
    )


def pre_connect_as(manager: Any, eio_sid: str, namespace: str, sid: str) -> str | None:
    """python-socketio's ``pre_connect`` with a given *sid* (a recovered session's)."""
    if sid in manager.rooms.get(namespace, {}).get(None, {}):
        return None  # that sid is connected again already
    try:
        manager.basic_enter_room(sid, namespace, None, eio_sid=eio_sid)
    except ValueDuplicationError:
        return None  # this Engine.IO session is on the namespace already
    manager.basic_enter_room(sid, namespace, sid, eio_sid=eio_sid)
    manager.pending_connect.setdefault(namespace, []).append(sid)
    return sid


def rejoin(manager: Any, namespace: str, restored: Restored) -> None:
    """Put the recovered socket back in its rooms (before its hooks run, as socket.io)."""
    for room in restored.rooms:
        if room != restored.sid:
            manager.basic_enter_room(restored.sid, namespace, room)
