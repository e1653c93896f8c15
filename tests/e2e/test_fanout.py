"""The fast broadcast path (FastAsyncManager) over real sockets.

Each test starts a raw ``socketio.AsyncServer`` on nestpy's Engine.IO server with a fast
manager on 127.0.0.1:0 and talks to it with real ``socketio.AsyncClient``s: the manager and
the transport are under test, not nestpy's gateways.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import engineio.payload
import pytest
import socketio
from aiohttp import web

from nestpy.websockets._fanout import (
    FastAsyncAioPikaManager,
    FastAsyncManager,
    FastAsyncRedisManager,
    fast_manager_class,
)
from nestpy.websockets._transport import EngineBridge

pytestmark = pytest.mark.e2e


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until *check()* holds (polled every 5 ms), failing after *timeout* seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)

REDIS_URL = "redis://127.0.0.1:6379/0"


class Server:
    """A running socketio.AsyncServer, its URL and the clients connected to it."""

    def __init__(self, sio: socketio.AsyncServer, url: str) -> None:
        self.sio = sio
        self.url = url
        self.clients: list[Client] = []

    @property
    def manager(self) -> Any:
        return self.sio.manager

    async def connect(
        self, n: int = 1, transports: list[str] | None = None, **client_kwargs: Any
    ) -> list[Client]:
        """Connect *n* clients (websocket unless *transports* says otherwise)."""
        clients = [Client(**client_kwargs) for _ in range(n)]
        self.clients += clients
        await asyncio.gather(*(c.connect(self.url, transports) for c in clients))
        return clients

    def session(self, client: Client) -> Any:
        """*client*'s Engine.IO session on the server (KeyError once it is gone)."""
        return self.sio.eio.sessions[self.manager.eio_sid_from_sid(client.sid, "/")]


class _NestEngineServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server on nestpy's Engine.IO server (the seam NestAsyncServer uses)."""

    def _engineio_server_class(self) -> type:
        return EngineBridge


@asynccontextmanager
async def serve(manager: Any | None = None, **kwargs: Any) -> AsyncIterator[Server]:
    """Run an AsyncServer (FastAsyncManager by default) on 127.0.0.1:0."""
    sio = _NestEngineServer(
        client_manager=manager if manager is not None else FastAsyncManager(),
        async_mode="aiohttp",
        **kwargs,
    )

    @sio.on("join")
    async def join(sid: str, room: str) -> str:
        await sio.enter_room(sid, room)
        return "joined"

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = Server(sio, f"http://127.0.0.1:{runner.addresses[0][1]}")
    try:
        yield server
    finally:
        # Websocket clients leave first. A polling client's disconnect would wait ~30 s for
        # its parked GET (python-engineio answers it only at the next ping), so the server
        # goes down first and drops those connections.
        polling = [c for c in server.clients if c.sio.transport() == "polling"]
        await asyncio.gather(
            *(c.sio.disconnect() for c in server.clients if c not in polling),
            return_exceptions=True,
        )
        await sio.shutdown()
        await runner.cleanup()
        await asyncio.gather(*(c.sio.disconnect() for c in polling), return_exceptions=True)


