"""Connection state recovery across processes for ``NodeStreamsManager``: sessions and
offsets kept in Redis exactly as ``@socket.io/redis-streams-adapter`` 0.3.x keeps them
(``persistSession`` / ``restoreSession`` of its ``lib/adapter.ts``), so a client recovers on
any node of the cluster, nestpy or Node.

- a broadcast's offset is its stream entry id (the same on every node);
- a disconnected session is ``SET <session prefix><pid>`` (base64 MessagePack of
  ``{sid, pid, rooms, data}``) with ``PX`` the window;
- a restore ``GET``s and ``DEL``s it in one transaction, checks the offset is still in the
  stream, and collects the broadcasts after it that targeted the session.

.. versionadded:: 0.2
"""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING, Any

from nestpy.logger import Logger
from nestpy.websockets import _node_wire as wire
from nestpy.websockets._node_redis import wire_reason
from nestpy.websockets._recovery import RecoveryStore, Restored, is_recoverable
from nestpy.websockets.socket import Socket

if TYPE_CHECKING:
    from nestpy.websockets._node_streams import NodeStreamsManager

__all__ = ["StreamsRecovery", "load_session", "save_session"]

_log = Logger("nestpy.websockets.node_streams")
#: XRANGE calls a restore makes at most (the Node adapter's RESTORE_SESSION_MAX_XRANGE_CALLS).
_MAX_XRANGE_CALLS = 100
_BROADCAST = 3


def _include(rooms: list[str], opts: dict[str, Any]) -> bool:
    """socket.io's ``shouldIncludePacket``: targeted and not excluded."""
    targets = opts.get("rooms") or []
    excluded = opts.get("except") or []
    return (not targets or any(r in targets for r in rooms)) and all(
        r not in excluded for r in rooms
    )


class StreamsRecovery:
    """Connection state recovery kept in Redis, shared with every node on the stream."""

    def __init__(self, manager: NodeStreamsManager, store: RecoveryStore) -> None:
        self._m = manager
        self.skip_middlewares = store.skip_middlewares
        self.max_disconnection_duration = store.max_disconnection_duration
        self._pids: dict[str, str] = {}
        self.engine_closing: set[str] = set()
        #: The stream id of the broadcast being delivered (set right before local delivery).
        self.next_offset: str | None = None

    def pid_for(self, sid: str) -> str:
        """The private session id of connected socket *sid*."""
        pid = self._pids.get(sid)
        if pid is None:
            pid = self._pids[sid] = secrets.token_urlsafe(15)
        return pid

    def on_broadcast(self, event: str, namespace: str, room: Any, skip: Any, data: Any) -> Any:
        """Append the stream offset of the broadcast being delivered, if it has one."""
        offset, self.next_offset = self.next_offset, None
        if offset is None:
            return data
        if isinstance(data, tuple):
            return (*data, offset)
        return (offset,) if data is None else (data, offset)

    def persist(self, sock: Socket, reason: Any) -> None:
        """Keep *sock*'s session in Redis for the window when *reason* is recoverable."""
        pid = self._pids.pop(sock.id, None)
        if pid is None or not is_recoverable(sock, reason, self.engine_closing):
            return
        session = {"sid": sock.id, "pid": pid, "rooms": sorted(sock.rooms), "data": sock.data}
        self._m.spawn(save_session(self._m, pid, session, self.max_disconnection_duration))

    async def restore(self, namespace: str, auth: Any) -> Restored | None:
        """The session *auth* names, with the broadcasts it missed (from the stream)."""
        if not isinstance(auth, dict):
            return None
        pid, offset = auth.get("pid"), auth.get("offset")
        if not isinstance(pid, str) or not isinstance(offset, str):
            return None
        try:
            restored = await load_session(self._m, namespace, pid, offset)
        except Exception as exc:
            _log.warning("session not restored", error=wire_reason(exc))
            return None
        if restored is not None:
            self._pids[restored.sid] = pid
        return restored



async def save_session(
    m: NodeStreamsManager, pid: str, session: dict[str, Any], window: float
) -> None:
    """``SET <prefix><pid>`` for *window* seconds (the Node adapter's format)."""
    value = base64.b64encode(wire.encode(session))
    try:
        await m._pub.set(m.session_key_prefix + pid, value, px=int(window * 1000))
    except Exception as exc:
        _log.warning("session not saved for recovery", error=wire_reason(exc))

async def load_session(
    m: NodeStreamsManager, ns: str, pid: str, offset: str
) -> Restored | None:
    """``GET``+``DEL`` the session, check the offset is in the stream, collect the
    broadcasts after it that targeted the session (``restoreSession``)."""
    head, _, tail = offset.partition("-")
    if not (head.isdigit() and tail.isdigit()):
        return None
    pipe = m._pub.pipeline(transaction=True)
    pipe.get(m.session_key_prefix + pid)
    pipe.delete(m.session_key_prefix + pid)
    raw, _ = await pipe.execute()
    if not raw or not await m._pub.xrange(m.stream_name, offset, offset):
        return None
    session = wire.decode(base64.b64decode(raw))
    if not isinstance(session, dict) or not isinstance(session.get("sid"), str):
        return None
    rooms = [str(r) for r in session.get("rooms") or ()]
    restored = Restored(session["sid"], pid, rooms, session.get("data"))
    start = f"{head}-{int(tail) + 1}"
    for _ in range(_MAX_XRANGE_CALLS):
        entries = await m._pub.xrange(m.stream_name, start, "+", count=1000)
        if not entries:
            break
        for entry_id, fields in entries:
            eid = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            message = m.decode_entry(fields)
            if message and message["nsp"] == ns and message["type"] == _BROADCAST:
                data = message.get("data") or {}
                packet, opts = data.get("packet"), data.get("opts") or {}
                if isinstance(packet, dict) and isinstance(packet.get("data"), list) and (
                    _include(rooms, opts)
                ):
                    restored.missed.append([*packet["data"], eid])
            h, _, t = eid.partition("-")
            start = f"{h}-{int(t) + 1}"
    return restored
