"""What nestpy's Node-protocol cluster managers share: local execution of the other nodes'
requests, server-side emit listeners, the publish queue, the app lifecycle hook.

Upstream internal: ``hook_app_lifecycle`` wraps the Engine.IO server's
``_async["create_route"]`` (python-engineio 4.15.1's per-server driver table, mirrored by
``_transport.EngineBridge``; canary in ``tests/compat/test_engineio_seams.py``), the one place
that sees the aiohttp application a server is attached to.

.. versionadded:: 0.2
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from nestpy.logger import Logger
from nestpy.websockets import _node_wire as wire
from nestpy.websockets._fanout import FastAsyncManager
from nestpy.websockets._recovery import EXCEPT_ROOMS
from nestpy.websockets.socket import BroadcastOperator, Socket

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer

__all__ = ["NodeClusterMixin", "Outbox", "hook_app_lifecycle"]

_log = Logger("nestpy.websockets.node_cluster")
#: Longest wait between two reconnection attempts (seconds): short, so a node is back on
#: pub/sub soon after Redis is (what is published before it resubscribes does not reach it).
MAX_BACKOFF = 0.25
_MAX_BACKOFF = MAX_BACKOFF

#: A server-side event listener: ``handler(*args)``, sync or async; its return value is the
#: reply when the sender asked for one.
ServerSideHandler = Callable[..., Any]


def hook_app_lifecycle(
    server: Any,
    on_startup: Callable[[web.Application], Awaitable[None]],
    on_cleanup: Callable[[web.Application], Awaitable[None]],
) -> None:
    """Run *on_startup* / *on_cleanup* with the aiohttp application *server* is attached to
    (through python-engineio's per-server ``create_route``; a no-op outside aiohttp)."""
    eio: Any = getattr(server, "eio", None)
    drivers = getattr(eio, "_async", None)
    if not isinstance(drivers, dict) or "create_route" not in drivers:
        return
    original = drivers["create_route"]

    def create_route(app: Any, engineio_server: Any, endpoint: str) -> None:
        original(app, engineio_server, endpoint)
        if isinstance(app, web.Application):
            app.on_startup.append(on_startup)
            app.on_cleanup.append(on_cleanup)

    # A per-server copy: python-engineio's table is shared by every server.
    eio._async = {**drivers, "create_route": create_route}


class Outbox:
    """Publishes in order from one task, in batches; bounded while the broker is away.

    ``put`` never waits (Node's adapters do not wait for their publishes either). While
    publishing fails the messages stay queued (up to *limit*; beyond, the oldest are dropped
    and counted) and the task retries with backoff; the loss, if any, is logged with its count
    when the broker is back.
    """

    def __init__(
        self,
        send: Callable[[list[tuple[str, Any]]], Awaitable[None]],
        limit: int,
        broker: str,
        url: str,
        batch: int = 256,
    ) -> None:
        if limit < 1:
            raise ValueError("buffer_limit must be >= 1")
        self._send = send
        self.limit = limit
        self._broker = broker
        self._url = url
        self._batch = batch
        self._queue: deque[tuple[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        #: Messages dropped because the queue was full while the broker was away.
        self.dropped = 0
        self._dropped_reported = 0

    def start(self) -> None:
        """Start the publishing task."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def put(self, channel: str, payload: Any) -> None:
        """Queue *payload* for *channel*."""
        queue = self._queue
        if len(queue) >= self.limit:
            queue.popleft()
            self.dropped += 1
        queue.append((channel, payload))
        self._idle.clear()
        if not self._wake.is_set():
            self._wake.set()

    @property
    def failing(self) -> bool:
        """True while the last publish failed (until one succeeds)."""
        return self._failing

    @property
    def pending(self) -> int:
        """Messages queued and not yet published."""
        return len(self._queue)

    async def _run(self) -> None:
        queue = self._queue
        delay = 0.05
        while True:
            if not queue:
                self._wake.clear()
                await self._wake.wait()
            n = min(len(queue), self._batch)
            batch = [queue.popleft() for _ in range(n)]
            try:
                await self._send(batch)
            except asyncio.CancelledError:
                queue.extendleft(reversed(batch))
                raise
            except Exception as exc:
                queue.extendleft(reversed(batch))
                while len(queue) > self.limit:
                    queue.popleft()
                    self.dropped += 1
                if not self._failing:
                    _log.warning(
                        "cluster publish failed; queueing until the broker is back",
                        broker=self._broker, url=self._url, error=type(exc).__name__,
                        queued=len(queue), limit=self.limit,
                    )
                self._failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            delay = 0.05
            if not queue:
                self._idle.set()
            if self._failing:
                self._failing = False
                lost = self.dropped - self._dropped_reported
                self._dropped_reported = self.dropped
                if lost:
                    _log.error("broker back; messages lost while it was away", lost=lost,
                               broker=self._broker, url=self._url, limit=self.limit)
                else:
                    _log.info("broker back; queued messages delivered", broker=self._broker,
                              url=self._url)

    async def stop(self, flush_timeout: float = 1.0) -> None:
        """Publish what is queued (within *flush_timeout*), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        if self._queue and not self._failing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), flush_timeout)
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


class NodeClusterMixin:
    """Executes the other nodes' requests on this node's sockets (any Node-protocol manager).

    Mixed before ``FastAsyncManager``; ``server`` / ``rooms`` / ``json`` come from
    python-socketio's manager.
    """

    server: Any
    rooms: dict[str, dict[Any, Any]]
    json: Any
    get_participants: Callable[[str, Any], Any]

    async def start(self) -> None:
        """Connect to the broker (each manager's own)."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Disconnect from the broker (each manager's own)."""
        raise NotImplementedError

    def set_server(self, server: Any) -> None:
        """Attach to *server*; start and stop with its aiohttp application."""
        super().set_server(server)  # type: ignore[misc]
        hook_app_lifecycle(server, self._on_startup, self._on_cleanup)

    async def _on_startup(self, _app: web.Application) -> None:
        await self.start()

    async def _on_cleanup(self, _app: web.Application) -> None:
        await self.stop()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ss_handlers: dict[str, dict[str, list[ServerSideHandler]]] = {}
        self._ss_patterns: list[tuple[re.Pattern[str], str, ServerSideHandler]] = []
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run *coro* in the background, kept referenced until done."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def dumps(self, body: Any) -> bytes:
        """JSON for a request or response (the server's JSON module)."""
        text: Any = self.json.dumps(body)
        return text.encode() if isinstance(text, str) else bytes(text)

    def served_namespaces(self) -> list[str]:
        """``/`` (every Node server has it) and the gateways' exact namespaces."""
        exact: Any = getattr(self.server, "_exact", {}) or {}
        return ["/", *sorted(ns for ns in exact if ns != "/")]

    # -- selections -------------------------------------------------------------------------

    def select(self, ns: str, opts: Any) -> list[Socket]:
        """This node's sockets of *ns* in ``opts.rooms`` (all when empty), not in
        ``opts.except`` (a Node ``BroadcastOptions`` as JSON)."""
        opts = opts if isinstance(opts, dict) else {}
        rooms = tuple(str(r) for r in opts.get("rooms") or ())
        except_ = tuple(str(r) for r in opts.get("except") or ())
        server: NestAsyncServer = self.server
        return BroadcastOperator(server, (ns,), rooms, except_)._local_sockets()

    @staticmethod
    def socket_details(sock: Socket) -> dict[str, Any]:
        """A socket as Node's adapter describes it in a ``REMOTE_FETCH`` answer."""
        return {
            "id": sock.id,
            "handshake": wire.handshake_summary(sock.handshake),
            "rooms": sorted(sock.rooms),
            "data": sock.data,
        }

    async def apply_remote(self, ns: str, kind: int, request: dict[str, Any]) -> None:
        """Join / leave / disconnect this node's sockets as another node asked."""
        opts = request.get("opts")
        if opts is not None:
            socks = self.select(ns, opts)
            rooms = [str(r) for r in request.get("rooms") or ()]
        else:  # the single-socket form of older adapters
            sock = self.server.nest_sockets.get(request.get("sid"))
            socks = [sock] if sock is not None and sock.namespace == ns else []
            rooms = [str(request.get("room"))]
        rt = wire.RequestType
        for sock in socks:
            if kind == rt.REMOTE_JOIN:
                await sock.join(rooms)
            elif kind == rt.REMOTE_LEAVE:
                await sock.leave(rooms)
            else:
                await sock.disconnect(close=bool(request.get("close")))

    # -- delivery ---------------------------------------------------------------------------

    async def deliver_remote(self, ns: str, packet: dict[str, Any], opts: dict[str, Any]) -> None:
        """Deliver another node's broadcast *packet* to this node's clients."""
        data = packet.get("data")
        if packet.get("type") not in (2, 5) or not isinstance(data, list) or not data:
            return
        rooms = [str(r) for r in opts.get("rooms") or ()]
        except_ = [str(r) for r in opts.get("except") or ()]
        await self.deliver_local(ns, rooms, except_, data[0], data[1:])

    async def deliver_local(
        self, ns: str, rooms: list[str], except_: list[str], event: Any, args: list[Any]
    ) -> None:
        """Emit to this node's clients of *ns* in *rooms*, not in the *except_* rooms."""
        skip = [sid for sid, _ in self.get_participants(ns, except_)] if except_ else None
        # The excluded rooms, for a recovery store keeping this packet (see _recovery).
        token = EXCEPT_ROOMS.set(tuple(except_)) if except_ else None
        try:
            # FastAsyncManager.emit: the local fan-out, not this class's publishing emit. A
            # tuple is several arguments to python-socketio (so a lone None stays one).
            await FastAsyncManager.emit(
                cast(FastAsyncManager, self), event, tuple(args), ns, room=rooms or None,
                skip_sid=skip,
            )
        finally:
            if token is not None:
                EXCEPT_ROOMS.reset(token)

    async def local_broadcast_with_ack(
        self, ns: str, rooms: list[str], except_: list[str], event: Any, args: list[Any],
        on_ack: Callable[[Any], Any],
    ) -> int:
        """Emit with an ack id per client; *on_ack* gets each client's first ack argument.
        Returns how many clients were sent to."""
        skip = {sid for sid, _ in self.get_participants(ns, except_)} if except_ else set()
        targets = [sid for sid, _ in self.get_participants(ns, rooms or None) if sid not in skip]
        if not targets:
            return 0

        def callback(*data: Any) -> None:
            on_ack(data[0] if data else None)

        await FastAsyncManager.emit(
            cast(FastAsyncManager, self), event, tuple(args), ns, room=targets,
            callback=callback,
        )
        return len(targets)

    async def serve_broadcast_with_ack(
        self, ns: str, request: dict[str, Any], on_count: Callable[[int], Any],
        on_ack: Callable[[Any], Any],
    ) -> None:
        """Another node's ``BROADCAST`` request: emit, report the count, relay every ack."""
        packet = request.get("packet")
        opts = request.get("opts")
        opts = opts if isinstance(opts, dict) else {}
        data = packet.get("data") if isinstance(packet, dict) else None
        if not isinstance(data, list) or not data:
            on_count(0)
            return
        rooms = [str(r) for r in opts.get("rooms") or ()]
        except_ = [str(r) for r in opts.get("except") or ()]
        count = await self.local_broadcast_with_ack(ns, rooms, except_, data[0], data[1:], on_ack)
        on_count(count)

    # -- server-side emits -----------------------------------------------------------------

    def on_server_side(
        self, ns: str | re.Pattern[str], event: str, handler: ServerSideHandler
    ) -> None:
        """Listen to *event* sent by other nodes with ``serverSideEmit`` on *ns* (a name, or
        a regex gateway's pattern: every namespace it matches)."""
        if isinstance(ns, str):
            self._ss_handlers.setdefault(ns, {}).setdefault(event, []).append(handler)
        else:
            self._ss_patterns.append((ns, event, handler))

    async def on_server_side_emit(
        self, ns: str, data: list[Any], req_id: Any, reply: Callable[[Any], Any]
    ) -> None:
        """Run the listeners of a server-side emit; reply with the first one's result when
        the sender asked for a reply (Node replies once per node)."""
        if not isinstance(data, list) or not data:
            return
        event = str(data[0])
        handlers = list(self._ss_handlers.get(ns, {}).get(event, ()))
        for pattern, name, handler in self._ss_patterns:
            if name == event and pattern.fullmatch(ns):
                handlers.append(handler)
        if not handlers:
            return
        args = data[1:]

        async def run() -> None:
            first: Any = None
            for i, handler in enumerate(handlers):
                try:
                    result = handler(*args)
                    if inspect.isawaitable(result):
                        result = await result
                except Exception:
                    _log.exception("server-side event handler failed", event=data[0])
                    result = None
                if i == 0:
                    first = result
            if req_id is not None:
                reply(first)

        self.spawn(run())