class Client:
    """A socketio.AsyncClient recording every event it receives, in order."""

    def __init__(self, **kwargs: Any) -> None:
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, **kwargs)
        self.events: list[tuple[str, Any]] = []
        self.changed = asyncio.Event()

        @self.sio.on("*")
        async def catch_all(event: str, *args: Any) -> Any:
            self.record(event, args[0] if len(args) == 1 else args)
            return ["ack", event]

    def record(self, event: str, data: Any) -> None:
        self.events.append((event, data))
        self.changed.set()

    async def connect(self, url: str, transports: list[str] | None = None) -> Client:
        await self.sio.connect(url, transports=transports or ["websocket"], wait_timeout=5)
        return self

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid()
        assert sid is not None
        return sid

    def data(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    async def wait_for(self, event: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        """Wait until *event* arrived at least *count* times; return its payloads."""

        async def arrived() -> None:
            while len(self.data(event)) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(arrived(), timeout)  # not asyncio.timeout: Python 3.10 too
        return self.data(event)


async def flush(server: Server, clients: list[Client], marker: str = "end") -> None:
    """Broadcast *marker* and wait for it everywhere: per-socket order makes it a barrier."""
    await server.sio.emit(marker)
    await asyncio.gather(*(c.wait_for(marker) for c in clients))


@pytest.fixture
def many_packets_per_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let python-engineio's *client* decode long-poll payloads of more than 16 packets.

    The server answers a poll with everything queued (upstream behaviour); a burst of emits
    can exceed the python client's own decode limit, which JS clients do not have.
    """
    monkeypatch.setattr(engineio.payload.Payload, "max_decode_packets", 10_000)


async def test_broadcast_reaches_every_client_exactly_once() -> None:
    async with serve() as server:
        clients = await server.connect(6)
        await server.sio.emit("news", {"n": 1, "text": "héllo"})
        await flush(server, clients)
        for c in clients:
            assert c.data("news") == [{"n": 1, "text": "héllo"}]
        # every websocket recipient of both emits was written directly
        assert server.manager.direct_deliveries == 12
        assert server.manager.queued_deliveries == 0


async def test_tuple_and_none_payloads_expand_like_upstream() -> None:
    async with serve() as server:
        clients = await server.connect(2)
        await server.sio.emit("multi", (1, "two", [3]))
        await server.sio.emit("bare")
        await flush(server, clients)
        for c in clients:
            assert c.data("multi") == [(1, "two", [3])]
            assert c.data("bare") == [()]


async def test_room_fan_out_reaches_members_only() -> None:
    async with serve() as server:
        clients = await server.connect(6)
        members, others = clients[:3], clients[3:]
        for c in members:
            assert await c.sio.call("join", "blue") == "joined"
        await server.sio.emit("room-msg", "to blue", to="blue")
        await server.sio.emit("rooms-msg", "to blue or one sid", to=["blue", others[0].sid])
        await flush(server, clients)
        for c in members:
            assert c.data("room-msg") == ["to blue"]
            assert c.data("rooms-msg") == ["to blue or one sid"]
        for c in others:
            assert c.data("room-msg") == []
        assert others[0].data("rooms-msg") == ["to blue or one sid"]
        assert others[1].data("rooms-msg") == []
        assert others[2].data("rooms-msg") == []


async def test_skip_sid_single_and_list() -> None:
    async with serve() as server:
        a, b, c, d = clients = await server.connect(4)
        await server.sio.emit("one", 1, skip_sid=a.sid)
        await server.sio.emit("two", 2, skip_sid=[b.sid, c.sid])
        await server.sio.emit("three", 3, to=[x.sid for x in clients], skip_sid=d.sid)
        await flush(server, clients)
        assert [x.data("one") for x in clients] == [[], [1], [1], [1]]
        assert [x.data("two") for x in clients] == [[2], [], [], [2]]
        assert [x.data("three") for x in clients] == [[3], [3], [3], []]


async def test_mixed_websocket_and_polling_recipients(many_packets_per_poll: None) -> None:
    async with serve() as server:
        everyone = await server.connect(3) + await server.connect(2, ["polling"])
        for i in range(20):
            await server.sio.emit("tick", i)
        # upstream shares one binary eio packet between both kinds of recipient, and a
        # long-poll then fails to encode it (str + bytes): the fast path keeps them apart
        await server.sio.emit("blob", {"raw": b"\x00\x01binary\xff", "i": 7})
        await flush(server, everyone)
        for c in everyone:
            assert c.data("tick") == list(range(20))
            assert c.data("blob") == [{"raw": b"\x00\x01binary\xff", "i": 7}]
        # pollers are always queued; websockets mostly direct (a busy writer is queued too)
        assert server.manager.queued_deliveries >= 2 * 22
        assert server.manager.direct_deliveries > 0


async def test_binary_payloads_arrive_intact_with_several_attachments(
    many_packets_per_poll: None,
) -> None:
    big = bytes(range(256)) * 300  # 76,800 bytes: a frame with a 64-bit length
    async with serve() as server:
        everyone = await server.connect(3) + await server.connect(1, ["polling"])
        payload = {"a": b"", "b": [b"\x00" * 125, b"\x01" * 126], "c": big, "s": "text"}
        await server.sio.emit("bin", payload)
        await server.sio.emit("bin-args", (b"first", "mid", b"last"))
        await flush(server, everyone)
        for c in everyone:
            assert c.data("bin") == [payload]
            assert c.data("bin-args") == [(b"first", "mid", b"last")]
        assert server.manager.direct_deliveries > 0


async def test_per_socket_order_with_queued_sends_interleaved(many_packets_per_poll: None) -> None:
    """Broadcasts written directly never overtake packets waiting in a socket's queue."""
    async with serve() as server:
        everyone = await server.connect(5) + await server.connect(1, ["polling"])
        sids = [c.sid for c in everyone]
        acks: list[Any] = []
        for i in range(300):
            if i % 7 == 0:
                # the callback path is upstream's: it queues a packet per socket
                for sid in sids:
                    await server.sio.emit("seq", i, to=sid, callback=lambda *a: acks.append(a))
            elif i % 11 == 0:
                await server.sio.emit("seq", (i, b"\x07" * 10))  # two eio packets
            else:
                await server.sio.emit("seq", i)
            if i % 50 == 0:
                await asyncio.sleep(0.005)  # let writers drain, so both paths alternate
        await flush(server, everyone)
        for c in everyone:
            got = [d if isinstance(d, int) else d[0] for d in c.data("seq")]
            assert got == list(range(300))
        assert server.manager.direct_deliveries > 0
        assert server.manager.queued_deliveries > 0
        assert len(acks) == 43 * len(sids)


async def test_broadcast_never_overtakes_a_queued_or_in_flight_packet() -> None:
    """A packet queued just before a broadcast arrives first, however far its writer got.

    ``eio.send`` queues without suspending; 0-6 loop turns later the writer task has the
    packet still queued, taken from the queue but not yet written, or written.
    """
    async with serve() as server:
        clients = await server.connect(4)
        eio_sids = [server.manager.eio_sid_from_sid(c.sid, "/") for c in clients]
        n = 0
        for turns in [0, 1, 2, 3, 4, 5, 6] * 15:
            for eio_sid in eio_sids:
                await server.sio.eio.send(eio_sid, f'2["seq",{n}]')  # a Socket.IO EVENT
            for _ in range(turns):
                await asyncio.sleep(0)
            await server.sio.emit("seq", n + 1)
            n += 2
        await flush(server, clients)
        for c in clients:
            assert c.data("seq") == list(range(n))
        assert server.manager.direct_deliveries > 0


async def test_bursts_within_one_loop_turn_keep_order_with_queued_packets() -> None:
    """Emits in one event-loop turn are coalesced per socket, still in program order.

    Each turn mixes (seeded) broadcasts, room emits, packets queued through ``eio.send`` and
    emits with a callback; every message carries the next number, so each client must see
    its own messages in increasing order, none missing.
    """
    rng = random.Random(5)
    async with serve() as server:
        # websocket clients only: an emit that queues for a polling client yields the turn
        everyone = await server.connect(5)
        for c in everyone[::2]:
            await c.sio.call("join", "even")
        eio_of = {c: server.manager.eio_sid_from_sid(c.sid, "/") for c in everyone}
        expected: dict[Client, list[int]] = {c: [] for c in everyone}
        n = coalesced = 0
        for _ in range(60):
            for _ in range(rng.randint(1, 8)):
                op = rng.random()
                if op < 0.5:
                    await server.sio.emit("seq", n)
                    targets = everyone
                elif op < 0.65:
                    await server.sio.emit("seq", n, to="even")
                    targets = everyone[::2]
                elif op < 0.85:
                    c = rng.choice(everyone)
                    await server.sio.eio.send(eio_of[c], f'2["seq",{n}]')
                    targets = [c]
                else:
                    c = rng.choice(everyone)
                    await server.sio.emit("seq", n, to=c.sid, callback=lambda *a: None)
                    targets = [c]
                for c in targets:
                    expected[c].append(n)
                n += 1
            coalesced += bool(server.sio.eio._corked)  # frames held back for one write
            for _ in range(rng.randint(0, 2)):
                await asyncio.sleep(0)
        await flush(server, everyone)
        for c in everyone:
            assert c.data("seq") == expected[c]
        assert coalesced > 10


async def test_client_leaving_mid_broadcast_does_not_break_the_others() -> None:
    async with serve() as server:
        quitter, aborted, *stayers = await server.connect(5)
        aborted_session = server.session(aborted)
        leaving = {server.manager.eio_sid_from_sid(c.sid, "/") for c in (quitter, aborted)}
        for i in range(200):
            await server.sio.emit("tick", i)
            if i == 50:
                asyncio.get_running_loop().create_task(quitter.sio.disconnect())
            if i == 60:
                aborted_session.request.transport.abort()  # the TCP connection drops
            if i % 20 == 0:
                await asyncio.sleep(0.01)
        await flush(server, stayers)
        for c in stayers:
            assert c.data("tick") == list(range(200))
        assert len(quitter.data("tick")) < 200
        assert len(aborted.data("tick")) < 200
        await eventually(lambda: not leaving & set(server.sio.eio.sessions))  # both released


async def test_emit_with_callback_still_acks() -> None:
    async with serve() as server:
        a, b = await server.connect(2)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await server.sio.emit("ask", {"q": 1}, to=a.sid, callback=done.set_result)
        assert await asyncio.wait_for(done, 5) == ["ack", "ask"]
        assert await server.sio.call("ask", "again", to=b.sid, timeout=5) == ["ack", "ask"]
        assert a.data("ask") == [{"q": 1}]
        assert b.data("ask") == ["again"]


async def test_per_message_deflate_socket_gets_correct_frames() -> None:
    async with serve(per_message_deflate=True) as server:
        (deflate,) = await server.connect(1, websocket_extra_options={"compress": 15})
        (plain,) = await server.connect(1)
        assert server.session(deflate).compressed  # aiohttp compresses its frames
        assert not server.session(plain).compressed  # pre-built frames
        text = "compress me " * 500
        await server.sio.emit("z", {"text": text, "bin": b"\x00" * 2000})
        await flush(server, [deflate, plain])
        for c in (deflate, plain):
            assert c.data("z") == [{"text": text, "bin": b"\x00" * 2000}]


async def test_slow_reader_is_disconnected_not_buffered_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that stops reading: the server holds at most ``max_buffer_size`` bytes for
    it, then disconnects it with a warning; what it got before is complete and in order.

    The reader is a bare Engine.IO websocket over aiohttp (a python-socketio client keeps
    reading into memory), and the server socket's send buffer is made small so that the
    kernel cannot absorb the burst.
    """
    frame = "x" * 20_000
    count = 200  # 4 MB in all
    limit = 64 * 1024
    caplog.set_level(logging.WARNING, "nestpy.engineio")
    async with serve(max_buffer_size=limit) as server, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(server.url + "/socket.io/?EIO=4&transport=websocket")
        assert (await ws.receive_str()).startswith("0")  # Engine.IO OPEN
        await ws.send_str("40")  # Socket.IO CONNECT to "/"
        assert (await ws.receive_str()).startswith("40")
        (session,) = server.sio.eio.sessions.values()
        transport = session.request.transport
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        peak = 0
        for i in range(count):
            await server.sio.emit("big", (i, frame))
            await asyncio.sleep(0)
            if not transport.is_closing():
                peak = max(peak, transport.get_write_buffer_size())
        assert session.closed and session.reason == "slow reader"
        assert peak <= limit + 2 * len(frame)  # never past the limit (plus the frame refused)
        assert "does not read fast enough" in caplog.text
        got = []
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            if msg.data.startswith("42"):
                event, i, data = json.loads(msg.data[2:])
                assert (event, data) == ("big", frame)
                got.append(i)
        assert got == list(range(len(got))) and len(got) < count
        await ws.close()


def test_fast_manager_class_places_fast_path_under_pubsub_emit() -> None:
    assert fast_manager_class(socketio.AsyncManager) is FastAsyncManager
    assert fast_manager_class(socketio.AsyncRedisManager) is FastAsyncRedisManager
    assert fast_manager_class(socketio.AsyncAioPikaManager) is FastAsyncAioPikaManager
    assert fast_manager_class(FastAsyncRedisManager) is FastAsyncRedisManager

    class Custom(socketio.AsyncRedisManager):
        pass

    fast = fast_manager_class(Custom)
    assert fast is fast_manager_class(Custom)
    mro = fast.__mro__
    # AsyncPubSubManager._handle_emit calls super().emit: that must land on the fast emit
    pubsub = socketio.async_pubsub_manager.AsyncPubSubManager
    assert mro.index(pubsub) < mro.index(FastAsyncManager) < mro.index(socketio.AsyncManager)
    with pytest.raises(TypeError):
        fast_manager_class(dict)


async def _subscribers_at_least(channel: str, n: int) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        counts = await client.pubsub_numsub(channel)
        return int(counts[0][1]) >= n
    finally:
        await client.aclose()


async def _until(predicate: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:

    async def poll() -> None:
        while not await predicate():  # noqa: ASYNC110 - polls Redis, there is no event to wait on
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


@pytest.mark.redis
async def test_redis_broadcast_from_one_server_reaches_clients_on_another() -> None:
    channel = f"nestpy-fanout-test-{uuid.uuid4().hex}"
    mgr_a = FastAsyncRedisManager(REDIS_URL, channel=channel)
    mgr_b = FastAsyncRedisManager(REDIS_URL, channel=channel)
    async with serve(mgr_a) as a, serve(mgr_b) as b:
        on_a = await a.connect(2)  # the first connection starts each manager's listener
        on_b = await b.connect(3)
        await _until(lambda: _subscribers_at_least(channel, 2))
        await a.sio.emit("cross", {"from": "A", "bin": b"\x01\x02"})
        await a.sio.emit("cross-skip", "x", skip_sid=on_b[0].sid)
        await a.sio.emit("end")
        await asyncio.gather(*(c.wait_for("end") for c in on_a + on_b))
        for c in on_a + on_b:
            assert c.data("cross") == [{"from": "A", "bin": b"\x01\x02"}]
        assert on_b[0].data("cross-skip") == []
        for c in on_a + on_b[1:]:
            assert c.data("cross-skip") == ["x"]
        # Local delivery on both servers (A: emit → _handle_emit; B: its listener →
        # _handle_emit) went through the fast path, not AsyncManager.emit.
        assert a.manager.direct_deliveries + a.manager.queued_deliveries == 3 * 2
        assert b.manager.direct_deliveries + b.manager.queued_deliveries == 3 * 3 - 1
        assert a.manager.direct_deliveries > 0
        assert b.manager.direct_deliveries > 0


@pytest.mark.amqp
async def test_amqp_broadcast_from_one_server_reaches_clients_on_another() -> None:
    exchange = f"nestpy-fanout-test-{uuid.uuid4().hex}"
    url = "amqp://guest:guest@127.0.0.1:5672//"
    async with (
        serve(FastAsyncAioPikaManager(url, channel=exchange)) as a,
        serve(FastAsyncAioPikaManager(url, channel=exchange)) as b,
    ):
        on_a = await a.connect(1)
        on_b = await b.connect(2)

        async def b_is_listening() -> bool:
            # B's queue is bound once its listener runs; until then a publish is lost
            await a.sio.emit("ready")
            await asyncio.sleep(0.05)
            return bool(on_b[0].data("ready"))

        await _until(b_is_listening, timeout=10)
        await a.sio.emit("cross", (b"\x00bin", {"k": "v"}), skip_sid=on_b[1].sid)
        await a.sio.emit("end")
        await asyncio.gather(*(c.wait_for("end") for c in on_a + on_b))
        assert on_a[0].data("cross") == [(b"\x00bin", {"k": "v"})]
        assert on_b[0].data("cross") == [(b"\x00bin", {"k": "v"})]
        assert on_b[1].data("cross") == []
        assert b.manager.direct_deliveries > 0  # B's listener → _handle_emit → fast path
