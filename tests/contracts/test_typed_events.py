"""Server events declared once as a Protocol: mypy checks ``emit(Events.x, payload)``, and
the same calls put the right event names on the wire."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Protocol, TypedDict

import pytest
import socketio

from nestpy import Module
from nestpy.testing import Test
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = '''
from typing import Annotated, Protocol, TypedDict

from nestpy.websockets import ConnectedSocket, Server, Socket, SubscribeMessage, WebSocketGateway
from nestpy.websockets import WebSocketServer


class Joined(TypedDict):
    room: str


class Events(Protocol):
    async def joined(self, event: Joined, /) -> None: ...
    async def moved(self, sid: str, x: int, /) -> None: ...
    async def ping(self, n: int, /) -> bool: ...


class Other(Protocol):
    async def unrelated(self, n: int, /) -> None: ...


@WebSocketGateway(namespace="typed")
class G:
    server: Server[Events] = WebSocketServer()

    @SubscribeMessage("go")
    async def go(self, client: Annotated[Socket[Events], ConnectedSocket()]) -> bool:
        await self.server.emit(Events.joined, {"room": "a"})
        await self.server.to("r").except_("s").emit(Events.moved, "sid", 3)
        await client.broadcast.emit(Events.joined, {"room": "b"})
        await self.server.emit("anything", 1, 2, 3)
        ok: bool = await client.emit_with_ack(Events.ping, 1)
        await self.server.emit(Events.joined, {"room": 1})  # ERR wrong field type
        await self.server.emit(Events.joined, {"rom": "a"})  # ERR unknown key
        await self.server.emit(Events.moved, "sid")  # ERR missing argument
        await client.to("r").emit(Events.moved, 3, 3)  # ERR wrong argument type
        await self.server.emit(Other.unrelated, 1)  # ERR another gateway's event
        n: int = await client.emit_with_ack(Events.joined, {"room": "a"})  # ERR ack type
        return ok
'''


def test_mypy_checks_typed_emits(tmp_path: Path) -> None:
    source = tmp_path / "typed_gateway.py"
    source.write_text(PROGRAM, encoding="utf-8")
    # run from the repository (its mypy settings, and the cache CI's own mypy run warmed)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(source)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    errors = {int(m.group(1)) for m in re.finditer(r"typed_gateway\.py:(\d+): error", done.stdout)}
    marked = {i for i, line in enumerate(PROGRAM.splitlines(), 1) if "# ERR" in line}
    assert errors == marked, done.stdout


class Moved(TypedDict):
    x: int


class Events(Protocol):
    async def moved(self, event: Moved, /) -> None: ...
    async def ping(self, n: int, /) -> str: ...


@WebSocketGateway(namespace="typed")
class TypedGateway:
    server: Server[Events] = WebSocketServer()

    @SubscribeMessage("go")
    async def go(
        self, x: Annotated[int, MessageBody()], client: Annotated[Socket[Events], ConnectedSocket()]
    ) -> str:
        await self.server.emit(Events.moved, {"x": x})
        return await client.emit_with_ack(Events.ping, x)

    @SubscribeMessage("bad")
    async def bad(self, client: Annotated[Socket[Events], ConnectedSocket()]) -> str:
        try:
            await client.emit(Events.moved, data={"x": 1})  # type: ignore[call-arg]
        except TypeError as exc:
            return str(exc)
        return "no error"


@Module(providers=[TypedGateway])
class TypedModule: ...


@pytest.mark.e2e
async def test_typed_emits_send_the_method_names() -> None:
    module = await Test.create_testing_module(imports=[TypedModule]).compile()
    async with module.create_nest_application() as app:
        client = socketio.AsyncClient(reconnection=False)
        moved: list[object] = []
        client.on("moved", moved.append, namespace="/typed")
        client.on("ping", lambda n: f"pong {n}", namespace="/typed")
        await client.connect(app.get_url(), namespaces=["/typed"], transports=["websocket"])
        try:
            assert await client.call("go", 7, namespace="/typed", timeout=5) == "pong 7"
            assert moved == [{"x": 7}]
            message = await client.call("bad", namespace="/typed", timeout=5)
            assert "event arguments are positional" in message
        finally:
            await client.disconnect()
