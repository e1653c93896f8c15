"""``Socket``: one client connection, typed, over python-socketio's sid-based API."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from socketio import packet as sio_packet

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer

__all__ = ["BroadcastOperator", "Handshake", "Socket"]


class Handshake:
    """What the client sent when it connected (Socket.IO's ``socket.handshake``)."""

    __slots__ = ("_environ", "auth", "issued", "time")

    def __init__(self, environ: dict[str, Any], auth: Any) -> None:
        self._environ = environ
        #: The ``auth`` object the client passed (``{}`` when none).
        self.auth: dict[str, Any] = auth if isinstance(auth, dict) else {}
        #: Connection time, milliseconds since the epoch.
        self.issued = int(time.time() * 1000)
        #: Connection time as an ISO-8601 UTC string.
        self.time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.issued / 1000))

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, lower-case names."""
        req = self._environ.get("aiohttp.request")
        if req is not None:
            return {k.lower(): v for k, v in req.headers.items()}
        return {
            k[5:].replace("_", "-").lower(): v
            for k, v in self._environ.items()
            if k.startswith("HTTP_")
        }

    @property
    def query(self) -> dict[str, str]:
        """Query string parameters of the handshake request (first value of each)."""
        out: dict[str, str] = {}
        for k, v in parse_qsl(self._environ.get("QUERY_STRING", ""), keep_blank_values=True):
            out.setdefault(k, v)
        return out

    @property
    def address(self) -> str:
        """The client's IP address."""
        req = self._environ.get("aiohttp.request")
        remote = getattr(req, "remote", None)
        return str(remote or self._environ.get("REMOTE_ADDR", ""))

    @property
    def url(self) -> str:
        """The handshake request's path and query."""
        return str(self._environ.get("RAW_URI", ""))

    @property
    def secure(self) -> bool:
        """Whether the handshake came over TLS."""
        return self._environ.get("wsgi.url_scheme") == "https"

    def __repr__(self) -> str:
        return f"Handshake(address={self.address!r}, auth_keys={sorted(self.auth)!r})"


