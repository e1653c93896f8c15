"""``WsTestClient``: a plain-WebSocket test client over aiohttp's websocket client.

Every frame the server sends is recorded from the moment the connection opens, so
``await client.receive("event")`` after the send that triggered it never races the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import aiohttp

from nestpy.exceptions import NestpyError

__all__ = ["WsCallError", "WsTestClient"]

_MISSING: Any = object()


class WsCallError(NestpyError):
    """The server answered a :meth:`WsTestClient.call` with an ``exception`` frame.

    Attributes:
        payload: the frame's ``data`` (``{"status": "error", "message": ..., ...}``).
    """

    def __init__(self, payload: Any) -> None:
        self.payload = payload
        message = payload.get("message") if isinstance(payload, Mapping) else payload
        super().__init__(f"the server answered with an exception: {message!r}")


class WsTestClient:
    """A plain-WebSocket client for tests (``app.test_client(path=..., adapter="ws")``).

    Args:
        url: ``ws://host:port/path`` of a plain gateway.
        headers: extra HTTP headers for the upgrade request (``Origin`` among them).
        timeout: default seconds for connecting, :meth:`call` and :meth:`receive`.

    Frames are decoded as JSON when they parse (binary frames are kept as ``bytes``).

    .. versionadded:: 0.2
    """

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None,
                 timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self._headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None
        self._ws: Any = None  # aiohttp.ClientWebSocketResponse
        self._frames: list[Any] = []
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        #: The close code once the server closed the connection (None while open).
        self.close_code: int | None = None
        #: The close reason the server sent.
        self.close_reason: str = ""

    @classmethod
    def for_app(cls, app: Any, path: str = "/", *, port: int | None = None,
                query: Mapping[str, str] | None = None, **options: Any) -> WsTestClient:
        """A client for the plain gateway of a listening *app* served on *path*
        (and declared *port*; found by path alone when omitted)."""
        from urllib.parse import urlencode

        plain = app._plain
        if plain is None:
            raise RuntimeError("the application is not initialised; call listen() first")
        norm = "/" + path.strip("/") if path.strip("/") else "/"
        declared = [p for (p, h) in plain.hosts if h == norm and (port is None or p == port)]
        if not declared:
            raise ValueError(f"no plain WebSocket gateway serves path {norm!r}")
        base = app.url_for(declared[0]).replace("http://", "ws://", 1)
        qs = "?" + urlencode(dict(query)) if query else ""
        return cls(base + norm + qs, **options)

    # -- connection -------------------------------------------------------------------

    async def connect(self) -> WsTestClient:
        """Open the connection (``aiohttp.WSServerHandshakeError`` when refused before
        the upgrade, e.g. 403 for an origin)."""
        self._session = aiohttp.ClientSession()
        try:
            self._ws = await self._session.ws_connect(
                self.url, headers=self._headers, timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                max_msg_size=0, autoping=True,
            )
        except BaseException:
            await self._session.close()
            raise
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                try:
                    value: Any = json.loads(msg.data)
                except ValueError:
                    value = msg.data
            elif msg.type is aiohttp.WSMsgType.BINARY:
                value = msg.data
            else:
                break
            self._frames.append(value)
            self._changed.set()
        self.close_code = self._ws.close_code
        ex = self._ws.exception()
        self.close_reason = str(ex) if ex else ""
        self._changed.set()

    async def disconnect(self) -> None:
        """Close the connection (idempotent)."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> WsTestClient:
        return await self.connect()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.disconnect()

    @property
    def closed(self) -> bool:
        """True once the connection is closed (by either side)."""
        return self._ws is None or self._ws.closed

    # -- sending ----------------------------------------------------------------------

    def _socket(self) -> Any:
        if self._ws is None:
            raise RuntimeError("not connected; use `async with` or await connect()")
        return self._ws

    async def send(self, event: str, data: Any = None, *, id: Any = None) -> None:
        """Send ``{"event", "data"}`` (and ``"id"`` when given)."""
        frame: dict[str, Any] = {"event": event, "data": data}
        if id is not None:
            frame["id"] = id
        await self._socket().send_str(json.dumps(frame))

    async def send_raw(self, frame: str | bytes) -> None:
        """Send *frame* as is (``bytes`` as a binary frame)."""
        ws = self._socket()
        if isinstance(frame, bytes):
            await ws.send_bytes(frame)
        else:
            await ws.send_str(frame)

    async def call(self, event: str, data: Any = None, *, timeout: float | None = None) -> Any:
        """Send with a fresh ``"id"`` and return the ``data`` of the reply carrying it.

        Raises:
            WsCallError: the reply is an ``exception`` frame.
            TimeoutError: no reply in time.
        """
        rid = next(self._ids)
        await self.send(event, data, id=rid)
        frame = await self._take(
            lambda f: isinstance(f, dict) and f.get("id") == rid, timeout, f"reply id={rid}"
        )
        if frame.get("event") == "exception":
            raise WsCallError(frame.get("data"))
        return frame.get("data")

    # -- receiving --------------------------------------------------------------------

    async def receive(self, event: Any = _MISSING, timeout: float | None = None) -> Any:
        """The next unread frame: with *event*, the ``data`` of the next
        ``{"event": event, ...}`` frame; without, the next frame whole (decoded JSON)."""
        if event is _MISSING:
            return await self._take(lambda f: True, timeout, "any frame")
        frame = await self._take(
            lambda f: isinstance(f, dict) and f.get("event") == event, timeout,
            f"event {event!r}",
        )
        return frame.get("data")

    def received(self) -> list[Any]:
        """Every frame received and not yet taken, oldest first."""
        return list(self._frames)

    async def wait_closed(self, timeout: float | None = None) -> int | None:
        """Wait until the server closes the connection; its close code."""
        reader = self._reader
        if reader is not None:
            await asyncio.wait_for(asyncio.shield(reader), timeout or self.timeout)
        return self.close_code

    async def _take(self, match: Any, timeout: float | None, what: str) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout is not None else self.timeout)
        while True:
            for i, frame in enumerate(self._frames):
                if match(frame):
                    del self._frames[i]
                    return frame
            if self._reader is not None and self._reader.done():
                raise ConnectionError(f"connection closed (code {self.close_code}) "
                                      f"before {what} arrived")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no {what} within the timeout")
            self._changed.clear()
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
