"""Interop with Node's official ``socket.io-client`` (npm), over real sockets.

The nestpy app runs in this process on ephemeral ports; ``node_client.mjs`` runs in a
subprocess, exercises the scenarios and prints its results as JSON. ``setup.sh`` installs the
client into the git-ignored ``node_modules`` when it is missing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import pytest_asyncio

from nestpy import Module, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WsException,
    WsResponse,
)

pytestmark = [pytest.mark.interop, pytest.mark.e2e]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SEED = ROOT / "examples" / "channels" / "app.py"


def ensure_node_client() -> str:
    """The ``node`` executable, with socket.io-client installed next to this file."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.fail("the interop tests need Node >= 20 and npm on PATH (or run -m 'not interop')")
    if not (HERE / "node_modules" / "socket.io-client" / "package.json").exists():
        done = subprocess.run(
            ["bash", str(HERE / "setup.sh")], capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.fail(f"tests/interop/setup.sh failed:\n{done.stdout}\n{done.stderr}")
    return node


def load_seed_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("nestpy_seed_interop", SEED)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


Sock = Annotated[Socket, ConnectedSocket()]


@WebSocketGateway(namespace="interop")
class InteropGateway:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("several")
    def several(self) -> tuple[str, int, dict[str, bool]]:
        return ("a", 2, {"c": True})

    @SubscribeMessage("join")
    async def join(self, client: Sock, room: Annotated[str, MessageBody()]) -> bool:
        await client.join(room)
        return True

    @SubscribeMessage("say")
    async def say(self, client: Sock, body: Annotated[dict[str, str], MessageBody()]) -> None:
        await client.to(body["room"]).emit("room_msg", body["text"])

    @SubscribeMessage("binary")
    def binary(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data  # bytes (or a dict holding bytes) straight back

    @SubscribeMessage("push_bytes")
    def push_bytes(self, n: Annotated[int, MessageBody()]) -> WsResponse[bytes]:
        return WsResponse("bytes", bytes(range(250, 250 + n)))

    @SubscribeMessage("fail")
    def fail(self) -> None:
        raise WsException("nope from python")


@WebSocketGateway(namespace="refuse")
class RefusingGateway(OnGatewayConnection):
    def handle_connection(self, client: Socket, *args: Any) -> None:
        raise WsException({"message": "not welcome", "reason": "interop"})


@pytest.fixture(scope="module")
def node() -> str:
    return ensure_node_client()


@pytest.fixture(scope="module")
def seed() -> Any:
    return load_seed_module()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def results(node: str, seed: Any) -> AsyncIterator[dict[str, Any]]:
    """Serve the app in this process and run ``node_client.mjs`` against it once."""
    @Module(imports=[seed.AppModule], providers=[InteropGateway, RefusingGateway])
    class InteropModule: ...

    app = await NestFactory.create(InteropModule)
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    try:
        proc = await asyncio.create_subprocess_exec(
            node, str(HERE / "node_client.mjs"), app.url_for("/channels"), app.url_for(None),
            cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        yield json.loads(out.decode().strip().splitlines()[-1])
    finally:
        await app.close()


def test_seed_program_on_every_transport(results: dict[str, Any]) -> None:
    """ClientToServer → ServerToClient; the upgrade run starts polling and ends on websocket."""
    for label, transport in (
        ("websocket", "websocket"), ("polling", "polling"), ("upgrade", "websocket"),
    ):
        assert results[f"channels_{label}"] == {
            "text": "Hello Client!", "ack": [], "transport": transport,
        }, label


def test_ack_round_trips(results: dict[str, Any]) -> None:
    """A value, a tuple (several ack arguments), several emitted arguments (a list body)."""
    assert results["ack"] == {
        "single": {"n": 1, "list": [1, "two", None]},
        "several": ["a", 2, {"c": True}],
        "manyArgs": [1, 2, 3],
    }


def test_room_broadcast_between_node_clients(results: dict[str, Any]) -> None:
    assert results["room"] == {"b": "hi blue", "a": 0, "c": 0}


def test_binary_buffers_arrive_intact(results: dict[str, Any]) -> None:
    binary = results["binary"]
    assert binary["intact"] is True and binary["length"] == 70000
    assert binary["head"] == [(i * 7) % 256 for i in range(8)]
    assert binary["nested"] == {"name": "file.bin", "data": [0, 255, 1]}
    assert binary["pushed"] == [250, 251, 252, 253]


def test_refusal_is_a_connect_error_with_the_message(results: dict[str, Any]) -> None:
    assert results["refused"] == {
        "message": "not welcome", "data": {"message": "not welcome", "reason": "interop"},
    }


def test_exception_payload_and_error_ack(results: dict[str, Any]) -> None:
    expected = {
        "status": "error", "message": "nope from python",
        "cause": {"pattern": "fail", "data": {"why": "test"}},
    }
    assert results["exception"] == {"payload": expected, "acked": expected}
