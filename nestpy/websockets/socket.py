"""``Socket``: one client connection, typed, over python-socketio's sid-based API."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, overload
from urllib.parse import parse_qsl

from socketio import packet as sio_packet

from nestpy._pipeline.encoding import event_data, to_wire_args
from nestpy.websockets._recovery import EXCEPT_ROOMS
from nestpy.websockets.events import E, P, R, event_name

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer

__all__ = ["DEFAULT_ACK_TIMEOUT", "BroadcastOperator", "Handshake", "RemoteSocket", "Socket"]

#: Seconds ``emit_with_ack`` waits for acknowledgements unless told otherwise.
DEFAULT_ACK_TIMEOUT = 60.0


def _typed_event(event: Any, kwargs: dict[str, Any]) -> str:
    """``Events.joined`` → ``"joined"`` (events are emitted with positional arguments)."""
    if kwargs:
        raise TypeError(
            f"emit({event_name(event)!r}) got keyword arguments {sorted(kwargs)}; event "
            "arguments are positional (declare them positional-only with '/')"
        )
    return event_name(event)


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


class BroadcastOperator(Generic[E]):
    """An immutable selection of sockets to emit to (``to(room)``, ``except_(room)``).

    Parameterised with the gateway's events ``Protocol`` (``nestpy.websockets.events``).
    """

    __slots__ = ("_except", "_namespaces", "_rooms", "_server", "_skip", "_timeout")

    def __init__(
        self,
        server: NestAsyncServer,
        namespaces: tuple[str, ...] | re.Pattern[str],
        rooms: tuple[str, ...] = (),
        except_rooms: tuple[str, ...] = (),
        skip_sids: tuple[str, ...] = (),
        timeout: float = DEFAULT_ACK_TIMEOUT,
    ) -> None:
        self._server = server
        self._namespaces = namespaces
        self._rooms = rooms
        self._except = except_rooms
        self._skip = skip_sids
        self._timeout = timeout

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[E]:
        """Also target *room* (rooms accumulate as a union)."""
        rooms = (room,) if isinstance(room, str) else tuple(room)
        return BroadcastOperator(
            self._server, self._namespaces, self._rooms + rooms, self._except, self._skip,
            self._timeout,
        )

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[E]:
        """Exclude every socket in *room*."""
        rooms = (room,) if isinstance(room, str) else tuple(room)
        return BroadcastOperator(
            self._server, self._namespaces, self._rooms, self._except + rooms, self._skip,
            self._timeout,
        )

    def timeout(self, seconds: float) -> BroadcastOperator:
        """The same selection, whose :meth:`emit_with_ack` waits at most *seconds*
        (Socket.IO 4.5's ``timeout(ms)``, in seconds)."""
        if not seconds > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {seconds!r}")
        return BroadcastOperator(
            self._server, self._namespaces, self._rooms, self._except, self._skip, seconds
        )

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit *event* to every selected socket and wait for each one's acknowledgement.

        Returns:
            One reply per targeted client, in arrival order (one ack argument → that value,
            several → a tuple, none → None).

        Raises:
            AckTimeoutError: some client did not answer within the timeout (default 60 s,
                see :meth:`timeout`); its ``responses`` holds the replies that arrived.

        With ``SocketIoRedisAdapter`` / ``SocketIoRedisStreamsAdapter`` the clients of every
        node of the cluster are asked (Socket.IO's broadcast acks); with the other adapters,
        only the sockets connected to this process.
        """
        from nestpy.websockets._cluster_errors import ClusterTimeoutError
        from nestpy.websockets.exceptions import AckTimeoutError

        args = tuple(to_wire_args(args))
        manager = self._server.manager
        if hasattr(manager, "broadcast_with_ack") and isinstance(self._namespaces, tuple):
            out: list[Any] = []
            for ns in self._server.active_namespaces(self._namespaces):
                try:
                    out.extend(await manager.broadcast_with_ack(
                        ns, list(self._rooms), list(self._except), event, list(args),
                        self._timeout,
                    ))
                except ClusterTimeoutError as exc:
                    partial = list(out) + list(exc.partial or [])
                    raise AckTimeoutError(event, self._timeout, partial,
                                          exc.expected) from None
            return out
        data: Any = args[0] if len(args) == 1 else (args if args else None)
        targets = self._local_sockets()
        responses: list[Any] = []
        if not targets:
            return responses
        loop = asyncio.get_running_loop()
        all_in: asyncio.Future[None] = loop.create_future()
        expected = len(targets)

        def on_ack(*ack: Any) -> None:
            if all_in.done():
                return  # a late reply after the timeout: the caller has its answer
            responses.append(ack[0] if len(ack) == 1 else (ack if ack else None))
            if len(responses) == expected:
                all_in.set_result(None)

        server = self._server
        for sock in targets:
            await server.emit(event, data, to=sock.id, namespace=sock.namespace, callback=on_ack)
        try:
            await asyncio.wait_for(asyncio.shield(all_in), self._timeout)
        except asyncio.TimeoutError:
            if not all_in.done():
                all_in.cancel()
            raise AckTimeoutError(event, self._timeout, list(responses), expected) from None
        return responses

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send *event* to the other nodes' ``server.on`` listeners and return one reply per
        node, waiting at most this operator's timeout (``serverSideEmitWithAck``)."""
        from nestpy.websockets import _server_side

        namespaces = self._server.active_namespaces(self._namespaces)
        return await _server_side.server_side_emit_with_ack(
            self._server, namespaces, event, list(to_wire_args(args)), self._timeout
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

    @overload
    async def emit(
        self, event: Callable[Concatenate[E, P], Awaitable[Any]],
        *args: P.args, **kwargs: P.kwargs,
    ) -> None: ...
    @overload
    async def emit(self, event: str, *args: Any) -> None: ...
    async def emit(self, event: Any, *args: Any, **kwargs: Any) -> None:
        """Emit *event* (a name or ``Events.method``) with *args* to every selected socket."""
        if type(event) is not str:
            event = _typed_event(event, kwargs)
        args = tuple(to_wire_args(args))
        data: Any = args[0] if len(args) == 1 else (args if args else None)
        room: Any = list(self._rooms) if len(self._rooms) > 1 else (
            self._rooms[0] if self._rooms else None
        )
        # recovery hook (cluster branch): the excluded rooms, for packets kept for recovery
        token = EXCEPT_ROOMS.set(self._except) if self._except else None
        try:
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
        finally:
            if token is not None:
                EXCEPT_ROOMS.reset(token)

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
        from nestpy.websockets._cluster_wire import Selection

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


class Socket(Generic[E]):
    """One client connected to one namespace.

    ``Socket[Events]`` types ``emit``/``emit_with_ack`` with the gateway's events
    ``Protocol`` (``nestpy.websockets.events``).

    Attributes:
        id: the Socket.IO session id (unique per namespace connection).
        namespace: the namespace this socket is connected to.
        data: a per-connection dict for application state.
        recovered: True when connection state recovery gave this socket back its id, rooms
            and data after a brief disconnection (``connection_state_recovery``).
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
        "recovered",
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
        #: True when connection state recovery restored this socket (same id, rooms, data).
        self.recovered = False

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

    @overload
    async def emit(
        self, event: Callable[Concatenate[E, P], Awaitable[Any]],
        *args: P.args, **kwargs: P.kwargs,
    ) -> None: ...
    @overload
    async def emit(self, event: str, *args: Any) -> None: ...
    async def emit(self, event: Any, *args: Any, **kwargs: Any) -> None:
        """Emit *event* (a name or ``Events.method``) with *args* to this client only."""
        if type(event) is not str:
            event = _typed_event(event, kwargs)
        if self._pending is not None:
            self._pending.append((event, args))
            return
        server = self._server
        await server.send_to(
            self._eio_sid,
            server.packet_class(
                sio_packet.EVENT, namespace=self.namespace, data=event_data(event, args)
            ),
        )

    async def _flush_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending:
            for event, args in pending:
                await self.emit(event, *args)

    @overload
    async def emit_with_ack(
        self, event: Callable[Concatenate[E, P], Awaitable[R]],
        *args: P.args, **kwargs: P.kwargs,
    ) -> R: ...
    @overload
    async def emit_with_ack(self, event: str, *args: Any, timeout: float = 60) -> Any: ...
    async def emit_with_ack(self, event: Any, *args: Any, **kwargs: Any) -> Any:
        """Emit *event* (a name or ``Events.method``) and wait for the client's acknowledgement.

        Returns the single ack argument, or a tuple when the client acked with several.

        Raises:
            TimeoutError: when no ack arrives within *timeout* seconds.
            RuntimeError: called from ``handle_connection``, before the client is connected.
        """
        timeout: float = kwargs.pop("timeout", 60)
        if type(event) is not str:
            event = _typed_event(event, kwargs)
        elif kwargs:
            raise TypeError(f"emit_with_ack() got unexpected keyword arguments {sorted(kwargs)}")
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
        args = tuple(to_wire_args(args))
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
            # Set by app.enable_metrics() (nestpy.observability); absent otherwise.
            observe = getattr(self._server, "nest_on_ack_timeout", None)
            if observe is not None:
                observe(self.namespace, event)
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

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[E]:
        """Everyone in *room* except this socket."""
        return BroadcastOperator(self._server, (self.namespace,), skip_sids=(self.id,)).to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[E]:
        """Everyone in the namespace except this socket and the sockets in *room*."""
        return self.broadcast.except_(room)

    @property
    def broadcast(self) -> BroadcastOperator[E]:
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
            data = to_wire_args(args)  # an EncodeError leaves the ack unsent (answerable)
            sent = True
            # Written or queued now, in call order with the socket's other packets.
            return server.send_now(
                eio_sid, server.packet_class(sio_packet.ACK, namespace=ns, id=ack_id, data=data)
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
        from nestpy.websockets._cluster_wire import Selection

        await self._server.manager.nest_apply(
            "disconnect", "disconnect", Selection((self.namespace,), (self.id,)), close=close
        )

    def __repr__(self) -> str:
        return f"RemoteSocket(id={self.id!r}, namespace={self.namespace!r}, node={self.node!r})"
