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

__all__ = ["BroadcastOperator", "Handshake", "RemoteSocket", "Socket"]


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
            # python-socketio's managers share sids, not room membership: exclusion is
            # resolved here against this process's rooms (a cluster adapter resolves it on
            # every node instead, see emit()).
            for sid, _eio in self._server.manager.get_participants(namespace, list(self._except)):
                skip.append(sid)
        return skip

    async def emit(self, event: str, *args: Any) -> None:
        """Emit *event* with *args* to every selected socket."""
        data: Any = args[0] if len(args) == 1 else (args if args else None)
        room: Any = list(self._rooms) if len(self._rooms) > 1 else (
            self._rooms[0] if self._rooms else None
        )
        if self._except:
            cluster = self._cluster()
            if cluster is not None:
                # Every node resolves the excluded rooms against its own rooms.
                for ns in self._server.active_namespaces(self._namespaces):
                    await cluster.nest_emit(
                        event, data, ns, room, self._except, list(self._skip) or None
                    )
                return
        for ns in self._server.active_namespaces(self._namespaces):
            await self._server.emit(
                event, data, room=room, skip_sid=self._skip_list(ns), namespace=ns
            )

    def _local_sockets(self) -> list[Socket]:
        """The selected sockets connected to this process."""
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

    def _cluster(self) -> Any:
        # A cluster adapter's manager (nestpy.websockets._cluster) answers queries for the
        # other nodes; without one every query is local and costs nothing extra.
        manager = self._server.manager
        return manager if getattr(manager, "nest_cluster", False) else None

    def _selection(self) -> Any:
        from nestpy.websockets._cluster import Selection

        return Selection(self._namespaces, self._rooms, self._except, self._skip)

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The selected sockets: this process's, and every node's with a cluster adapter.

        Sockets of other nodes are ``RemoteSocket`` snapshots.

        Raises:
            ClusterTimeoutError: a node did not answer in time (``.partial`` holds the rest).
            BrokerUnavailableError: the broker is down (``.partial`` holds the local sockets).
        """
        local: list[Socket | RemoteSocket] = [*self._local_sockets()]
        cluster = self._cluster()
        if cluster is None:
            return local
        found: list[Socket | RemoteSocket] = await cluster.nest_fetch_sockets(
            self._selection(), local
        )
        return found

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every selected socket (*close* also closes the Engine.IO session).

        With a cluster adapter, every node does it before this returns.
        """
        for sock in self._local_sockets():
            await sock.disconnect(close=close)
        cluster = self._cluster()
        if cluster is not None:
            await cluster.nest_apply(
                "disconnect_sockets", "disconnect", self._selection(), close=close
            )

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make every selected socket join *room* (on every node with a cluster adapter)."""
        rooms = [room] if isinstance(room, str) else list(room)
        for sock in self._local_sockets():
            await sock.join(rooms)
        cluster = self._cluster()
        if cluster is not None:
            await cluster.nest_apply("sockets_join", "join", self._selection(), rooms=rooms)

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make every selected socket leave *room* (on every node with a cluster adapter)."""
        rooms = [room] if isinstance(room, str) else list(room)
        for sock in self._local_sockets():
            await sock.leave(rooms)
        cluster = self._cluster()
        if cluster is not None:
            await cluster.nest_apply("sockets_leave", "leave", self._selection(), rooms=rooms)


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
        server = self._server
        await server.send_to(
            self._eio_sid,
            server.packet_class(sio_packet.EVENT, namespace=self.namespace, data=[event, *args]),
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
            RuntimeError: called from ``handle_connection``, before the client is connected.
        """
        if self._pending is not None:
            # Inside handle_connection the client is not connected yet (CONNECT goes out
            # when the hook returns, so that it can still refuse): the packet would be
            # dropped by the client and this would only ever time out.
            raise RuntimeError(
                f"emit_with_ack({event!r}) on {self.id} before the connection is "
                "acknowledged: handle_connection runs before the client is connected. Use "
                "emit() there (it is delivered after the acknowledgement), or ask for the ack "
                "from a message handler."
            )
        data: Any = args[0] if len(args) == 1 else (args if args else None)
        # Not AsyncServer.call(): python-socketio refuses it when async_handlers is False,
        # which nestpy sets (dispatch is its own), so an ack callback is awaited here.
        done: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

        def on_ack(*ack: Any) -> None:
            if not done.done():
                done.set_result(ack)

        await self._server.emit(
            event, data, to=self.id, namespace=self.namespace, callback=on_ack
        )
        try:
            ack = await asyncio.wait_for(done, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"client {self.id} did not acknowledge {event!r} within {timeout}s"
            ) from None
        return ack[0] if len(ack) == 1 else (ack if ack else None)

    async def join(self, room: str | Iterable[str]) -> None:
        """Join *room* (or each of several rooms); nothing once the socket has left."""
        rooms = (room,) if isinstance(room, str) else room
        if self.id not in self._server.manager.rooms.get(self.namespace, {}).get(None, ()):
            # A handler still running after its client left: python-socketio would create
            # the room, then fail on the sid, leaving an empty room behind for good.
            return
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
            await self._server.close_session(self._eio_sid)
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
            # Written or queued now, in call order with the socket's other packets.
            return server.send_now(
                eio_sid,
                server.packet_class(sio_packet.ACK, namespace=ns, id=ack_id, data=list(args)),
            )

        return ack

    def __repr__(self) -> str:
        return f"Socket(id={self.id!r}, namespace={self.namespace!r})"


class _RemoteHandshake(Handshake):
    """A ``Handshake`` rebuilt from the summary another node sent."""

    __slots__ = ("_summary",)

    def __init__(self, summary: dict[str, Any]) -> None:
        self._environ = {}
        self._summary = summary
        auth = summary.get("auth")
        self.auth = auth if isinstance(auth, dict) else {}
        self.issued = int(summary.get("issued") or 0)
        self.time = str(summary.get("time") or "")

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, lower-case names."""
        return dict(self._summary.get("headers") or {})

    @property
    def query(self) -> dict[str, str]:
        """Query string parameters of the handshake request."""
        return dict(self._summary.get("query") or {})

    @property
    def address(self) -> str:
        """The client's IP address."""
        return str(self._summary.get("address") or "")

    @property
    def url(self) -> str:
        """The handshake request's path and query."""
        return str(self._summary.get("url") or "")

    @property
    def secure(self) -> bool:
        """Whether the handshake came over TLS."""
        return bool(self._summary.get("secure"))


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
        self.handshake: Handshake = _RemoteHandshake(summary.get("hs") or {})
        self.node = node

    @property
    def connected(self) -> bool:
        """Always True: a snapshot of a socket that was connected when it was taken."""
        return True

    async def emit(self, event: str, *args: Any) -> None:
        """Emit *event* with *args* to this client (through the broker)."""
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
        from nestpy.websockets._cluster import Selection

        await self._server.manager.nest_apply(
            "disconnect", "disconnect", Selection((self.namespace,), (self.id,)), close=close
        )

    def __repr__(self) -> str:
        return f"RemoteSocket(id={self.id!r}, namespace={self.namespace!r}, node={self.node!r})"
