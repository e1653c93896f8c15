"""nestpy's Socket.IO server on its Engine.IO server: raw frames against a real app.

Invalid packets, the order of CONNECT and ``handle_connection``'s emits, nothing after an
Engine.IO CLOSE, and the per-socket bounds (handlers in flight, attachments, namespace cache).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import aiohttp
import pytest
from eio_helpers import eventually

from nestpy import Module, NestApplication, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    OnGatewayDisconnect,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WsResponse,
)

pytestmark = pytest.mark.e2e


class Counts:
    connections = 0
    disconnections = 0
    running = 0
    peak = 0


@WebSocketGateway(namespace="raw", max_handlers_in_flight=4, max_attachments=2, cors="*",
                  ping_interval=0.25)
class RawGateway(OnGatewayConnection, OnGatewayDisconnect):
    async def handle_connection(self, client: Socket, *args: Any) -> None:
        Counts.connections += 1
        await client.emit("welcome", 1)
        await client.emit("welcome", 2)

    def handle_disconnect(self, client: Socket) -> None:
        Counts.disconnections += 1

    @SubscribeMessage("echo")
    def echo(self, body: Annotated[Any, MessageBody()]) -> Any:
        return body

    @SubscribeMessage("pair")
    def pair(self) -> tuple[int, str]:
        return 1, "two"

    @SubscribeMessage("none")
    def none(self) -> None:
        return None

    @SubscribeMessage("reply")
    def reply(self) -> WsResponse[int]:
        return WsResponse("replied", 1)

    @SubscribeMessage("bytes")
    def binary(self) -> bytes:
        return b"\x00\x01"

    @SubscribeMessage("later")
    def later(self) -> Any:
        async def done() -> str:
            return "later"

        return done()  # a plain def returning a coroutine: awaited off the read loop

    @SubscribeMessage("slow")
    async def slow(self, client: Annotated[Socket, ConnectedSocket()]) -> int:
        Counts.running += 1
        Counts.peak = max(Counts.peak, Counts.running)
        await asyncio.sleep(0.05)
        Counts.running -= 1
        return Counts.peak


@WebSocketGateway(namespace=re.compile(r"/dyn-\w+"))
class DynamicGateway:
    @SubscribeMessage("where")
    def where(self, client: Annotated[Socket, ConnectedSocket()]) -> str:
        return client.namespace


@Module(providers=[RawGateway, DynamicGateway])
class RawModule: ...


@pytest.fixture
async def app() -> AsyncIterator[NestApplication]:
    Counts.connections = Counts.disconnections = Counts.running = Counts.peak = 0
    application = await NestFactory.create(RawModule)
    await application.listen(0, "127.0.0.1", ephemeral_gateways=True)
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _open(http: aiohttp.ClientSession, app: NestApplication) -> Any:
    ws = await http.ws_connect(app.url_for(None) + "/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str(timeout=5))[0] == "0"
    return ws


async def _joined(http: aiohttp.ClientSession, app: NestApplication) -> Any:
    ws = await _open(http, app)
    await ws.send_str("40/raw,")
    assert (await ws.receive_str(timeout=5)).startswith("40/raw,")
    assert await ws.receive_str(timeout=5) == '42/raw,["welcome",1]'
    assert await ws.receive_str(timeout=5) == '42/raw,["welcome",2]'
    return ws


async def test_sync_handlers_answer_every_kind_of_result_in_order(
    app: NestApplication, http: aiohttp.ClientSession
) -> None:
    """Plain ``def`` handlers are run and acked as their packets are read (the inline path);
    whatever that path does not write itself still comes out in the packets' order."""
    ws = await _joined(http, app)
    for packet in (
        '42/raw,1["echo",{"a":[1,2]}]',
        '42/raw,["echo","no ack asked"]',
        '42/raw,2["pair"]',
        '42/raw,3["none"]',
        '42/raw,4["echo","a","b"]',
        '42/raw?x=1,5["echo","q"]',  # a query on the namespace: the general decoder
        '42/raw,6["reply"]',
        '42/raw,7["bytes"]',
        '42/raw,8["later"]',
    ):
        await ws.send_str(packet)
    got: list[str | bytes] = []
    while len(got) < 10:
        msg = await ws.receive(timeout=5)
        if msg.data != "2":  # the gateway's 250 ms PINGs
            got.append(msg.data)
    assert got == [
        '43/raw,1[{"a":[1,2]}]',
        '43/raw,2[1,"two"]',
        "43/raw,3[]",
        '43/raw,4[["a","b"]]',
        '43/raw,5["q"]',
        '42/raw,["replied",1]',
        "43/raw,6[]",
        '461-/raw,7[{"_placeholder":true,"num":0}]',
        b"\x00\x01",
        '43/raw,8["later"]',
    ]


