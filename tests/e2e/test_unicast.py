"""The unicast fast path (acks and ``Socket.emit``) and the lean read loop, over real sockets.

A nestpy app listens on 127.0.0.1:0; real ``socketio.AsyncClient``s (websocket and polling)
or, where the test needs a peer that misbehaves (stops reading, stays silent), a bare
Engine.IO websocket over aiohttp, talk to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import aiohttp
import engineio.payload
import pytest
import socketio

from nestpy import Module, NestApplication, NestFactory
from nestpy.websockets import (
    Ack,
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    OnGatewayDisconnect,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)

pytestmark = pytest.mark.e2e

NS = "/uni"


@WebSocketGateway(namespace="uni")
class UnicastGateway(OnGatewayConnection, OnGatewayDisconnect):
    """Numbers every packet it sends and records, per socket, the numbers it sent in order."""

    server: Server = WebSocketServer()

    def __init__(self) -> None:
        self.sockets: dict[str, Socket] = {}
        self.odd: set[str] = set()
        self.expected: dict[str, list[int]] = {}
        self.disconnects: list[Any] = []
        self.n = 0
        self.rng = random.Random(11)

    async def handle_connection(self, client: Socket, *args: Any) -> None:
        self.sockets[client.id] = client
        self.expected[client.id] = []
        if len(self.sockets) % 2:
            await client.join("odd")
            self.odd.add(client.id)

    def handle_disconnect(self, client: Socket, reason: Any = None) -> None:
        self.sockets.pop(client.id, None)
        self.odd.discard(client.id)
        self.disconnects.append(reason)

    def next_for(self, sids: Any) -> int:
        """The next number, expected by each of *sids* (call right before the send)."""
        n = self.n
        self.n += 1
        for sid in sids:
            self.expected[sid].append(n)
        return n

    @SubscribeMessage("mix")
    async def mix(self, client: Annotated[Socket, ConnectedSocket()]) -> int:
        """A seeded mix of unicasts, broadcasts and room emits, then the ack."""
        rng = self.rng
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            if op < 0.3:
                await client.emit("seq", self.next_for([client.id]))
            elif op < 0.45:
                await self.server.emit("seq", self.next_for(list(self.sockets)))
            elif op < 0.55:
                await self.server.to("odd").emit("seq", self.next_for(list(self.odd)))
            elif op < 0.65:
                others = [s for s in self.sockets if s != client.id]
                await client.broadcast.emit("seq", self.next_for(others))
            elif op < 0.75:
                other = self.sockets[rng.choice(sorted(self.sockets))]
                await other.emit("seq", self.next_for([other.id]))
            elif op < 0.85:
                # through the socket's send queue (python-engineio's path): later direct
                # writes must not overtake it
                raw = self.server.raw
                eio_sid = raw.manager.eio_sid_from_sid(client.id, NS)
                await raw.eio.send(eio_sid, f'2{NS},["seq",{self.next_for([client.id])}]')
            else:
                await asyncio.sleep(0)  # the next sends fall in another loop turn
        return self.next_for([client.id])

    @SubscribeMessage("mix_sync")
    def mix_sync(
        self,
        client: Annotated[Socket, ConnectedSocket()],
        ack: Annotated[Callable[..., Any], Ack()],
    ) -> None:
        """A sync handler (run inline) acking by hand: sent in call order, not later."""
        ack(self.next_for([client.id]))

    @SubscribeMessage("ack_then_emit")
    async def ack_then_emit(
        self,
        client: Annotated[Socket, ConnectedSocket()],
        ack: Annotated[Callable[..., Any], Ack()],
    ) -> None:
        """The ack first (not awaited), then an emit: the client sees them in that order."""
        ack(self.next_for([client.id]))
        await client.emit("seq", self.next_for([client.id]))

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("bin")
    async def bin(self, client: Socket, data: Any) -> Any:
        """Binary both ways: an emit with attachments (one over 64 KiB), then a binary ack."""
        await client.emit("blob", {"raw": data["raw"], "more": [b"\x00" * 200, BIG]}, b"tail")
        return data["raw"], {"nested": [b"\x01\x02", "text"]}


BIG = bytes(range(256)) * 300  # 76,800 bytes: a frame with a 64-bit length


@Module(providers=[UnicastGateway])
class UnicastModule:
    pass


@pytest.fixture
async def app() -> AsyncIterator[NestApplication]:
    application = await NestFactory.create(UnicastModule)
    await application.listen(0, "127.0.0.1", ephemeral_gateways=True)
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
def many_packets_per_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the python *client* decode long-poll payloads of more than 16 packets (the server
    answers a poll with everything queued; JS clients have no such limit)."""
    monkeypatch.setattr(engineio.payload.Payload, "max_decode_packets", 10_000)


