"""Two or three nestpy nodes on one broker channel behave as one Socket.IO server.

Every check runs on Redis and on RabbitMQ; each node is a real application on 127.0.0.1
port 0 with real ``socketio.AsyncClient``s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asyncio_compat import within
from scaleout_support import Cluster, Connect, Node, until

from nestpy.websockets.adapters import ClusterTimeoutError
from nestpy.websockets.socket import RemoteSocket, Socket

pytestmark = pytest.mark.e2e


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("amqp", marks=pytest.mark.amqp),
    ]
)
def kind(request: pytest.FixtureRequest) -> str:
    """The broker: ``redis`` or ``amqp``."""
    return str(request.param)


async def test_broadcast_from_one_node_reaches_clients_on_every_node(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    on_a = await connect(a, "ann")
    on_b = await connect(b, "bob")
    await a.server.emit("news", {"n": 1}, "two")
    assert await on_a.receive("news") == ({"n": 1}, "two")
    assert await on_b.receive("news") == ({"n": 1}, "two")
    await b.server.emit("bin", b"\x00\x01")
    assert await on_a.receive("bin") == b"\x00\x01"


async def test_room_emit_reaches_members_on_every_node_and_nobody_else(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    in_a = await connect(a, "ann", rooms=("r1",))
    in_b = await connect(b, "bob", rooms=("r1",))
    out_b = await connect(b, "carl", rooms=("r2",))
    await a.server.to("r1").emit("room", "hi")
    assert await in_a.receive("room") == "hi"
    assert await in_b.receive("room") == "hi"
    # a union of rooms, emitted from the other node
    await b.server.to("r1").to("r2").emit("union", 1)
    for c in (in_a, in_b, out_b):
        assert await c.receive("union") == 1
    assert await out_b.nothing("room")


async def test_socket_to_room_reaches_other_nodes_but_not_the_sender(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    sender = await connect(a, "ann", rooms=("r1",))
    peer_a = await connect(a, "amy", rooms=("r1",))
    peer_b = await connect(b, "bob", rooms=("r1",))
    assert await sender.call("relay", {"room": "r1", "text": "yo"}) is True
    assert await peer_a.receive("relayed") == "yo"
    assert await peer_b.receive("relayed") == "yo"
    assert await sender.nothing("relayed")


async def test_except_excludes_room_members_on_every_node(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    plain_a = await connect(a, "ann", rooms=("r1",))
    vip_a = await connect(a, "amy", rooms=("r1", "vip"))
    plain_b = await connect(b, "bob", rooms=("r1",))
    vip_b = await connect(b, "bea", rooms=("r1", "vip"))
    await a.server.to("r1").except_("vip").emit("plain", 1)
    assert await plain_a.receive("plain") == 1
    assert await plain_b.receive("plain") == 1
    # and without to(): the whole namespace except a room, from the other node
    await b.server.except_("vip").emit("all-but-vip", 2)
    assert await plain_a.receive("all-but-vip") == 2
    assert await plain_b.receive("all-but-vip") == 2
    assert await vip_a.nothing("plain", 0.1) and await vip_b.nothing("plain", 0.1)
    assert await vip_a.nothing("all-but-vip", 0.1) and await vip_b.nothing("all-but-vip", 0.1)


async def test_fetch_sockets_returns_sockets_of_every_node_with_rooms_and_data(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    ann = await connect(a, "ann", rooms=("r1",))
    bob = await connect(b, "bob", rooms=("r1", "vip"))
    carl = await connect(b, "carl")

    found = await a.server.fetch_sockets()
    by_id = {s.id: s for s in found}
    assert set(by_id) == {ann.sid, bob.sid, carl.sid}
    assert isinstance(by_id[ann.sid], Socket)
    remote = by_id[bob.sid]
    assert isinstance(remote, RemoteSocket)
    assert remote.namespace == "/chat"
    assert remote.rooms == {bob.sid, "r1", "vip"}
    assert remote.data == {"user": "bob"}
    assert remote.handshake.auth == {"user": "bob"}
    assert remote.handshake.address == "127.0.0.1"
    assert remote.handshake.issued > 0 and remote.handshake.time.endswith("Z")
    assert "/socket.io/" in remote.handshake.url and not remote.handshake.secure
    assert remote.node == b.adapter.managers[0].host_id  # type: ignore[attr-defined]

    in_r1 = await b.server.to("r1").fetch_sockets()
    assert {s.id for s in in_r1} == {ann.sid, bob.sid}
    assert {s.id for s in await a.server.except_("vip").fetch_sockets()} == {ann.sid, carl.sid}


async def test_socket_data_json_cannot_carry_arrives_as_its_repr(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    bob = await connect(b, "bob")
    assert await bob.call("stash") is True
    [remote] = await a.server.fetch_sockets()
    assert remote.data == {"user": "bob", "opaque": "<opaque>"}


async def test_disconnect_sockets_disconnects_on_every_node(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    ann = await connect(a, "ann", rooms=("gone",))
    bob = await connect(b, "bob", rooms=("gone",))
    stay = await connect(b, "carl")
    await a.server.to("gone").disconnect_sockets()
    # returns after every node has done it
    assert {s.id for s in await a.server.fetch_sockets()} == {stay.sid}
    await asyncio.wait_for(ann.disconnected.wait(), 2)
    await asyncio.wait_for(bob.disconnected.wait(), 2)
    assert stay.sio.connected
    await b.server.disconnect_sockets(close=True)
    await asyncio.wait_for(stay.disconnected.wait(), 2)


async def test_sockets_join_and_leave_act_on_every_node(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    ann = await connect(a, "ann", rooms=("r1",))
    bob = await connect(b, "bob", rooms=("r1",))
    carl = await connect(b, "carl")
    await a.server.to("r1").sockets_join(["team", "x"])
    await a.server.to("team").emit("team", 1)
    assert await ann.receive("team") == 1 and await bob.receive("team") == 1
    assert await carl.nothing("team")
    await b.server.sockets_leave("team")
    assert await a.server.to("team").fetch_sockets() == []
    assert {s.id for s in await b.server.to("x").fetch_sockets()} == {ann.sid, bob.sid}


async def test_remote_socket_methods_go_through_the_broker(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    bob = await connect(b, "bob")
    [remote] = [s for s in await a.server.fetch_sockets() if s.id == bob.sid]
    assert isinstance(remote, RemoteSocket)
    await remote.emit("direct", "only you", 2)
    assert await bob.receive("direct") == ("only you", 2)
    await remote.join("club")
    await a.server.to("club").emit("club", 1)
    assert await bob.receive("club") == 1
    await remote.leave("club")
    await until_rooms(a, bob.sid, lambda rooms: "club" not in rooms)
    await remote.disconnect()
    await asyncio.wait_for(bob.disconnected.wait(), 2)
    assert await a.server.fetch_sockets() == []


async def until_rooms(node: Node, sid: str, check: Any) -> None:
    """Wait until the socket *sid*'s rooms, as *node* fetches them, satisfy *check*."""
    async with within(2):
        while True:
            socks = [s for s in await node.server.fetch_sockets() if s.id == sid]
            if socks and check(socks[0].rooms):
                return
            await asyncio.sleep(0.02)


