"""Bad input and robustness: oversized frames, slow readers, heartbeats, parsers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import aiohttp
import pytest
from plainws_helpers import Open, Start, eventually

from nestpy import Module
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayDisconnect,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsAdapter,
    WsClient,
    WsServer,
)

pytestmark = pytest.mark.e2e

CHUNK = "x" * 32_768


@WebSocketGateway(path="/tight", adapter=WsAdapter, max_message_size=1024,
                  max_send_buffer=65_536, ping_interval=0.3)
class TightGateway(OnGatewayDisconnect):
    server: WsServer = WebSocketServer()

    def __init__(self) -> None:
        self.gone: list[str] = []
        self.reasons: dict[str, str | None] = {}

    def handle_disconnect(self, client: WsClient, reason: str | None = None) -> None:
        self.gone.append(client.id)
        self.reasons[client.id] = reason

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("id")
    def id(self, client: Annotated[WsClient, ConnectedSocket()]) -> str:
        return client.id

    @SubscribeMessage("join")
    async def join(self, room: Annotated[str, MessageBody()],
                   client: Annotated[WsClient, ConnectedSocket()]) -> str:
        await client.join(room)
        return room

    @SubscribeMessage("flood")
    async def flood(self, frames: Annotated[int, MessageBody()]) -> int:
        for _ in range(frames):
            await self.server.to("slow").broadcast("chunk", CHUNK)
        return frames


def parse(raw: str | bytes) -> Mapping[str, Any] | None:
    """``event|json`` in binary frames; text frames are NestJS JSON."""
    if isinstance(raw, str):
        return dict(json.loads(raw))
    if raw == b"ignore":
        return None
    event, _, body = raw.partition(b"|")
    return {"event": event.decode(), "data": json.loads(body)}


@WebSocketGateway(path="/bin", adapter=WsAdapter(message_parser=parse))
class BinaryGateway:
    @SubscribeMessage("add")
    def add(self, data: Annotated[list[int], MessageBody()]) -> int:
        return sum(data)


@Module(providers=[TightGateway, BinaryGateway])
class LimitsModule:
    pass


async def test_oversized_frame_closes_1009_and_others_stay(start: Start, ws: Open) -> None:
    app = await start(LimitsModule)
    gw = app.get(TightGateway)
    other = await ws(app, "/tight")
    big = await ws(app, "/tight")
    big_id = await big.call("id")
    await big.send("echo", "y" * 2000)
    assert await big.wait_closed() == 1009
    await eventually(lambda: big_id in gw.gone)
    assert gw.reasons[big_id] == "parse error"
    assert await other.call("echo", "small") == "small"


async def test_a_reader_that_never_reads_is_disconnected(start: Start, ws: Open) -> None:
    app = await start(LimitsModule)
    gw = app.get(TightGateway)
    fast = await ws(app, "/tight")
    url = app.url_for(None).replace("http", "ws") + "/tight"
    async with aiohttp.ClientSession() as session:
        slow = await session.ws_connect(url, autoping=False)
        await slow.send_str(json.dumps({"event": "join", "data": "slow", "id": 1}))
        await slow.send_str(json.dumps({"event": "id", "id": 2}))
        # read the two replies, then never read again
        first = json.loads((await slow.receive()).data)
        second = json.loads((await slow.receive()).data)
        slow_id = second["data"] if second["id"] == 2 else first["data"]
        # 600 frames of 32 KiB, about 19 MiB: more than the kernel's socket buffers hold
        assert await fast.call("flood", 600, timeout=30) == 600
        await eventually(lambda: slow_id in gw.gone, timeout=10)
        assert gw.reasons[slow_id] == "slow reader"
        assert await fast.call("echo", "served") == "served"
        await slow.close()


async def test_a_peer_that_never_answers_pings_is_dropped(start: Start) -> None:
    app = await start(LimitsModule)
    gw = app.get(TightGateway)
    url = app.url_for(None).replace("http", "ws") + "/tight"
    async with aiohttp.ClientSession() as session:
        mute = await session.ws_connect(url, autoping=False)
        await mute.send_str(json.dumps({"event": "id", "id": 1}))
        mute_id = json.loads((await mute.receive()).data)["data"]
        await eventually(lambda: mute_id in gw.gone, timeout=10)
        assert gw.reasons[mute_id] == "ping timeout"
        await mute.close()


async def test_message_parser_reads_binary_frames(start: Start, ws: Open) -> None:
    app = await start(LimitsModule)
    c = await ws(app, "/bin")
    await c.send_raw(b"add|[1, 2, 3]")
    assert await c.receive() == 6
    await c.send_raw(b"ignore")
    await c.send_raw(b"add|not json")
    assert (await c.receive("exception"))["message"].startswith(
        "Frame rejected by message_parser")
    assert await c.call("add", [4, 5]) == 9  # text frames through the same parser


async def test_a_peer_answering_pings_stays_and_its_own_pings_are_answered(start: Start) -> None:
    app = await start(LimitsModule)
    gw = app.get(TightGateway)
    url = app.url_for(None).replace("http", "ws") + "/tight"
    async with aiohttp.ClientSession() as session:
        peer = await session.ws_connect(url, autoping=False)
        await peer.ping(b"are you there")
        pong = await peer.receive(timeout=5)
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are you there")
        # Answer the server's heartbeat by hand: the second ping only comes if the pong to
        # the first one counted (a peer that stays silent is dropped at that tick instead).
        for _ in range(2):
            ping = await peer.receive(timeout=5)
            assert ping.type is aiohttp.WSMsgType.PING
            await peer.pong(ping.data)
        await peer.send_str(json.dumps({"event": "id", "id": 1}))
        reply = await peer.receive(timeout=5)
        assert json.loads(reply.data)["id"] == 1
        assert gw.gone == []
        await peer.close()