class Client:
    """A socketio.AsyncClient on /uni recording "seq" numbers and ack numbers in one list."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.got: list[int] = []
        self.acks = 0

        @self.sio.on("seq", namespace=NS)
        def on_seq(n: int) -> None:
            self.got.append(n)

    def on_ack(self, n: int) -> None:
        self.got.append(n)
        self.acks += 1

    async def connect(self, url: str, transport: str) -> Client:
        await self.sio.connect(url, namespaces=[NS], transports=[transport], wait_timeout=5)
        return self

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid(NS)
        assert sid is not None
        return sid


def gateway(app: NestApplication) -> UnicastGateway:
    gw = app.get(UnicastGateway)
    assert isinstance(gw, UnicastGateway)
    return gw


def manager(app: NestApplication) -> Any:
    return gateway(app).server.raw.manager


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - client-side counters, no event to wait on
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


@pytest.mark.parametrize("transports", [["websocket"] * 4, ["websocket", "polling"] * 2])
async def test_acks_emits_and_broadcasts_keep_order_per_socket(
    app: NestApplication, transports: list[str], many_packets_per_poll: None
) -> None:
    url = app.url_for(NS)
    clients = [await Client().connect(url, t) for t in transports]
    mgr = manager(app)
    direct_before = mgr.direct_deliveries
    rng = random.Random(3)
    requests = 0
    try:
        for round_ in range(40):
            for c in clients:
                event = rng.choice(["mix", "mix", "mix_sync", "ack_then_emit"])
                await c.sio.emit(event, round_, namespace=NS, callback=c.on_ack)
                requests += 1
            if round_ % 8 == 0:
                await asyncio.sleep(0.01)  # let writers drain: direct and queued both happen
        await until(lambda: sum(c.acks for c in clients) == requests)
        # a barrier: per-socket order puts it after everything sent before
        await gateway(app).server.emit("seq", -1)
        await until(lambda: all(c.got[-1:] == [-1] for c in clients))
        expected = gateway(app).expected
        for c in clients:
            assert c.got[:-1] == expected[c.sid]
        assert mgr.direct_deliveries > direct_before
    finally:
        await asyncio.gather(*(c.sio.disconnect() for c in clients if c.sio.connected))


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_binary_acks_and_emits(app: NestApplication, transport: str) -> None:
    client = await Client().connect(app.url_for(NS), transport)
    blobs: list[Any] = []
    client.sio.on("blob", lambda *args: blobs.append(args), namespace=NS)
    mgr = manager(app)
    direct, queued = mgr.direct_deliveries, mgr.queued_deliveries
    try:
        raw = b"\x00\xffbinary\x80"
        ack = await client.sio.call("bin", {"raw": raw}, namespace=NS, timeout=5)
        assert ack == (raw, {"nested": [b"\x01\x02", "text"]})
        assert blobs == [({"raw": raw, "more": [b"\x00" * 200, BIG]}, b"tail")]
        # a text ack and a text emit after the binary ones: still decoded in order
        assert await client.sio.call("echo", {"a": "é"}, namespace=NS, timeout=5) == {"a": "é"}
        if transport == "websocket":
            assert mgr.direct_deliveries >= direct + 3  # emit, binary ack, echo ack
        else:
            assert mgr.queued_deliveries >= queued + 3  # a polling client is always queued
            assert mgr.direct_deliveries == direct
    finally:
        await client.sio.disconnect()


async def _raw_connect(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A bare Engine.IO websocket connected to namespace /uni."""
    ws = await http.ws_connect(url + "/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str(timeout=5)).startswith("0")  # Engine.IO OPEN
    await ws.send_str("40" + NS + ",")  # Socket.IO CONNECT
    assert (await ws.receive_str(timeout=5)).startswith("40" + NS + ",")
    return ws


async def test_slow_reader_keeps_order_then_is_disconnected(
    app: NestApplication, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that stops reading: emits and acks stay in order while the server holds
    less than ``max_buffer_size`` (1 MiB) for it; past that it is disconnected with a
    warning instead of buffered for.

    The server socket's send buffer is made tiny so that the kernel cannot absorb the data.
    """
    frame = "x" * 20_000
    count = 120  # 2.4 MB of emits, 0.8 MB of acks: past the limit
    caplog.set_level("WARNING", "nestpy.engineio")
    eio = app._registry.all_servers()[0].eio  # test-only peek: the session's transport
    async with aiohttp.ClientSession() as http:
        ws = await _raw_connect(http, app.url_for(NS))
        (session,) = eio.sessions.values()
        transport = session.request.transport
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        (sock,) = gateway(app).sockets.values()
        peak = 0
        for i in range(count):
            await sock.emit("big", i, frame)
            if i % 3 == 0 and not session.closed:  # an echo request: its ack is 20 kB too
                with contextlib.suppress(ConnectionError):  # the server may drop us first
                    await ws.send_str(f'42{NS},{i}["echo",{json.dumps([i, frame])}]')
            await asyncio.sleep(0)
            if not transport.is_closing():
                peak = max(peak, transport.get_write_buffer_size())
        await until(lambda: session.closed)
        assert session.reason == "slow reader"
        assert peak <= eio.max_buffer_size
        assert "does not read fast enough" in caplog.text
        bigs: list[int] = []
        acks: list[int] = []
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            if msg.data.startswith(f"42{NS},"):
                event, i, data = json.loads(msg.data[len(NS) + 3 :])
                assert (event, data) == ("big", frame)
                bigs.append(i)
            elif msg.data.startswith(f"43{NS},"):
                ack_id, rest = msg.data[len(NS) + 3 :].split("[", 1)
                ((i, data),) = json.loads("[" + rest)
                assert (int(ack_id), data) == (i, frame)
                acks.append(i)
        # what arrived is a complete, ordered prefix
        assert bigs == list(range(len(bigs))) and 0 < len(bigs) < count
        assert acks == list(range(0, 3 * len(acks), 3))
        await ws.close()


async def test_a_binary_header_for_another_namespace_then_text_closes_the_connection(
    app: NestApplication, caplog: pytest.LogCaptureFixture
) -> None:
    """A binary packet whose attachments never come (the client sends a text packet
    instead) is invalid: one warning, no traceback, and that connection is closed with a
    close frame; the next connection works."""
    caplog.set_level("WARNING", "nestpy.engineio")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(app.url_for(NS) + "/socket.io/?EIO=4&transport=websocket")
        assert (await ws.receive_str(timeout=5)).startswith("0")
        await ws.send_str('451-/other,["x",{"_placeholder":true,"num":0}]')
        await ws.send_str("40" + NS + ",")
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        ws = await _raw_connect(http, app.url_for(NS))
        await ws.send_str(f'42{NS},7["echo","still here"]')
        assert await ws.receive_str(timeout=5) == f'43{NS},7["still here"]'
        await ws.close()
    warnings = [r for r in caplog.records if r.name == "nestpy.engineio"]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "binary attachments are due" in warnings[0].getMessage()


# A ping every 0.15 s (the grace period makes python-engineio advertise a whole second: it
# truncates the interval it sends to whole seconds) and python-engineio's monitor task off,
# so that only the read deadline, ping_interval + ping_timeout = 0.3 s, can end a session.
@WebSocketGateway(
    namespace="quiet", ping_interval=(0.15, 0.85), ping_timeout=0.15, monitor_clients=False
)
class QuietGateway(OnGatewayDisconnect):
    """Short pings and nothing but the read deadline to end a silent session."""

    def __init__(self) -> None:
        self.reasons: list[Any] = []

    def handle_disconnect(self, client: Socket, reason: Any = None) -> None:
        self.reasons.append(reason)

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data


@Module(providers=[QuietGateway])
class QuietModule:
    pass


@pytest.fixture
async def quiet_app() -> AsyncIterator[NestApplication]:
    application = await NestFactory.create(QuietModule)
    await application.listen(0, "127.0.0.1", ephemeral_gateways=True)
    try:
        yield application
    finally:
        await application.close()


async def test_silent_websocket_is_closed_after_ping_interval_plus_timeout(
    quiet_app: NestApplication,
) -> None:
    """No PONG from the client within ``ping_timeout`` of a PING (0.3 s after connecting):
    the websocket is closed (no Engine.IO CLOSE packet) and the gateway hears
    ``ping timeout``, as Node's socket.io reports it.

    The server keeps sending meanwhile, through the send queue, so the writer task never
    idles out (its own timeout would otherwise close a silent session too).
    """
    gw = quiet_app.get(QuietGateway)
    eio = quiet_app._registry.all_servers()[0].eio  # test-only peek: queue packets directly
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(
            quiet_app.url_for("/quiet") + "/socket.io/?EIO=4&transport=websocket"
        )
        (eio_sid,) = eio.sockets
        assert (await ws.receive_str(timeout=5)).startswith("0")
        await ws.send_str("40/quiet,")
        assert (await ws.receive_str(timeout=5)).startswith("40/quiet,")
        started = time.monotonic()

        async def tick() -> None:
            for _ in range(60):  # bounded: 3 s
                await eio.send(eio_sid, '2/quiet,["tick"]')
                await asyncio.sleep(0.05)

        ticker = asyncio.ensure_future(tick())
        texts: list[str] = []
        try:
            while True:  # the client answers nothing, not even the server's PING
                msg = await ws.receive(timeout=5)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                texts.append(msg.data)
        finally:
            ticker.cancel()
        elapsed = time.monotonic() - started
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert '42/quiet,["tick"]' in texts
    assert "1" not in texts  # no CLOSE packet: the transport just ends
    assert 0.25 <= elapsed < 1.5
    await until(lambda: gw.reasons == ["ping timeout"])


async def test_talking_client_outlives_many_read_deadlines(quiet_app: NestApplication) -> None:
    """A client that answers pings is never timed out: the deadline re-arms on each message."""
    gw = quiet_app.get(QuietGateway)
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    await client.connect(
        quiet_app.url_for("/quiet"), namespaces=["/quiet"], transports=["websocket"]
    )
    try:
        await asyncio.sleep(1.2)  # four deadline periods, kept alive by PONGs alone
        assert client.connected
        assert await client.call("echo", [1, "two"], namespace="/quiet", timeout=5) == [1, "two"]
        assert gw.reasons == []
    finally:
        await client.disconnect()
