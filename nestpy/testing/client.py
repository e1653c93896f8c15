"""``SocketClient``: a Socket.IO test client over ``socketio.AsyncClient``.

It records every event the server sends from the moment the namespace connects, so a
test can ``await client.receive("event")`` after the emit that triggered it without
racing the server; ``received(event)`` lists everything so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, overload
from urllib.parse import urlencode

from nestpy.exceptions import NestpyError

__all__ = ["AckHandler", "ConnectionRefused", "SocketClient"]

#: ``SocketClient.on`` handler: the event's arguments in, the ack's value out.
AckHandler = Callable[..., Any]


class ConnectionRefused(NestpyError, ConnectionError):
    """The server refused the namespace connection (a ``connect_error`` packet).

    Attributes:
        namespace: the namespace that refused.
        message: the refusal's message (``data["message"]`` when the payload is a dict).
        data: the ``connect_error`` payload as received.

    .. versionadded:: 0.1
    """

    def __init__(self, namespace: str, data: Any) -> None:
        self.namespace = namespace
        self.data = data
        if isinstance(data, Mapping) and "message" in data:
            self.message = str(data["message"])
        else:
            self.message = "" if data is None else str(data)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"the server refused the connection to {self.namespace}: {self.message}"


def _payload(args: Sequence[Any]) -> Any:
    # python-socketio's rule for acks, applied to events too: no argument → None,
    # one → that value, several → a tuple.
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


class SocketClient:
    """A Socket.IO client connected to one namespace, for tests.

    Use ``async with SocketClient(url, "/chat") as client:`` (or ``app.test_client("/chat")``).

    Args:
        url: ``http://host:port`` of the server (``app.url_for(namespace)``).
        namespace: the namespace to join; ``"chat"`` means ``"/chat"``.
        auth: the handshake ``auth`` payload (``client.handshake.auth`` on the server).
        headers: extra HTTP headers for the handshake.
        query: query-string parameters for the handshake.
        transports: ``("websocket",)`` by default; ``("polling",)`` tests long-polling.
        timeout: default seconds for connecting, :meth:`call` and :meth:`receive`.
        path: the Socket.IO endpoint (a gateway's ``path=`` option).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        url: str,
        namespace: str = "/",
        *,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        transports: Sequence[str] = ("websocket",),
        timeout: float = 5,
        path: str = "/socket.io",
    ) -> None:
        import socketio

        self.url = url
        self.namespace = namespace if namespace.startswith("/") else "/" + namespace
        self.timeout = timeout
        self._auth = auth
        self._headers = dict(headers or {})
        self._query = dict(query or {})
        self._transports = list(transports)
        self._path = path
        # No reconnection: a test should see a dropped connection, not a silent retry
        # (and a retry loop would outlive the test as a leaked task).
        self._sio = socketio.AsyncClient(reconnection=False)
        self._events: dict[str, list[Any]] = {}
        self._order: list[str] = []  # event names in arrival order, for error messages
        self._cursor: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._refusal: list[Any] = []
        self._disconnect_reason: str | None = None
        self._connected = False
        self._sio.on("*", self._on_event, namespace=self.namespace)
        self._sio.on("connect", self._on_connect, namespace=self.namespace)
        self._sio.on("connect_error", self._on_connect_error, namespace=self.namespace)
        self._sio.on("disconnect", self._on_disconnect, namespace=self.namespace)

    # -- python-socketio handlers (sync: they run in arrival order) ------------------------

    def _on_event(self, event: str, *args: Any) -> None:
        self._events.setdefault(event, []).append(_payload(args))
        self._order.append(event)
        self._changed.set()

    def _on_connect(self) -> None:
        self._connected = True

    def _on_connect_error(self, *data: Any) -> None:
        self._refusal.append(_payload(data))

    def _on_disconnect(self, reason: Any = None) -> None:
        self._connected = False
        self._disconnect_reason = str(reason) if reason is not None else "disconnected"
        self._changed.set()

    # -- connection -------------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The socket id in the namespace (the server's ``client.id``); None when not connected."""
        sid: str | None = self._sio.get_sid(self.namespace)
        return sid

    @property
    def connected(self) -> bool:
        """Whether the namespace is connected."""
        return self._connected and self._sio.connected

    async def connect(self) -> SocketClient:
        """Connect and join the namespace.

        Raises:
            ConnectionRefused: the server refused the namespace (guard, ``WsException``,
                ``handle_connection`` returning False); carries the server's message.
            ConnectionError: nothing answers at :attr:`url`.
            TimeoutError: the namespace did not answer within ``timeout`` seconds.
        """
        import socketio

        if self.connected:
            return self
        url = self.url
        if self._query:
            url += ("&" if "?" in url else "?") + urlencode(self._query)
        self._refusal.clear()
        self._disconnect_reason = None
        try:
            await self._sio.connect(
                url,
                headers=self._headers,
                auth=self._auth,
                transports=self._transports,
                namespaces=[self.namespace],
                socketio_path=self._path,
                wait_timeout=self.timeout,
            )
        except socketio.exceptions.ConnectionError as exc:
            await self._abort()
            if self.namespace in self._sio.failed_namespaces:
                raise ConnectionRefused(
                    self.namespace, self._refusal[-1] if self._refusal else None
                ) from None
            if "Unexpected connection error" in str(exc):  # the namespace never answered
                raise TimeoutError(
                    f"the server at {self.url} did not accept namespace {self.namespace} "
                    f"within {self.timeout} s (is a gateway serving it?)"
                ) from None
            detail = self._refusal[-1] if self._refusal else exc
            raise ConnectionError(
                f"cannot connect to {self.url}{self.namespace}: {detail}"
            ) from None
        self._connected = True
        return self

    async def _abort(self) -> None:
        # A failed connect may leave the Engine.IO session open (namespace refused).
        with contextlib.suppress(Exception):
            await self._sio.eio.disconnect()
        await self._finish_background_tasks()

    async def disconnect(self) -> None:
        """Leave the namespace and close the connection (idempotent); waits for the
        client's background tasks to end."""
        if self._sio.connected or self._sio.eio.state != "disconnected":
            with contextlib.suppress(Exception):
                await self._sio.disconnect()
        self._connected = False
        if self._disconnect_reason is None:
            self._disconnect_reason = "client disconnect"
        self._changed.set()
        await self._finish_background_tasks()

    async def _finish_background_tasks(self) -> None:
        # python-engineio's client loops can outlive a connection the server closed (a
        # polling write loop waits 45 s on its queue): wake them, wait briefly, cancel.
        eio = self._sio.eio
        loops = [t for t in (eio.read_loop_task, eio.write_loop_task) if t is not None]
        pending = [t for t in loops if not t.done()]
        if pending:
            if eio.write_loop_task is not None and not eio.write_loop_task.done():
                eio.queue.put_nowait(None)
            _done, still = await asyncio.wait(pending, timeout=1.0)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=1.0)
        # A few loop turns: the per-packet handler tasks finish, and a server in this
        # process sees the close before the test closes it (no CLOSE to flush then).
        for _ in range(5):
            await asyncio.sleep(0)

    async def __aenter__(self) -> SocketClient:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    # -- sending ------------------------------------------------------------------------------

    def _require_connected(self, what: str) -> None:
        if not self.connected:
            state = self._disconnect_reason or "never connected"
            raise ConnectionError(
                f"cannot {what}: the client is not connected to {self.namespace} ({state})"
            )

    @staticmethod
    def _data(args: tuple[Any, ...]) -> Any:
        # python-socketio spreads a tuple into several arguments: one argument that is a
        # tuple must travel as one (JSON) list.
        if not args:
            return None
        if len(args) == 1:
            return list(args[0]) if isinstance(args[0], tuple) else args[0]
        return args

    async def emit(self, event: str, *args: Any) -> None:
        """Send *event* with *args* (none, one, or several arguments)."""
        self._require_connected(f"emit {event!r}")
        await self._sio.emit(event, self._data(args), namespace=self.namespace)

    async def call(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send *event* and wait for the server's acknowledgement.

        Returns:
            The ack payload: None for an empty ack, the value for one argument, a tuple for
            several.

        Raises:
            TimeoutError: no acknowledgement within *timeout* (default: the client's).
        """
        import socketio

        self._require_connected(f"call {event!r}")
        wait = self.timeout if timeout is None else timeout
        try:
            return await self._sio.call(
                event, self._data(args), namespace=self.namespace, timeout=wait
            )
        except socketio.exceptions.TimeoutError:
            raise TimeoutError(
                f"no acknowledgement of {event!r} on {self.namespace} within {wait} s"
                f"{self._so_far()}"
            ) from None

    # -- answering the server ------------------------------------------------------------------

    @overload
    def on(self, event: str) -> Callable[[AckHandler], AckHandler]: ...

    @overload
    def on(self, event: str, handler: AckHandler) -> AckHandler: ...

    def on(
        self, event: str, handler: AckHandler | None = None
    ) -> AckHandler | Callable[[AckHandler], AckHandler]:
        """Answer *event* from the server with *handler*'s return value as the ack.

        For the server's ``client.emit_with_ack(...)`` and ``server.timeout(s).emit_with_ack``:
        ``client.on("ping", lambda data: "pong")``, or as a decorator ``@client.on("ping")``.
        The handler (sync or async) gets the event's arguments; a tuple return acks with
        several arguments, None with none. The event is still recorded for
        :meth:`receive` and :meth:`received`.

        .. versionadded:: 0.1
        """

        def register(fn: AckHandler) -> AckHandler:
            async def answer(*args: Any) -> Any:
                self._on_event(event, *args)
                result = fn(*args)
                if inspect.isawaitable(result):
                    result = await result
                return result

            self._sio.on(event, answer, namespace=self.namespace)
            return fn

        return register(handler) if handler is not None else register

    # -- receiving ----------------------------------------------------------------------------

    def received(self, event: str) -> list[Any]:
        """Every payload of *event* received so far, oldest first (a copy)."""
        return list(self._events.get(event, ()))

    @property
    def events(self) -> list[str]:
        """Names of every event received so far, in arrival order."""
        return list(self._order)

    async def receive(self, event: str, timeout: float | None = None) -> Any:
        """The next payload of *event* not returned yet by ``receive``.

        Events are queued from the moment of connection, so one sent before this call
        is not missed.

        Raises:
            TimeoutError: nothing arrived within *timeout* (default: the client's); the
                message names the event and lists the events received so far.
            ConnectionError: the connection closed while waiting.
        """
        wait = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            queue = self._events.get(event, [])
            index = self._cursor.get(event, 0)
            if index < len(queue):
                self._cursor[event] = index + 1
                return queue[index]
            if self._disconnect_reason is not None and not self.connected:
                raise ConnectionError(
                    f"the client was disconnected from {self.namespace} "
                    f"({self._disconnect_reason}) while waiting for {event!r}{self._so_far()}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"no {event!r} event on {self.namespace} within {wait} s{self._so_far()}"
                )
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def _so_far(self) -> str:
        if not self._order:
            return "; no event received so far"
        counts: dict[str, int] = {}
        for name in self._order:
            counts[name] = counts.get(name, 0) + 1
        listed = ", ".join(f"{name!r} x{n}" if n > 1 else repr(name) for name, n in counts.items())
        return f"; received so far: {listed}"

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<SocketClient {self.url}{self.namespace} {state} id={self.id}>"
