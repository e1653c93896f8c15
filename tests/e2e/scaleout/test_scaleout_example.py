"""``examples/scaleout``: the app on two ports and the worker, each in its own process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import socketio
from scaleout_support import REDIS_URL
from throwaway_redis import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "scaleout"
ENV = {**os.environ, "NESTPY_LOG_FORMAT": "json", "NESTPY_LOG_LEVEL": "warning"}


async def start_node(port: int, channel: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE / "app.py"), "--port", str(port), "--channel", channel,
        "--broker", REDIS_URL, stdout=asyncio.subprocess.PIPE, env=ENV,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 20)
    assert line.startswith(b"READY http://127.0.0.1:"), line
    return proc


@pytest.fixture
async def nodes(channel: str) -> AsyncIterator[list[int]]:
    ports = [free_port(), free_port()]
    procs = await asyncio.gather(*(start_node(p, channel) for p in ports))
    try:
        yield ports
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_example_runs_as_one_server_on_two_ports(nodes: list[int], channel: str) -> None:
    clients: list[socketio.AsyncClient] = []
    said: list[asyncio.Queue[dict[str, str]]] = []
    gone: list[asyncio.Event] = []
    for port, name in zip(nodes, ("ann", "bob"), strict=True):
        client = socketio.AsyncClient(reconnection=False)
        inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        left = asyncio.Event()
        client.on("said", inbox.put_nowait, namespace="/chat")
        client.on("disconnect", lambda *_, left=left: left.set(), namespace="/chat")
        await client.connect(
            f"http://127.0.0.1:{port}", namespaces=["/chat"], transports=["websocket"],
            auth={"name": name},
        )
        await client.call("join", {"room": "lobby"}, namespace="/chat", timeout=5)
        clients.append(client)
        said.append(inbox)
        gone.append(left)
    try:
        await clients[0].emit("say", {"room": "lobby", "text": "hi"}, namespace="/chat")
        for inbox in said:
            msg = await asyncio.wait_for(inbox.get(), 5)
            assert msg == {"room": "lobby", "from": "ann", "text": "hi"}

        members = await clients[1].call("who", {"room": "lobby"}, namespace="/chat", timeout=5)
        assert sorted(members, key=lambda m: m["name"]) == [
            {"name": "ann", "node": f"node-{nodes[0]}"},
            {"name": "bob", "node": f"node-{nodes[1]}"},
        ]

        worker = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLE / "worker.py"), "--channel", channel, "--room", "lobby",
            "--text", "deployed", "--broker", REDIS_URL, env=ENV,
        )
        assert await asyncio.wait_for(worker.wait(), 20) == 0
        for inbox in said:
            msg = await asyncio.wait_for(inbox.get(), 5)
            assert msg == {"room": "lobby", "from": "worker", "text": "deployed"}

        assert await clients[0].call("kick", {"room": "lobby"}, namespace="/chat", timeout=5)
        await asyncio.wait_for(gone[1].wait(), 5)  # bob, on the other node
        assert clients[0].connected
    finally:
        for client in clients:
            if client.connected:
                await client.disconnect()
