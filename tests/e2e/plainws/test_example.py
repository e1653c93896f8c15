"""examples/plain-ws over real sockets: the page is served, plain clients chat in rooms
with the frames the page's native ``WebSocket`` sends, and Socket.IO shares the port."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
import socketio

from nestpy import NestFactory

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "plain-ws" / "app.py"


def load() -> ModuleType:
    name = "_example_plain_ws_app"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


async def _next(ws: aiohttp.ClientWebSocketResponse, event: str | None = None) -> dict:
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        frame = json.loads(msg.data)
        if event is None or frame.get("event") == event:
            return frame


async def test_plain_ws_example() -> None:
    ex = load()
    app = await NestFactory.create(ex.AppModule)
    app.http_app.router.add_get("/", ex.page)
    await app.listen(0, "127.0.0.1")
    base = app.get_url()
    origin = {"Origin": base}  # what the browser sends: the page's own origin
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/") as page:
                assert page.status == 200
                html = await page.text()
                assert "new WebSocket(" in html and "/ws`" in html
            ann = await http.ws_connect(base.replace("http", "ws") + "/ws", headers=origin)
            bob = await http.ws_connect(base.replace("http", "ws") + "/ws", headers=origin)
            await ann.send_str(json.dumps({"event": "say", "data": {"text": "early"}}))
            assert (await _next(ann, "exception"))["data"]["message"] == "join a room first"
            await ann.send_str(json.dumps(
                {"event": "join", "data": {"name": "ann", "room": "lobby"}, "id": 1}))
            assert await _next(ann) == {"event": "join", "id": 1, "data": {"room": "lobby"}}
            await bob.send_str(json.dumps(
                {"event": "join", "data": {"name": "bob", "room": "lobby"}, "id": 1}))
            assert await _next(ann, "joined") == {"event": "joined", "data": {"name": "bob"}}
            await _next(bob)  # bob's own join reply
            await bob.send_str(json.dumps({"event": "say", "data": {"text": "hi"}}))
            said = {"event": "said", "data": {"name": "bob", "text": "hi"}}
            assert await _next(ann, "said") == said
            assert await _next(bob, "said") == said
            await bob.send_str(json.dumps({"event": "join", "data": {"room": ""}, "id": 2}))
            bad = await _next(bob, "exception")
            assert bad["id"] == 2 and bad["data"]["message"][0]["field"] == "room"
            sio = socketio.AsyncClient()
            await sio.connect(base, namespaces=["/status"], transports=["websocket"])
            try:
                assert await sio.call("count", namespace="/status", timeout=5) == 2
            finally:
                await sio.disconnect()
            await bob.close()
            assert await _next(ann, "left") == {"event": "left", "data": {"name": "bob"}}
            await ann.close()
            evil = http.ws_connect(base.replace("http", "ws") + "/ws",
                                   headers={"Origin": "http://evil.test"})
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await evil
    finally:
        await app.close()
