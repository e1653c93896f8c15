"""``BroadcastOperator``: an immutable selection of sockets (namespaces, rooms, excluded
rooms) to emit to, query, disconnect or move between rooms, on this node or the cluster."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, overload

from nestpy._pipeline.encoding import to_wire_args
from nestpy.websockets import _server_side
from nestpy.websockets._cluster_errors import ClusterTimeoutError
from nestpy.websockets._cluster_wire import Selection
from nestpy.websockets._recovery import EXCEPT_ROOMS
from nestpy.websockets.events import E, P, event_name
from nestpy.websockets.exceptions import AckTimeoutError

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer
    from nestpy.websockets._remote import RemoteSocket
    from nestpy.websockets.socket import Socket

__all__ = ["DEFAULT_ACK_TIMEOUT", "BroadcastOperator", "typed_event"]

#: Seconds ``emit_with_ack`` waits for acknowledgements unless told otherwise.
DEFAULT_ACK_TIMEOUT = 60.0


def typed_event(event: Any, kwargs: dict[str, Any]) -> str:
    """``Events.joined`` → ``"joined"`` (events are emitted with positional arguments)."""
    if kwargs:
        raise TypeError(
            f"emit({event_name(event)!r}) got keyword arguments {sorted(kwargs)}; event "
            "arguments are positional (declare them positional-only with '/')"
        )
    return event_name(event)


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
            event = typed_event(event, kwargs)
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

    def _selection(self) -> Selection:
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
