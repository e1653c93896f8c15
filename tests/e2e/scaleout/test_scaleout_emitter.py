"""``Emitter``: a process that serves no clients emits to every node of the cluster."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

import pytest
from scaleout_support import AMQP_URL, REDIS_URL, Cluster, Connect, Node, until

from nestpy.websockets.emitter import Emitter

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


async def test_emitter_reaches_clients_on_every_node(
    kind: str, cluster: Cluster, connect: Connect, channel: str
) -> None:
    a, b = await cluster(kind)
    ann = await connect(a, "ann", rooms=("r1",))
    bob = await connect(b, "bob", rooms=("r1", "vip"))
    carl = await connect(b, "carl")
    async with Emitter(REDIS_URL if kind == "redis" else AMQP_URL, channel) as emitter:
        await emitter.of("/chat").emit("all", {"x": 1})
        for c in (ann, bob, carl):
            assert await c.receive("all") == {"x": 1}
        await emitter.of("chat").to("r1").emit("room", "r1", b"\x01")
        assert await ann.receive("room") == ("r1", b"\x01")
        assert await bob.receive("room") == ("r1", b"\x01")
        await emitter.of("/chat").to("r1").except_("vip").emit("plain")
        assert await ann.receive("plain") == ()
        assert await carl.nothing("room", 0.05) and await carl.nothing("plain", 0.05)
        assert await bob.nothing("plain", 0.1)


async def test_emitter_room_operations_act_on_every_node(
    kind: str, cluster: Cluster, connect: Connect, channel: str
) -> None:
    a, b = await cluster(kind)
    ann = await connect(a, "ann", rooms=("r1",))
    bob = await connect(b, "bob", rooms=("r1",))
    carl = await connect(b, "carl")
    async with Emitter(REDIS_URL if kind == "redis" else AMQP_URL, channel) as emitter:
        await emitter.of("/chat").to("r1").sockets_join("team")
        await until_members(a, "team", {ann.sid, bob.sid})
        await emitter.of("/chat").to("team").emit("team", 1)
        assert await ann.receive("team") == 1 and await bob.receive("team") == 1
        await emitter.of("/chat").sockets_leave("team")
        await until_members(b, "team", set())
        await emitter.of("/chat").except_("r1").disconnect_sockets()
        await asyncio.wait_for(carl.disconnected.wait(), 2)
        assert ann.sio.connected and bob.sio.connected


async def until_members(node: Node, room: str, sids: set[str]) -> None:
    """Wait until *room* holds exactly *sids* across the cluster."""

    async def check() -> bool:
        return {s.id for s in await node.server.to(room).fetch_sockets()} == sids

    await until(check)


@pytest.mark.redis
async def test_emitter_in_another_process_reaches_every_node(
    cluster: Cluster, connect: Connect, channel: str
) -> None:
    a, b = await cluster("redis")
    ann = await connect(a, "ann", rooms=("r1",))
    bob = await connect(b, "bob", rooms=("r1",))
    script = textwrap.dedent(f"""
        import asyncio
        from nestpy.websockets.emitter import Emitter

        async def main():
            async with Emitter({REDIS_URL!r}, {channel!r}) as emitter:
                await emitter.of("/chat").to("r1").emit("from-worker", {{"pid": 1}})

        asyncio.run(main())
    """)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, env={**os.environ, "NESTPY_LOG_FORMAT": "json"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert await ann.receive("from-worker") == {"pid": 1}
    assert await bob.receive("from-worker") == {"pid": 1}


def test_emitter_rejects_an_unknown_scheme_and_redacts_its_repr() -> None:
    with pytest.raises(ValueError, match="unsupported broker URL scheme 'http'"):
        Emitter("http://example.invalid/")
    emitter = Emitter("redis://user:hunter2@127.0.0.1:6379/0", "c")
    assert "hunter2" not in repr(emitter) and "***" in repr(emitter)
