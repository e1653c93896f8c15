"""Interop with Node's ``ws`` package (npm): the client most Node services and many
game/IoT bridges use, against a real nestpy plain gateway."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from plainws_apps import MixedModule
from plainws_helpers import Start

pytestmark = [pytest.mark.interop, pytest.mark.e2e]

NODE_DIR = Path(__file__).resolve().parent / "node"


def ensure_ws() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.fail("the interop tests need Node >= 20 and npm on PATH (or run -m 'not interop')")
    done = subprocess.run(["bash", str(NODE_DIR / "setup.sh")], capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"{NODE_DIR}/setup.sh failed:\n{done.stdout}\n{done.stderr}")
    return node


@pytest.mark.allow_errors  # the Node client triggers a handler error on purpose
async def test_node_ws_client(start: Start) -> None:
    node = ensure_ws()
    app = await start(MixedModule)
    url = app.get_url().replace("http://", "ws://")
    proc = await asyncio.create_subprocess_exec(
        node, str(NODE_DIR / "ws_client.mjs"), url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    r = json.loads(out.decode().strip().splitlines()[-1])
    assert r["echo"] == {"n": 1}
    assert r["ping"] == {"event": "pong", "data": "p"}
    assert r["whoami"]["id"] == "w1" and r["whoami"]["data"]["name"] == "node"
    assert r["malformed"] == {"event": "exception",
                              "data": {"status": "error", "message": "Malformed JSON frame"}}
    assert r["boom"] == {"event": "exception", "id": 5, "data": {
        "status": "error", "message": "Internal server error",
        "cause": {"pattern": "boom", "data": 2}}}
    assert r["count"] == [0, 1, {"event": "done", "data": 2}]
    assert r["shout"] == {"event": "shouted", "data": "to node"}
    assert r["origin"] == "HTTP 403"
    assert r["oversized"][0] == 1009  # default max_message_size: 1 MB
    assert r["kicked"] == [4000, "kicked"]