async def test_three_nodes_answer_one_query(kind: str, cluster: Cluster, connect: Connect) -> None:
    nodes = await cluster(kind, n=3)
    clients = [await connect(node, f"u{i}") for i, node in enumerate(nodes)]
    found = await nodes[1].server.fetch_sockets()
    assert sorted(s.id for s in found) == sorted(c.sid for c in clients)
    assert sorted(s.data["user"] for s in found) == ["u0", "u1", "u2"]


async def test_a_closed_node_leaves_the_cluster(
    kind: str, cluster: Cluster, connect: Connect
) -> None:
    a, b = await cluster(kind)
    await connect(b, "bob")
    await b.app.close()  # says goodbye: no need to wait for its heartbeat to time out
    await until(lambda: a.adapter.server_count() == 1)
    started = time.monotonic()
    assert await a.server.fetch_sockets() == []
    assert time.monotonic() - started < 1.0  # nobody left to wait for


async def test_query_times_out_when_a_node_does_not_answer(
    kind: str, cluster: Cluster, connect: Connect, channel: str
) -> None:
    """A subscriber that never answers: fetch_sockets() raises with the partial result."""
    [a] = await cluster(kind, n=1, request_timeout=0.3)
    ann = await connect(a, "ann")
    mute = await MuteNode.start(kind, channel)
    try:
        if kind == "amqp":  # RabbitMQ: the mute node is known from its heartbeat
            await until(lambda: a.adapter.server_count() == 2)
        started = time.monotonic()
        with pytest.raises(ClusterTimeoutError) as info:
            await a.server.fetch_sockets()
        assert 0.25 < time.monotonic() - started < 1.5
        err = info.value
        assert err.operation == "fetch_sockets" and err.expected == 1 and err.received == 0
        assert [s.id for s in err.partial] == [ann.sid]
        if kind == "amqp":
            assert err.missing == [mute.host_id]
        assert "did not answer within 0.3 s" in str(err)
        with pytest.raises(ClusterTimeoutError):
            await a.server.sockets_join("nowhere")
    finally:
        await mute.close()


class MuteNode:
    """Listens on the channel (and, on RabbitMQ, sends one heartbeat) but never answers."""

    def __init__(self, kind: str, closer: Any, host_id: str) -> None:
        self.kind = kind
        self._closer = closer
        self.host_id = host_id

    @classmethod
    async def start(cls, kind: str, channel: str) -> MuteNode:
        import json

        host_id = "mute" + "0" * 28
        if kind == "redis":
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
            pubsub = client.pubsub()
            await pubsub.subscribe(channel)

            async def close_redis() -> None:
                await pubsub.aclose()
                await client.aclose()

            return cls(kind, close_redis, host_id)
        import aio_pika

        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672//")
        ch = await connection.channel()
        exchange = await ch.declare_exchange(channel, aio_pika.ExchangeType.FANOUT)
        queue = await ch.declare_queue(exclusive=True)
        await queue.bind(exchange)
        beat = json.dumps({"method": "nestpy:heartbeat", "host_id": host_id}).encode()
        await exchange.publish(aio_pika.Message(body=beat), routing_key="*")
        return cls(kind, connection.close, host_id)

    async def close(self) -> None:
        await self._closer()
