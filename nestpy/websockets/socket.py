"""``Socket``: one client connection, typed, over python-socketio's sid-based API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, overload

import socketio
from socketio import packet as sio_packet

from nestpy._pipeline.encoding import event_data, to_wire_args
from nestpy.websockets._broadcast import DEFAULT_ACK_TIMEOUT, BroadcastOperator, typed_event
from nestpy.websockets._handshake import Handshake
from nestpy.websockets._remote import RemoteSocket
from nestpy.websockets.events import E, P, R

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer

__all__ = ["DEFAULT_ACK_TIMEOUT", "BroadcastOperator", "Handshake", "RemoteSocket", "Socket"]


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
        "_connected",
        "_eio_sid",
        "_environ",
        "_gateway",
        "_handshake",
        "_pending",
        "_server",
        "data",
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
        self._gateway = gateway
        self.id = sid
        self._eio_sid = eio_sid
        self.namespace = namespace
        self._environ = environ
        self._auth = auth
        self._handshake: Handshake | None = None
        # Emits made before the CONNECT packet is sent wait here (protocol order).
        self._pending: list[tuple[str, tuple[Any, ...]]] | None = []
        self._connected = False
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
    def connected(self) -> bool:
        """Whether the client is connected to this namespace (False once it disconnected)."""
        return self._connected

    @property
    def server(self) -> socketio.AsyncServer:
        """The underlying ``socketio.AsyncServer`` (python-socketio's public API)."""
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
            event = typed_event(event, kwargs)
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
            event = typed_event(event, kwargs)
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

    def __repr__(self) -> str:
        return f"Socket(id={self.id!r}, namespace={self.namespace!r})"
