"""``WsServer``: a plain-WebSocket gateway's server (``WebSocketServer()``), and its rooms."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nestpy.websockets._ws.client import WsClient
    from nestpy.websockets._ws.host import WsHost

__all__ = ["Rooms", "WsBroadcastOperator", "WsServer"]

#: ``async def middleware(client) -> None`` (raise ``WsException`` or return False to refuse).
Middleware = Callable[["WsClient"], Any]


class Rooms:
    """Room name → clients, for one host (port and path) in this process."""

    __slots__ = ("_rooms",)

    def __init__(self) -> None:
        self._rooms: dict[str, set[WsClient]] = {}

    def join(self, client: WsClient, room: str) -> None:
        """Put *client* in *room* (no-op once it is closed)."""
        if not client.connected:
            return
        self._rooms.setdefault(room, set()).add(client)
        client.rooms.add(room)

    def leave(self, client: WsClient, room: str) -> None:
        """Take *client* out of *room*."""
        members = self._rooms.get(room)
        if members is not None:
            members.discard(client)
            if not members:
                del self._rooms[room]
        client.rooms.discard(room)

    def leave_all(self, client: WsClient) -> None:
        """Take *client* out of every room (on disconnect)."""
        for room in tuple(client.rooms):
            self.leave(client, room)

    def members(self, rooms: Iterable[str]) -> set[WsClient]:
        """Clients in any of *rooms*."""
        out: set[WsClient] = set()
        for room in rooms:
            members = self._rooms.get(room)
            if members:
                out |= members
        return out


class WsBroadcastOperator:
    """``server.to(room)``: a broadcast to some rooms (chain ``to``/``except_``)."""

    __slots__ = ("_except", "_host", "_rooms")

    def __init__(self, host: WsHost, rooms: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self._host = host
        self._rooms = rooms
        self._except = exclude

    def to(self, *rooms: str) -> WsBroadcastOperator:
        """Also target *rooms*."""
        return WsBroadcastOperator(self._host, (*self._rooms, *rooms), self._except)

    in_ = to

    def except_(self, *rooms: str) -> WsBroadcastOperator:
        """Leave out clients in *rooms*."""
        return WsBroadcastOperator(self._host, self._rooms, (*self._except, *rooms))

    async def broadcast(self, event: str, data: Any = None) -> None:
        """Send ``{"event", "data"}`` to the targeted clients, in every process."""
        await self._host.broadcast_event(event, data, self._rooms or None, self._except)

    async def broadcast_raw(self, frame: str) -> None:
        """Send text *frame* as is to the targeted clients, in every process."""
        await self._host.broadcast_frame(frame.encode(), self._rooms or None, self._except)


class WsServer:
    """The server of a plain-WebSocket gateway (``server: WsServer = WebSocketServer()``).

    One per port and path: gateways sharing a path share its clients and rooms.
    """

    __slots__ = ("_host",)

    def __init__(self, host: WsHost) -> None:
        self._host = host

    @property
    def path(self) -> str:
        """The URL path clients connect to."""
        return self._host.path

    @property
    def clients(self) -> dict[str, WsClient]:
        """Connected clients of this process, by id (a read-only view; do not mutate)."""
        return self._host.clients

    def use(self, middleware: Middleware) -> None:
        """Run *middleware(client)* on every connection, before class guards and
        ``handle_connection``; raising ``WsException`` or returning False refuses it
        (close 1008 with the message)."""
        self._host.middlewares.append(middleware)

    async def broadcast(self, event: str, data: Any = None) -> None:
        """Send ``{"event", "data"}`` to every client, in every process."""
        await self._host.broadcast_event(event, data, None, ())

    def to(self, *rooms: str) -> WsBroadcastOperator:
        """Target the clients in *rooms* (a client's id is also a room of its own)."""
        return WsBroadcastOperator(self._host, rooms, ())

    in_ = to

    def except_(self, *rooms: str) -> WsBroadcastOperator:
        """Target every client except those in *rooms*."""
        return WsBroadcastOperator(self._host, (), rooms)

    async def close_all(self, code: int = 1001, reason: str = "") -> None:
        """Close every client of this process."""
        closing: list[Awaitable[None]] = [c.close(code, reason)
                                          for c in list(self._host.clients.values())]
        for c in closing:
            with contextlib.suppress(Exception):
                await c