async def test_connect_reply_comes_in_its_own_read_before_the_welcome_emits(
    app: NestApplication, http: aiohttp.ClientSession
) -> None:
    """The CONNECT reply and handle_connection's emits reach the client in separate reads."""
    host, port = app.url_for(None).removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await reader.readuntil(b"\r\n\r\n")
    assert b'"sid"' in await reader.read(4096)  # the OPEN frame
    masked = b"40/raw,"
    writer.write(bytes([0x81, 0x80 | len(masked), 0, 0, 0, 0]) + masked)  # zero mask
    first = await reader.read(4096)
    await asyncio.sleep(0.05)  # both welcome emits have been written by now
    rest = await reader.read(4096)
    assert first[2:].startswith(b"40/raw,") and b"welcome" not in first
    assert b'["welcome",1]' in rest and b'["welcome",2]' in rest
    writer.close()


@pytest.mark.parametrize("bad", [
    "42/raw,{}",  # the payload is not an array
    '42/raw,abc["echo"]',  # invalid ack id
    "42/raw,[1,2]",  # the event name is not a string
    '42/raw,["echo"',  # truncated JSON
    "9/raw,",  # unknown packet type
    '452-/raw,["echo",{"_placeholder":true,"num":0}]',  # more attachments than allowed
    '42/raw,[]',  # no event name
])
async def test_an_invalid_packet_closes_that_connection_with_one_warning(
    app: NestApplication, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    caplog.set_level(logging.WARNING)
    ws = await _joined(http, app)
    other = await _joined(http, app)
    await ws.send_str("4" + bad)
    while True:  # a close frame (not a reset); a PING may come first
        msg = await ws.receive(timeout=5)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
    assert msg.type is aiohttp.WSMsgType.CLOSE
    await eventually(lambda: Counts.disconnections == 1)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None, warnings
    await other.send_str('42/raw,5["echo","fine"]')
    assert await other.receive_str(timeout=5) == '43/raw,5["fine"]'


async def test_lying_attachment_count_then_text_closes(
    app: NestApplication, http: aiohttp.ClientSession
) -> None:
    ws = await _joined(http, app)
    await ws.send_str('451-/raw,1["echo",{"_placeholder":true,"num":0}]')
    await ws.send_str('42/raw,["echo","not an attachment"]')
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE


async def test_binary_attachments_within_the_limit_work(
    app: NestApplication, http: aiohttp.ClientSession
) -> None:
    ws = await _joined(http, app)
    await ws.send_str(
        '452-/raw,3["echo",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]'
    )
    await ws.send_bytes(b"\x01")
    await ws.send_bytes(b"\x02")
    assert await ws.receive_str(timeout=5) == (
        '462-/raw,3[[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]'
    )
    assert await ws.receive_bytes(timeout=5) == b"\x01"
    assert await ws.receive_bytes(timeout=5) == b"\x02"


async def test_nothing_after_an_engine_io_close_is_dispatched(
    app: NestApplication, http: aiohttp.ClientSession
) -> None:
    for _ in range(20):
        ws = await _open(http, app)
        await ws.send_str("1")
        await ws.send_str("40/raw,")
        msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    sio = app._registry.all_servers()[0]  # test-only peek: nothing registered
    await eventually(lambda: not sio.eio.sessions)
    assert Counts.connections == 0
    assert sio.nest_sockets == {}


async def test_handlers_in_flight_per_socket_are_bounded(
    app: NestApplication, http: aiohttp.ClientSession
) -> None:
    ws = await _joined(http, app)
    for i in range(20):
        await ws.send_str(f'42/raw,{i}["slow"]')
    acks = set()
    while len(acks) < 20:
        text = await ws.receive_str(timeout=5)
        if text.startswith("43/raw,"):
            acks.add(int(text[7:].split("[", 1)[0]))
    assert acks == set(range(20))  # every message handled, none dropped
    assert Counts.peak == 4  # never more than max_handlers_in_flight at once


async def test_namespace_cache_is_bounded_by_bytes(
    app: NestApplication, http: aiohttp.ClientSession
) -> None:
    sio = app._registry.all_servers()[0]  # test-only peek: the lookup cache
    ws = await _open(http, app)
    for i in range(40):
        name = f"/dyn-{i}" + "x" * 20_000  # 20 kB namespace names, client-chosen
        await ws.send_str(f"40{name},")
        reply = await ws.receive_str(timeout=5)
        assert reply.startswith("40" + name + ",")
    assert sio._ns_cache_bytes <= sio._ns_cache_limit
    assert sum(map(len, sio._ns_cache)) == sio._ns_cache_bytes


async def test_cors_wildcard_sends_no_credentials_header(
    app: NestApplication, http: aiohttp.ClientSession
) -> None:
    url = app.url_for(None) + "/socket.io/"
    params = {"EIO": "4", "transport": "polling"}
    async with http.get(url, params=params, headers={"Origin": "http://any.example"}) as r:
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in r.headers
        handshake = json.loads((await r.text())[1:])
    assert handshake["pingInterval"] == 250
