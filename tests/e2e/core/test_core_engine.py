"""Engine.IO-level options nestpy adds or sets: connect_timeout, per-message deflate, the
message size limit. Raw aiohttp websockets stand in for clients where the protocol matters."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import aiohttp
import pytest
from core_client import Connect, Start

from nestpy import Module
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
)

pytestmark = pytest.mark.e2e


def module(**options: Any) -> type:
    @WebSocketGateway(namespace="eng", **options)
    class EngineGateway:
        @SubscribeMessage("echo")
        def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
            return data

        @SubscribeMessage("hang_up")
        async def hang_up(self, client: Annotated[Socket, ConnectedSocket()]) -> None:
            await client.disconnect(close=True)

    @Module(providers=[EngineGateway])
    class EngineModule: ...

    return EngineModule


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


async def read_until_closed(ws: aiohttp.ClientWebSocketResponse, limit: float) -> list[str]:
    """Text frames received until the server closes the websocket (or *limit* passes)."""
    frames: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            msg = await asyncio.wait_for(ws.receive(), deadline - time.monotonic())
        except asyncio.TimeoutError:
            break
        if msg.type == aiohttp.WSMsgType.TEXT:
            frames.append(msg.data)
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                          aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
            break
    return frames


async def test_connect_timeout_closes_a_session_that_joins_no_namespace(start: Start) -> None:
    app = await start(module(connect_timeout=0.5))
    async with aiohttp.ClientSession() as http, http.ws_connect(
        ws_url(app.url_for("/eng"))
    ) as ws:
        opened = time.monotonic()
        frames = await read_until_closed(ws, limit=1.5)
        elapsed = time.monotonic() - opened
        assert frames[0].startswith("0{")  # Engine.IO OPEN
        assert frames[-1] == "1"  # Engine.IO CLOSE, sent by the server
        assert 0.4 < elapsed < 1.2
        assert ws.closed or (await ws.receive()).type in (
            aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED
        )


async def test_connect_timeout_spares_a_session_that_joined(
    start: Start, connect: Connect
) -> None:
    app = await start(module(connect_timeout=0.3))
    async with aiohttp.ClientSession() as http, http.ws_connect(
        ws_url(app.url_for("/eng"))
    ) as ws:
        assert (await ws.receive_str()).startswith("0{")
        await ws.send_str("40/eng,")  # Socket.IO CONNECT to /eng
        assert (await ws.receive_str()).startswith("40/eng,{")
        await asyncio.sleep(0.5)
        await ws.send_str('42/eng,1["echo","still here"]')
        assert await ws.receive_str() == '43/eng,1["still here"]'
    # A regular client, polling, is not cut either.
    c = await connect(app, "/eng", ["polling"])
    await asyncio.sleep(0.4)
    assert await c.call("echo", "ok") == "ok"


async def test_disconnect_close_true_closes_the_websocket(start: Start) -> None:
    """The server closes the transport itself, even for a client that would not."""
    app = await start(module())
    async with aiohttp.ClientSession() as http, http.ws_connect(
        ws_url(app.url_for("/eng"))
    ) as ws:
        assert (await ws.receive_str()).startswith("0{")
        await ws.send_str("40/eng,")
        assert (await ws.receive_str()).startswith("40/eng,{")
        await ws.send_str('42/eng,["hang_up"]')
        started = time.monotonic()
        assert await read_until_closed(ws, limit=1.0) == ["1"]
        assert time.monotonic() - started < 0.5


async def negotiated_extensions(url: str) -> tuple[str | None, int]:
    """Offer permessage-deflate; return the server's Sec-WebSocket-Extensions answer."""
    seen: dict[str, str | None] = {}

    async def on_end(
        _s: aiohttp.ClientSession, _c: Any, params: aiohttp.TraceRequestEndParams
    ) -> None:
        seen["ext"] = params.response.headers.get("Sec-WebSocket-Extensions")

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http, http.ws_connect(
        ws_url(url), compress=15
    ) as ws:
        assert (await ws.receive_str()).startswith("0{")
        return seen.get("ext"), ws.compress


async def test_per_message_deflate_is_off_by_default(start: Start) -> None:
    app = await start(module())
    ext, compress = await negotiated_extensions(app.url_for("/eng"))
    assert ext is None
    assert compress == 0


async def test_per_message_deflate_on_when_asked(start: Start, connect: Connect) -> None:
    app = await start(module(per_message_deflate=True))
    ext, compress = await negotiated_extensions(app.url_for("/eng"))
    assert ext is not None and "permessage-deflate" in ext
    assert compress == 15
    c = await connect(app, "/eng")  # and it works end to end
    assert await c.call("echo", "x" * 5000) == "x" * 5000


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_message_over_the_size_limit_closes_that_client_only(
    start: Start, connect: Connect, transport: str
) -> None:
    app = await start(module(max_http_buffer_size=2000))
    big = await connect(app, "/eng", [transport])
    other = await connect(app, "/eng", [transport])
    assert await big.call("echo", "x" * 1000) == "x" * 1000  # under the limit
    await big.emit("echo", "x" * 5000)
    await asyncio.wait_for(big.disconnects.get(), 1)
    assert not big.sio.connected
    assert await other.call("echo", "still fine") == "still fine"
