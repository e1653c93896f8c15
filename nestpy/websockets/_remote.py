"""``RemoteSocket``: a socket of another node of the cluster, as ``fetch_sockets()`` saw it;
its methods travel through the broker to the node that holds the connection."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from nestpy._pipeline.encoding import to_wire_args
from nestpy.websockets._cluster_wire import Selection
from nestpy.websockets._handshake import Handshake, RemoteHandshake

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer

__all__ = ["RemoteSocket"]


class RemoteSocket:
    """A socket connected to another node of the cluster, as ``fetch_sockets()`` saw it.

    ``id``, ``namespace``, ``rooms``, ``data`` and ``handshake`` are a snapshot taken when the
    other node answered (``data`` as JSON carried it); ``emit``, ``join``, ``leave`` and
    ``disconnect`` travel through the broker to the node that holds the connection.

    Attributes:
        id: the Socket.IO session id.
        namespace: the namespace the socket is connected to.
        rooms: the rooms it was in (its own id included).
        data: its ``Socket.data``.
        node: the id of the node that holds the connection.

    .. versionadded:: 0.1
    """

    __slots__ = ("_server", "data", "handshake", "id", "namespace", "node", "rooms")

    def __init__(self, server: NestAsyncServer, summary: dict[str, Any], node: str) -> None:
        self._server = server
        self.id = str(summary["id"])
        self.namespace = str(summary.get("nsp") or "/")
        self.rooms: set[str] = set(summary.get("rooms") or ())
        data = summary.get("data")
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.handshake: Handshake = RemoteHandshake(summary.get("hs") or {})
        self.node = node

    @property
    def connected(self) -> bool:
        """Always True: a snapshot of a socket that was connected when it was taken."""
        return True

    async def emit(self, event: str, *args: Any) -> None:
        """Emit *event* with *args* to this client (through the broker)."""
        args = tuple(to_wire_args(args))
        data: Any = args[0] if len(args) == 1 else (args if args else None)
        await self._server.emit(event, data, to=self.id, namespace=self.namespace)

    async def join(self, room: str | Iterable[str]) -> None:
        """Make the client join *room* (or each of several rooms) on its node."""
        rooms = [room] if isinstance(room, str) else list(room)
        for r in rooms:
            await self._server.enter_room(self.id, r, namespace=self.namespace)
        self.rooms.update(rooms)

    async def leave(self, room: str | Iterable[str]) -> None:
        """Make the client leave *room* (or each of several rooms) on its node."""
        rooms = [room] if isinstance(room, str) else list(room)
        for r in rooms:
            await self._server.leave_room(self.id, r, namespace=self.namespace)
        self.rooms.difference_update(rooms)

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect the client from this namespace; *close* also closes its connection.

        Returns once its node has done it.
        """
        await self._server.manager.nest_apply(
            "disconnect", "disconnect", Selection((self.namespace,), (self.id,)), close=close
        )

    def __repr__(self) -> str:
        return f"RemoteSocket(id={self.id!r}, namespace={self.namespace!r}, node={self.node!r})"