class BroadcastOperator:
    """An immutable selection of sockets to emit to (``to(room)``, ``except_(room)``)."""

    __slots__ = ("_except", "_namespaces", "_rooms", "_server", "_skip")

    def __init__(
        self,
        server: NestAsyncServer,
        namespaces: tuple[str, ...] | re.Pattern[str],
        rooms: tuple[str, ...] = (),
        except_rooms: tuple[str, ...] = (),
        skip_sids: tuple[str, ...] = (),
    ) -> None:
        self._server = server
        self._namespaces = namespaces
        self._rooms = rooms
        self._except = except_rooms
        self._skip = skip_sids

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Also target *room* (rooms accumulate as a union)."""
        rooms = (room,) if isinstance(room, str) else tuple(room)
        return BroadcastOperator(
            self._server, self._namespaces, self._rooms + rooms, self._except, self._skip
        )

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Exclude every socket in *room*."""
        rooms = (room,) if isinstance(room, str) else tuple(room)
        return BroadcastOperator(
            self._server, self._namespaces, self._rooms, self._except + rooms, self._skip
        )

    def _skip_list(self, namespace: str) -> list[str] | None:
        if not self._except and not self._skip:
            return None
        skip = list(self._skip)
        if self._except:
            # Rooms are known locally only (python-socketio's managers share sids, not
            # room membership), so exclusion is resolved against this process's rooms.
            for sid, _eio in self._server.manager.get_participants(namespace, list(self._except)):
                skip.append(sid)
        return skip

    async def emit(self, event: str, *args: Any) -> None:
        """Emit *event* with *args* to every selected socket."""
        data: Any = args[0] if len(args) == 1 else (args if args else None)
        room: Any = list(self._rooms) if len(self._rooms) > 1 else (
            self._rooms[0] if self._rooms else None
        )
        for ns in self._server.active_namespaces(self._namespaces):
            await self._server.emit(
                event, data, room=room, skip_sid=self._skip_list(ns), namespace=ns
            )

    async def fetch_sockets(self) -> list[Socket]:
        """The local sockets in the selection."""
        out: list[Socket] = []
        sockets = self._server.nest_sockets
        excluded: set[str] = set(self._skip)
        for ns in self._server.active_namespaces(self._namespaces):
            if self._except:
                excluded.update(
                    sid for sid, _ in self._server.manager.get_participants(ns, list(self._except))
                )
            room: Any = list(self._rooms) if self._rooms else None
            for sid, _eio in self._server.manager.get_participants(ns, room):
                sock = sockets.get(sid)
                if sock is not None and sid not in excluded:
                    out.append(sock)
        return out

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every selected socket (*close* also closes the Engine.IO session)."""
        for sock in await self.fetch_sockets():
            await sock.disconnect(close=close)

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make every selected socket join *room*."""
        for sock in await self.fetch_sockets():
            await sock.join(room)

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make every selected socket leave *room*."""
        for sock in await self.fetch_sockets():
            await sock.leave(room)


class Socket:
    """One client connected to one namespace.

    Attributes:
        id: the Socket.IO session id (unique per namespace connection).
        namespace: the namespace this socket is connected to.
        data: a per-connection dict for application state.
    """

    __slots__ = (
        "__weakref__",
        "_auth",
        "_eio_sid",
        "_environ",
        "_handshake",
        "_pending",
        "_server",
        "connected",
        "data",
        "gateway",
        "id",
        "namespace",
    )

    def __init__(
        self,
        server: NestAsyncServer,
        gateway: Any,
        sid: str,
        eio_sid: str,
        namespace: str,
        environ: dict[str, Any],
        auth: Any,
    ) -> None:
        self._server = server
        self.gateway = gateway
        self.id = sid
        self._eio_sid = eio_sid
        self.namespace = namespace
        self._environ = environ
        self._auth = auth
        self._handshake: Handshake | None = None
        # Emits made before the CONNECT packet is sent wait here (protocol order).
        self._pending: list[tuple[str, tuple[Any, ...]]] | None = []
        self.connected = False
        self.data: dict[str, Any] = {}

    @property
    def handshake(self) -> Handshake:
        """Headers, query, auth, address and time of the connection request."""
        hs = self._handshake
        if hs is None:
            hs = self._handshake = Handshake(self._environ, self._auth)
        return hs

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in (its own id included, as in Socket.IO)."""
        return set(self._server.manager.get_rooms(self.id, self.namespace))

    @property
    def server(self) -> NestAsyncServer:
        """The underlying ``socketio.AsyncServer``."""
        return self._server

    async def emit(self, event: str, *args: Any) -> None:
        """Emit *event* with *args* to this client only."""
        if self._pending is not None:
            self._pending.append((event, args))
            return
        await self._server._send_packet(
            self._eio_sid,
            self._server.packet_class(
                sio_packet.EVENT, namespace=self.namespace, data=[event, *args]
            ),
        )

    async def _flush_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending:
            for event, args in pending:
                await self.emit(event, *args)

    async def emit_with_ack(self, event: str, *args: Any, timeout: float = 60) -> Any:
        """Emit *event* and wait for the client's acknowledgement.

        Returns the single ack argument, or a tuple when the client acked with several.

        Raises:
            TimeoutError: when no ack arrives within *timeout* seconds.
        """
        data: Any = args[0] if len(args) == 1 else (args if args else None)
        try:
            return await self._server.call(
                event, data, to=self.id, namespace=self.namespace, timeout=timeout
            )
        except Exception as exc:  # socketio.exceptions.TimeoutError
            if type(exc).__name__ == "TimeoutError":
                raise TimeoutError(
                    f"client {self.id} did not acknowledge {event!r} within {timeout}s"
                ) from exc
            raise

    async def join(self, room: str | Iterable[str]) -> None:
        """Join *room* (or each of several rooms)."""
        rooms = (room,) if isinstance(room, str) else room
        for r in rooms:
            await self._server.enter_room(self.id, r, namespace=self.namespace)

    async def leave(self, room: str | Iterable[str]) -> None:
        """Leave *room* (or each of several rooms)."""
        rooms = (room,) if isinstance(room, str) else room
        for r in rooms:
            await self._server.leave_room(self.id, r, namespace=self.namespace)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Everyone in *room* except this socket."""
        return BroadcastOperator(self._server, (self.namespace,), skip_sids=(self.id,)).to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator:
        """Everyone in the namespace except this socket and the sockets in *room*."""
        return self.broadcast.except_(room)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Everyone in the namespace except this socket."""
        return BroadcastOperator(self._server, (self.namespace,), skip_sids=(self.id,))

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect from this namespace; *close* also closes the underlying connection."""
        if close:
            await self._server.eio.disconnect(self._eio_sid)
        else:
            await self._server.disconnect(self.id, namespace=self.namespace)

    def ack_sender(self, ack_id: int) -> Any:
        """Return a callable that sends the acknowledgement *ack_id* (used by ``Ack()``)."""
        server = self._server
        eio_sid = self._eio_sid
        ns = self.namespace
        sent = False

        def ack(*args: Any) -> asyncio.Future[None]:
            nonlocal sent
            if sent:  # Socket.IO acknowledges once; later calls are ignored
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                fut.set_result(None)
                return fut
            sent = True
            task: asyncio.Future[None] = asyncio.ensure_future(
                server._send_packet(
                    eio_sid,
                    server.packet_class(sio_packet.ACK, namespace=ns, id=ack_id, data=list(args)),
                )
            )
            return task

        return ack

    def __repr__(self) -> str:
        return f"Socket(id={self.id!r}, namespace={self.namespace!r})"
