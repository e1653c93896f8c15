"""``Server``: the gateway's namespace-scoped, typed facade over ``socketio.AsyncServer``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, overload

import socketio

from nestpy.websockets.events import E, P
from nestpy.websockets.socket import BroadcastOperator, RemoteSocket, Socket

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer

__all__ = ["Middleware", "Server"]

#: ``server.use`` middleware: called with the connecting ``Socket``.
Middleware = Callable[[Socket], "Awaitable[Any] | Any"]


class Server(Generic[E]):
    """What ``WebSocketServer()`` injects: Socket.IO's server, scoped to one gateway.

    ``Server[Events]`` declares the events the gateway emits (an events ``Protocol``, see
    ``nestpy.websockets.events``): ``emit(Events.joined, data)`` is then checked by mypy,
    and ``nestpy asyncapi`` / ``nestpy client`` describe them.

    For a gateway with a regex namespace it addresses every active namespace the regex
    matches (NestJS's ``server.of(regex)``); ``of(name)`` narrows to one.
    """

    __slots__ = ("_all", "_middleware", "_namespace", "_server")

    def __init__(
        self,
        server: NestAsyncServer,
        namespace: str | re.Pattern[str],
        middleware: list[Middleware] | None = None,
    ) -> None:
        self._server = server
        self._namespace = namespace
        #: shared with the gateway's compiled connection handler (``_binding``)
        self._middleware: list[Middleware] = middleware if middleware is not None else []
        self._all: BroadcastOperator[E] = BroadcastOperator(
            server, (namespace,) if isinstance(namespace, str) else namespace
        )

    def use(self, middleware: Middleware) -> Server[E]:
        """Run *middleware* on every new connection to this gateway's namespace(s), in the
        order registered, before class guards and ``handle_connection``.

        ``async def middleware(client: Socket) -> None`` (sync accepted): raising
        ``WsException`` (or returning False) refuses the connection; the client receives
        ``connect_error`` with the message. NestJS users write this in ``afterInit``
        (``server.use((socket, next) => ...)``); ``after_init`` is the place here too.

        .. versionadded:: 0.1
        """
        if not callable(middleware):
            raise TypeError(f"server.use() needs a callable (client) -> None, got {middleware!r}")
        self._middleware.append(middleware)
        return self

    def timeout(self, seconds: float) -> BroadcastOperator[E]:
        """Every socket of the namespace, for the calls that wait for answers with a
        timeout: ``await server.timeout(5).emit_with_ack("ping")`` (one ack per client) and
        ``await server.timeout(5).server_side_emit_with_ack("ping")`` (one reply per node)."""
        return self._all.timeout(seconds)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit to every socket and gather their acknowledgements (60 s timeout; see
        :meth:`timeout` and ``BroadcastOperator.emit_with_ack``)."""
        return await self._all.emit_with_ack(event, *args)

    @property
    def raw(self) -> socketio.AsyncServer:
        """The underlying ``socketio.AsyncServer`` (escape hatch; python-socketio's public
        API)."""
        return self._server

    @property
    def namespace(self) -> str | re.Pattern[str]:
        """The gateway's namespace (a name or a compiled regex)."""
        return self._namespace

    @property
    def sockets(self) -> dict[str, Socket]:
        """Local connected sockets of this gateway, by id."""
        ns = self._namespace
        if isinstance(ns, str):
            return {sid: s for sid, s in self._server.nest_sockets.items() if s.namespace == ns}
        return {
            sid: s for sid, s in self._server.nest_sockets.items() if ns.fullmatch(s.namespace)
        }

    def of(self, namespace: str) -> Server[E]:
        """A ``Server`` for one concrete namespace (useful with regex gateways)."""
        ns = namespace if namespace.startswith("/") else "/" + namespace
        return Server(self._server, ns, self._middleware)

    @overload
    async def emit(
        self, event: Callable[Concatenate[E, P], Awaitable[Any]],
        *args: P.args, **kwargs: P.kwargs,
    ) -> None: ...
    @overload
    async def emit(self, event: str, *args: Any) -> None: ...
    async def emit(self, event: Any, *args: Any, **kwargs: Any) -> None:
        """Emit *event* (a name or ``Events.method``) to every socket of the namespace."""
        await self._all.emit(event, *args, **kwargs)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[E]:
        """Sockets in *room* (chain ``to`` for a union of rooms)."""
        return self._all.to(room)

    in_ = to

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[E]:
        """Every socket except those in *room*."""
        return self._all.except_(room)

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The connected sockets of this namespace (every node's with a cluster adapter)."""
        return await self._all.fetch_sockets()

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of this namespace (on every node with a cluster adapter)."""
        await self._all.disconnect_sockets(close)

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make every socket of this namespace join *room*."""
        await self._all.sockets_join(room)

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make every socket of this namespace leave *room*."""
        await self._all.sockets_leave(room)

    # -- server-side emits (Socket.IO's serverSideEmit; cluster: nestpy._server_side) --------

    def _concrete(self) -> tuple[str, ...]:
        return self._server.active_namespaces(
            (self._namespace,) if isinstance(self._namespace, str) else self._namespace
        )

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Listen to *event* sent by the other nodes with ``server_side_emit`` (Node's
        ``io.on``); the handler's return value answers ``server_side_emit_with_ack``."""
        from nestpy.websockets import _server_side

        _server_side.listen(self._server, self._namespace, event, handler)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send *event* to the other nodes' listeners (Socket.IO's ``serverSideEmit``)."""
        from nestpy.websockets import _server_side

        await _server_side.server_side_emit(self._server, self._concrete(), event, list(args))

    async def server_side_emit_with_ack(
        self, event: str, *args: Any, timeout: float | None = None
    ) -> list[Any]:
        """Like ``server_side_emit``; returns one reply per other node."""
        from nestpy.websockets import _server_side

        return await _server_side.server_side_emit_with_ack(
            self._server, self._concrete(), event, list(args), timeout
        )

    def __repr__(self) -> str:
        return f"Server(namespace={self._namespace!r})"
