"""app.close() returns promptly whatever the clients are doing (DESIGN.md "Core")."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import aiohttp
import pytest
import socketio

from nestpy import Module
from nestpy.testing import Test
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e


@WebSocketGateway(namespace="live")
class LiveGateway:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data


@Module(providers=[LiveGateway])
class LiveModule: ...


async def _app() -> Any:
    module = await Test.create_testing_module(imports=[LiveModule]).compile()
    app = module.create_nest_application()
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    return app


async def _timed_close(app: Any) -> float:
    started = time.monotonic()
    await asyncio.wait_for(app.close(), 10)  # a hang fails here instead of stalling the suite
    return time.monotonic() - started


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_close_with_a_connected_client(transport: str) -> None:
    app = await _app()
    client = app.test_client("/live", transports=[transport])
    await client.connect()
    try:
        assert await client.call("echo", 1) == 1
        assert await _timed_close(app) < 1.0
        # The client is told: its next receive fails fast instead of timing out.
        with pytest.raises(ConnectionError, match="disconnected"):
            await client.receive("anything", timeout=3)
    finally:
        await client.disconnect()


async def test_close_with_a_pending_raw_long_poll() -> None:
    """An Engine.IO long-poll GET that never returns on its own; close must not wait 60 s."""
    app = await _app()
    base = app.url_for("/live") + "/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(base) as r:  # open packet: 0{"sid": ...}
            opened = await r.text()
        sid = opened.split('"sid":"')[1].split('"')[0]
        async with http.post(f"{base}&sid={sid}", data="40/live,") as r:
            assert r.status == 200
        async with http.get(f"{base}&sid={sid}") as r:  # the namespace CONNECT answer
            assert "40/live" in await r.text()
        poll = asyncio.ensure_future(http.get(f"{base}&sid={sid}"))  # now pending
        await asyncio.sleep(0.1)
        assert not poll.done()
        elapsed = await _timed_close(app)
        response = await asyncio.wait_for(poll, 5)
        response.release()
    assert elapsed < 3.0  # bounded by the runner's shutdown timeout (2 s)


async def test_close_right_after_a_client_disconnected() -> None:
    """Regression: python-engineio's close(wait=True) never returned for a session whose
    client had just left (its writer had stopped), so app.close() hung forever."""
    app = await _app()
    raw = socketio.AsyncClient(reconnection=False)
    await raw.connect(app.url_for("/live"), namespaces=["/live"], transports=["websocket"])
    await raw.disconnect()  # no pause: the server has not seen the close yet
    assert await _timed_close(app) < 1.0
