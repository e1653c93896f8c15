"""docs/examples/messages.py behaves as docs/messages.md says, over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
import socketio
from test_docs_lifecycle import load

from nestpy import NestFactory

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
MODULES = ROOT / "examples" / "node_modules"


def client_installed() -> bool:
    return (MODULES / "socket.io-client").is_dir()


async def test_acks_arguments_responses_and_streams() -> None:
    ex = load("messages")
    app = await NestFactory.create(ex.AppModule)
    async with app:
        async with app.test_client("/shop") as client:
            assert await client.call("order", {"item": "tea", "quantity": 2}) == {
                "item": "tea", "quantity": 4,
            }
            assert await client.call("pair") == ("a", 1)
            assert await client.call("forget") is None
            assert await client.call("sum", 1, 2, 3) == 6
            assert await client.call("pick", {"item": "tea"}) == "TEA"
            bad = await client.call("order", {"item": "tea", "quantity": "many"})
            assert bad["message"] == [
                {"field": "quantity",
                 "error": "Input should be a valid integer, unable to parse string as an integer"}
            ]

            await client.emit("status")
            assert await client.receive("status", timeout=5) == {"state": "open"}

            await client.emit("export", {"rows": 3})
            assert [await client.receive("progress", timeout=5) for _ in range(3)] == [
                {"done": 1, "of": 3}, {"done": 2, "of": 3}, {"done": 3, "of": 3},
            ]
            assert await client.receive("exported", timeout=5) == {"rows": 3}

            assert await client.call("slow") == "accepted"


async def test_the_server_waits_for_the_clients_ack() -> None:
    ex = load("messages")
    app = await NestFactory.create(ex.AppModule)
    async with app:
        sio = socketio.AsyncClient()
        asked: list[Any] = []

        @sio.on("sure?", namespace="/shop")
        def sure(data: Any) -> str:
            asked.append(data)
            return "yes"

        await sio.connect(app.get_url(), namespaces=["/shop"])
        try:
            reply = await sio.call("confirm", None, namespace="/shop", timeout=5)
        finally:
            await sio.disconnect()
        assert asked == [{"question": "delete everything"}]
        assert reply == "client said yes"


@pytest.mark.interop
async def test_the_javascript_snippets() -> None:
    """docs/examples/messages_client.cjs (the page's JavaScript) against the same gateway."""
    if not client_installed():
        setup = await asyncio.create_subprocess_exec("bash", str(ROOT / "examples" / "setup.sh"))
        assert await setup.wait() == 0
    ex = load("messages")
    app = await NestFactory.create(ex.AppModule)
    async with app:
        node = await asyncio.create_subprocess_exec(
            "node", str(ROOT / "docs" / "examples" / "messages_client.cjs"), app.get_url(),
            env={**os.environ, "NODE_PATH": str(MODULES)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(node.communicate(), timeout=30)
    assert node.returncode == 0, err.decode()
    assert json.loads(out) == [
        {"item": "tea", "quantity": 4}, "1/3", "2/3", "3/3", {"rows": 3}, "client said yes",
    ]
