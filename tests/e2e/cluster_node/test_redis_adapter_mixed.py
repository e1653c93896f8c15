"""``SocketIoRedisAdapter``: nestpy and Node socket.io 4.8 (``@socket.io/redis-adapter`` 8.x)
on one Redis are one cluster, and the official ``@socket.io/redis-emitter`` reaches nestpy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asyncio_compat import within
from cluster_node_support import REDIS_URL, WAIT

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.interop]


async def test_broadcasts_rooms_and_except_cross_both_ways(nest_node, node_peer, client) -> None:
    nest = await nest_node()
    node = await node_peer("redis")
    a = await client(nest.port, "alice", ("r1",))
    b = await client(node.port, "bob", ("r1", "vip"))
    c = await client(node.port, "carol")
    assert await node.call("count", nsp="/chat") == 2
    assert await nest.adapter.count_servers("/chat") == 2
    assert await nest.adapter.count_servers() == 2  # "/" (every Node server has it)
    assert nest.adapter.server_count() == 2  # as last counted (just above)

    # nestpy → everyone (the Node node's clients too), binary and several arguments intact
    await nest.server.emit("news", {"n": 1}, b"\x00\x01", None)
    for who in (a, b, c):
        assert await who.receive("news") == [{"n": 1}, b"\x00\x01", None]

    # Node → a room, and except a room
    await node.call("emit", nsp="/chat", rooms=["r1"], event="room", args=["r1 only"])
    assert await a.receive("room") == "r1 only"
    assert await b.receive("room") == "r1 only"
    assert await c.nothing("room")
    await node.call("emit", nsp="/chat", except_=[], event="x")
    await node.call("emit", nsp="/chat", **{"except": ["vip"]}, event="not-vip", args=[7])
    assert await a.receive("not-vip") == 7
    assert await c.receive("not-vip") == 7
    assert await b.nothing("not-vip")

    # nestpy → room except room: each node resolves the exclusion against its own rooms
    await nest.server.to("r1").except_("vip").emit("r1-not-vip", "hi")
    assert await a.receive("r1-not-vip") == "hi"
    assert await b.nothing("r1-not-vip")
    assert await c.nothing("r1-not-vip")

    # socket.to(room) from a client of each side reaches the other side's members
    assert await a.sio.call("relay", {"room": "r1", "text": "from nest"}, namespace="/chat")
    assert await b.receive("relayed") == "from nest"
    assert await b.sio.call("relay", {"room": "r1", "text": "from node"}, namespace="/chat")
    assert await a.receive("relayed") == "from node"

    # Node binary (a Buffer) reaches a nestpy client as bytes
    await node.call("emitBinary", nsp="/chat", event="bin", hex="deadbeef")
    assert await a.receive("bin") == [b"\xde\xad\xbe\xef", {"n": 1}]


async def test_fetch_sockets_join_leave_disconnect_both_ways(nest_node, node_peer, client) -> None:
    nest = await nest_node()
    node = await node_peer("redis")
    a = await client(nest.port, "alice", ("r1",))
    b = await client(node.port, "bob", ("r1",))
    c = await client(node.port, "carol")

    # nestpy's fetch_sockets sees the Node node's sockets (rooms and data included)
    found = {s.id: s for s in await nest.server.in_("r1").fetch_sockets()}
    assert set(found) == {a.sid, b.sid}
    assert found[b.sid].data == {"user": "bob"}
    assert b.sid in found[b.sid].rooms and "r1" in found[b.sid].rooms
    everyone = {s.id for s in await nest.server.fetch_sockets()}
    assert everyone == {a.sid, b.sid, c.sid}

    # Node's fetchSockets sees nestpy's
    seen = {s["id"]: s for s in await node.call("fetch", nsp="/chat", rooms=["r1"])}
    assert set(seen) == {a.sid, b.sid}
    assert seen[a.sid]["data"] == {"user": "alice"}
    assert seen[a.sid]["rooms"] == sorted([a.sid, "r1"])
    # Node's adapter.allRooms() (ALL_ROOMS) includes nestpy's rooms
    assert {a.sid, "r1"} <= set(await node.call("rooms", nsp="/chat"))

    # nestpy's sockets_join reaches the Node node's sockets (not waiting for it)
    await nest.server.except_("r1").sockets_join("late")
    await _until(lambda: _rooms_of(node, c.sid), lambda rooms: "late" in rooms)
    # Node's socketsJoin / socketsLeave reach nestpy's
    await node.call("join", nsp="/chat", rooms=["r1"], room="both")
    await _until(lambda: nest.server.in_("both").fetch_sockets(),
                 lambda socks: {s.id for s in socks} == {a.sid, b.sid})
    await node.call("leave", nsp="/chat", room="r1")
    await _until(lambda: nest.server.in_("r1").fetch_sockets(), lambda socks: socks == [])

    # RemoteSocket operations travel to the Node node
    remote = next(s for s in await nest.server.fetch_sockets() if s.id == c.sid)
    await remote.join("solo")
    await _until(lambda: _rooms_of(node, c.sid), lambda rooms: "solo" in rooms)
    await remote.emit("direct", {"to": "carol"})
    assert await c.receive("direct") == {"to": "carol"}

    # disconnect_sockets both ways
    await node.call("disconnect", nsp="/chat", rooms=["both"])
    await asyncio.wait_for(a.disconnected.wait(), WAIT)
    await asyncio.wait_for(b.disconnected.wait(), WAIT)
    await nest.server.disconnect_sockets()
    await asyncio.wait_for(c.disconnected.wait(), WAIT)


async def test_server_side_emits_and_broadcast_acks(nest_node, node_peer, client) -> None:
    nest = await nest_node()
    nest2 = await nest_node()
    node = await node_peer("redis")
    got: list[Any] = []

    def on_ping(*args: Any) -> dict[str, Any]:
        got.append(args)
        return {"node": "nest", "got": list(args)}

    nest.server.on("ping-servers", on_ping)
    nest2.server.on("ping-servers", on_ping)
    # Node → nestpy, without and with acks
    await node.call("ssemit", nsp="/chat", event="ping-servers", args=[1, "a"])
    await _until(lambda: _value(got), lambda g: len(g) == 2)
    assert got == [(1, "a"), (1, "a")]
    replies = await node.call("ssemitack", nsp="/chat", event="ping-servers", args=[2])
    assert replies == [{"node": "nest", "got": [2]}] * 2
    # nestpy → Node (and the other nestpy node), without and with acks
    await nest.server.server_side_emit("ping-servers", "x", {"y": 1})
    assert (await node.event("server-side"))["args"] == ["x", {"y": 1}]
    replies = await nest.server.timeout(3).server_side_emit_with_ack("ping-servers", 3)
    assert sorted(replies, key=str) == sorted(
        [{"node": "node", "got": [3]}, {"node": "nest", "got": [3]}], key=str
    )

    # broadcast acks: Node's io.timeout().emit() collects nestpy's clients' acks, and back
    a = await client(nest.port, "alice")
    a.acks["question"] = "a-answer"
    b = await client(node.port, "bob")
    b.acks["question"] = "b-answer"
    answers = await node.call("emitack", nsp="/chat", event="question", args=[1])
    assert sorted(answers) == ["a-answer", "b-answer"]
    answers = await nest.server.timeout(3).emit_with_ack("question", 2)
    assert sorted(answers) == ["a-answer", "b-answer"]


async def test_official_emitter_reaches_nestpy(nest_node, node_emitter, client) -> None:
    nest = await nest_node()
    emitter = await node_emitter()
    a = await client(nest.port, "alice", ("r1",))
    b = await client(nest.port, "bob")
    await emitter.call("emit", nsp="/chat", rooms=["r1"], event="to-room", args=[{"k": [1, 2]}])
    assert await a.receive("to-room") == {"k": [1, 2]}
    assert await b.nothing("to-room")
    await emitter.call("emit", nsp="/chat", **{"except": ["r1"]}, event="others", args=["x"])
    assert await b.receive("others") == "x"
    assert await a.nothing("others")
    await emitter.call("emitBinary", nsp="/chat", event="bin", hex="0102")
    assert await a.receive("bin") == b"\x01\x02"
    await emitter.call("join", nsp="/chat", rooms=["r1"], room="joined")
    await _until(lambda: nest.server.in_("joined").fetch_sockets(),
                 lambda socks: [s.id for s in socks] == [a.sid])
    await emitter.call("disconnect", nsp="/chat", **{"except": ["r1"]})
    await asyncio.wait_for(b.disconnected.wait(), WAIT)
    assert a.sio.connected


async def _value(v: Any) -> Any:
    return v


async def _rooms_of(node: Any, sid: str) -> list[str]:
    for s in await node.call("fetch", nsp="/chat"):
        if s["id"] == sid:
            return list(s["rooms"])
    return []


async def _until(fetch: Any, ok: Any, timeout: float = WAIT) -> None:
    """Poll *fetch* (an async callable) until *ok* holds for its value; bounded."""
    async with within(timeout):
        while True:
            value = await fetch()
            if ok(value):
                return
            await asyncio.sleep(0.02)


async def test_nestpy_emitter_speaks_the_node_protocol(key, nest_node, node_peer, client) -> None:
    from nestpy.websockets import Emitter

    nest = await nest_node()
    node = await node_peer("redis")
    a = await client(nest.port, "alice", ("r1",))
    b = await client(node.port, "bob", ("r1",))
    c = await client(node.port, "carol")
    async with Emitter(REDIS_URL, key, protocol="socket.io") as emitter:
        await emitter.of("/chat").to("r1").emit("hello", {"n": 1}, b"\x07")
        assert await a.receive("hello") == [{"n": 1}, b"\x07"]
        assert await b.receive("hello") == [{"n": 1}, b"\x07"]
        assert await c.nothing("hello")
        await emitter.of("chat").except_("r1").sockets_join("outside")
        await _until(lambda: _rooms_of(node, c.sid), lambda rooms: "outside" in rooms)
        await emitter.server_side_emit("ping-servers", "from-emitter", namespace="/chat")
        assert (await node.event("server-side"))["args"] == ["from-emitter"]
        await emitter.of("/chat").in_("r1").disconnect_sockets()
        await asyncio.wait_for(a.disconnected.wait(), WAIT)
        await asyncio.wait_for(b.disconnected.wait(), WAIT)
    assert c.sio.connected
