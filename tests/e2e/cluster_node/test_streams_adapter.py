"""``SocketIoRedisStreamsAdapter``: nestpy and Node socket.io 4.8
(``@socket.io/redis-streams-adapter`` 0.3.x) on one stream are one cluster; connection state
recovery works across processes (nestpy → Node → nestpy); a Redis restart loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asyncio_compat import within
from cluster_node_support import REDIS_URL, WAIT, NestNode, NodeProcess
from throwaway_redis import ThrowawayRedis

from nestpy import Module, NestFactory
from nestpy.websockets import (
    Server,
    Socket,
    SocketIoRedisStreamsAdapter,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.interop]


def streams(url: str, key: str, **options: Any) -> SocketIoRedisStreamsAdapter:
    return SocketIoRedisStreamsAdapter(
        url, key, channel_prefix=key, session_key_prefix=key + ":session:", block_time=0.2,
        **options,
    )


async def test_mixed_cluster_on_the_stream(key, nest_node, node_peer, client) -> None:
    nest = await nest_node(streams(REDIS_URL, key))
    node = await node_peer("streams")
    a = await client(nest.port, "alice", ("r1",))
    b = await client(node.port, "bob", ("r1", "vip"))
    c = await client(node.port, "carol")
    assert await nest.adapter.count_servers("/chat") == 2
    assert await node.call("count", nsp="/chat") == 2

    await nest.server.emit("news", {"n": 1}, b"\x01")
    for who in (a, b, c):
        assert await who.receive("news") == [{"n": 1}, b"\x01"]
    await node.call("emit", nsp="/chat", rooms=["r1"], **{"except": ["vip"]}, event="r", args=[2])
    assert await a.receive("r") == 2
    assert await b.nothing("r") and await c.nothing("r")
    await nest.server.to("r1").except_("vip").emit("r1-not-vip", "hi")
    assert await a.receive("r1-not-vip") == "hi"
    assert await b.nothing("r1-not-vip")

    found = {s.id: s for s in await nest.server.in_("r1").fetch_sockets()}
    assert set(found) == {a.sid, b.sid} and found[b.sid].data == {"user": "bob"}
    seen = {s["id"] for s in await node.call("fetch", nsp="/chat")}
    assert seen == {a.sid, b.sid, c.sid}

    await nest.server.in_("vip").sockets_join("joined")
    await node.call("join", nsp="/chat", rooms=["r1"], room="both")
    async with within(WAIT):
        while True:
            socks = {s.id: s.rooms for s in await nest.server.fetch_sockets()}
            if "joined" in socks[b.sid] and "both" in socks[a.sid]:
                break
            await asyncio.sleep(0.02)

    got: list[Any] = []
    nest.server.on("ping-servers", lambda *args: got.append(args) or {"nest": list(args)})
    assert await node.call("ssemitack", nsp="/chat", event="ping-servers", args=[1]) == [
        {"nest": [1]}
    ]
    replies = await nest.server.timeout(3).server_side_emit_with_ack("ping-servers", 2)
    assert replies == [{"node": "node", "got": [2]}]
    a.acks["q"] = "a"
    b.acks["q"] = "b"
    c.acks["q"] = "c"
    assert sorted(await nest.server.timeout(3).emit_with_ack("q", 1)) == ["a", "b", "c"]
    assert sorted(await node.call("emitack", nsp="/chat", event="q", args=[2])) == ["a", "b", "c"]

    await node.call("disconnect", nsp="/chat", rooms=["both"])
    await asyncio.wait_for(a.disconnected.wait(), WAIT)
    await asyncio.wait_for(b.disconnected.wait(), WAIT)
    assert c.sio.connected


@WebSocketGateway(namespace="chat", connection_state_recovery={"max_disconnection_duration": 60})
class RecoveringChat:
    server: Server = WebSocketServer()

    def handle_connection(self, client: Socket, *args: Any) -> None:
        if not client.recovered:
            client.data["user"] = client.handshake.auth.get("user")

    @SubscribeMessage("join")
    async def join(self, client: Socket, room: str) -> bool:
        await client.join(room)
        return True

    @SubscribeMessage("whoami")
    def whoami(self, client: Socket, _: Any) -> dict[str, Any]:
        return {"id": client.id, "recovered": client.recovered, "rooms": sorted(client.rooms),
                "data": client.data}


@Module(providers=[RecoveringChat])
class RecoveringModule:
    pass


@pytest.fixture
async def js_client() -> AsyncIterator[Any]:
    procs: list[NodeProcess] = []

    async def start() -> NodeProcess:
        proc = NodeProcess("client.mjs")
        procs.append(proc)
        return await proc.start()

    yield start
    for proc in procs:
        await proc.stop()


def ticks(received: list[list[Any]]) -> list[Any]:
    return [e[1] for e in received if e[0] == "tick"]


async def test_recovery_across_processes_and_implementations(key, node_peer, js_client) -> None:
    apps = []
    try:
        for _ in range(2):
            app = await NestFactory.create(RecoveringModule)
            app.use_websocket_adapter(streams(REDIS_URL, key))
            await app.listen(0, "127.0.0.1")
            apps.append(app)
        first, second = (NestNode(app, None, app.get(RecoveringChat)) for app in apps)
        servers = [app.get(RecoveringChat).server for app in apps]
        node = await node_peer("streams", recovery=True)
        client = await js_client()
        url_a = f"http://127.0.0.1:{first.port}/chat"
        me = await client.call("connect", url=url_a, auth={"user": "ann"})
        assert await client.call("call", event="join", arg="r1") is True
        await servers[0].emit("tick", 1)
        await node.call("emit", nsp="/chat", event="tick", args=[2])
        await _wait_ticks(client, [1, 2])

        # cut, broadcasts from the other processes, reconnect to the Node process
        await client.call("cut")
        await _session_saved(key)
        await servers[1].emit("tick", 3)
        await servers[1].to("elsewhere").emit("tick", "not for ann")
        await node.call("emit", nsp="/chat", rooms=["r1"], event="tick", args=[4])
        moved = await client.call("moveTo", url=f"http://127.0.0.1:{node.port}/chat")
        assert moved == {"id": me["id"], "recovered": True}
        await _wait_ticks(client, [1, 2, 3, 4])
        state = await client.call("call", event="whoami", arg=None)
        assert state["rooms"] == sorted([me["id"], "r1"]) and state["data"] == {"user": "ann"}

        # and from Node back to another nestpy process
        await client.call("cut")
        await _session_saved(key)
        await servers[0].emit("tick", 5)
        back = await client.call("moveTo", url=f"http://127.0.0.1:{second.port}/chat")
        assert back == {"id": me["id"], "recovered": True}
        await servers[1].emit("tick", 6)
        await _wait_ticks(client, [1, 2, 3, 4, 5, 6])
        state = await client.call("call", event="whoami", arg=None)
        assert state == {"id": me["id"], "recovered": True,
                         "rooms": sorted([me["id"], "r1"]), "data": {"user": "ann"}}
    finally:
        for app in apps:
            await app.close()


async def _session_saved(key: str) -> None:
    """Wait until the server that lost the client has saved its session in Redis."""
    import redis.asyncio as aioredis

    probe = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with within(WAIT):
            while True:
                if await probe.keys(f"{key}:session:*"):
                    return
                await asyncio.sleep(0.02)
    finally:
        await probe.aclose()


async def _wait_ticks(client: NodeProcess, expected: list[Any]) -> None:
    received: list[list[Any]] = []
    try:
        async with within(WAIT):
            while ticks(received) != expected:
                assert len(ticks(received)) <= len(expected), ticks(received)
                await asyncio.sleep(0.02)
                received = await client.call("received")
    except asyncio.TimeoutError:
        raise AssertionError(f"received {received}, expected ticks {expected}") from None


async def test_a_redis_restart_loses_nothing(key, nest_node, client) -> None:
    redis = ThrowawayRedis()
    redis.start()
    try:
        sender = await nest_node(streams(redis.url, key))
        receiver = await nest_node(streams(redis.url, key))
        listener = await client(receiver.port, "ann")
        local = await client(sender.port, "bob")
        sent: list[int] = []

        async def send(n: int) -> None:
            await sender.server.emit("n", n)
            sent.append(n)
            await asyncio.sleep(0.05)

        for n in range(10):
            await send(n)
        redis.stop()
        for n in range(10, 20):  # sent while Redis is down: queued, delivered when it is back
            await send(n)
        redis.start()
        for n in range(20, 40):
            await send(n)
        got: list[int] = []
        async with within(15):
            while len(got) < len(sent):
                got.append(await listener.receive("n", timeout=15))
        assert got == sent  # every message, in order, once
        assert [await local.receive("n") for _ in sent] == sent
        assert listener.sio.connected and local.sio.connected
        assert not listener.disconnected.is_set() and not local.disconnected.is_set()
    finally:
        redis.stop()


async def test_redis_adapter_recovery_replays_what_node_broadcast(
    key, node_peer, js_client, client
) -> None:
    """With SocketIoRedisAdapter recovery is per process, and covers broadcasts that came
    from Node nodes through Redis while the client was away (whatever their room)."""
    from nestpy.websockets import SocketIoRedisAdapter

    app = await NestFactory.create(RecoveringModule)
    app.use_websocket_adapter(SocketIoRedisAdapter(REDIS_URL, key))
    await app.listen(0, "127.0.0.1")
    try:
        nest = NestNode(app, None, app.get(RecoveringChat))
        node = await node_peer("redis")
        watcher = await client(nest.port, "wat", ("r1",))
        js = await js_client()
        url = f"http://127.0.0.1:{nest.port}/chat"
        me = await js.call("connect", url=url, auth={"user": "ann"})
        assert await js.call("call", event="join", arg="r2") is True
        await node.call("emit", nsp="/chat", event="tick", args=[1])
        await _wait_ticks(js, [1])
        assert (await watcher.receive("tick"))[0] == 1
        await js.call("cut")
        async with within(WAIT):
            while True:
                if me["id"] not in nest.server.sockets:
                    break
                await asyncio.sleep(0.02)
        # while ann is away: to her room (no one else here is in it), to all, to another room
        await node.call("emit", nsp="/chat", rooms=["r2"], event="tick", args=[2])
        await node.call("emit", nsp="/chat", event="tick", args=[3])
        await node.call("emit", nsp="/chat", rooms=["r1"], event="tick", args=["r1 only"])
        # the watcher got the last two: everything before them reached this node too
        assert (await watcher.receive("tick"))[0] == 3
        assert (await watcher.receive("tick"))[0] == "r1 only"
        assert await js.call("reconnect") == {"id": me["id"], "recovered": True}
        await _wait_ticks(js, [1, 2, 3])
    finally:
        await app.close()
