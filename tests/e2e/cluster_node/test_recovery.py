"""Connection state recovery in memory (one process), seen by the official socket.io-client:
same id, rooms and data back, missed broadcasts replayed in order once, ``recovered``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asyncio_compat import within
from cluster_node_support import WAIT, NodeProcess

from nestpy import Module, NestFactory
from nestpy.common import UseGuards
from nestpy.websockets import Server, Socket, SubscribeMessage, WebSocketGateway, WebSocketServer

pytestmark = [pytest.mark.e2e, pytest.mark.interop]


class OnlyAllowed:
    """A connection guard counting its calls (skipped on recovery by default)."""

    calls = 0

    def can_activate(self, context: Any) -> bool:
        OnlyAllowed.calls += 1
        return True


def make_gateway(options: dict[str, Any]) -> type:
    @WebSocketGateway(namespace="rec", connection_state_recovery=options)
    @UseGuards(OnlyAllowed)
    class RecoveryGateway:
        server: Server = WebSocketServer()

        def __init__(self) -> None:
            self.seen: list[tuple[str, bool]] = []
            self.gone: list[str] = []

        def handle_connection(self, client: Socket, *args: Any) -> None:
            self.seen.append((client.id, client.recovered))
            if not client.recovered:
                client.data["user"] = client.handshake.auth.get("user")

        def handle_disconnect(self, client: Socket) -> None:
            self.gone.append(client.id)

        @SubscribeMessage("join")
        async def join(self, client: Socket, room: str) -> bool:
            await client.join(room)
            return True

        @SubscribeMessage("whoami")
        def whoami(self, client: Socket, _: Any) -> dict[str, Any]:
            return {"id": client.id, "recovered": client.recovered,
                    "rooms": sorted(client.rooms), "data": client.data}

    return RecoveryGateway


@pytest.fixture
async def app_for() -> AsyncIterator[Any]:
    apps: list[Any] = []

    async def start(options: dict[str, Any]) -> tuple[Any, Any]:
        gateway = make_gateway(options)

        @Module(providers=[gateway])
        class RecoveryModule:
            pass

        app = await NestFactory.create(RecoveryModule)
        apps.append(app)
        await app.listen(0, "127.0.0.1")
        return app, app.get(gateway)

    yield start
    for app in apps:
        await app.close()


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


def payloads(received: list[list[Any]], event: str) -> list[Any]:
    """The first argument of each *event* received, checking each carried an offset."""
    out = []
    for entry in received:
        if entry[0] == event:
            assert isinstance(entry[-1], str) and len(entry) == 3  # [event, payload, offset]
            out.append(entry[1])
    return out


async def until(predicate: Any, timeout: float = WAIT) -> None:
    async with within(timeout):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.01)


async def test_reconnect_within_the_window_recovers_everything(app_for, js_client) -> None:
    app, gw = await app_for({"max_disconnection_duration": 60})
    url = app.url_for("/rec") + "/rec"
    client = await js_client()
    first = await client.call("connect", url=url, auth={"user": "ann"})
    assert first["recovered"] is False
    assert await client.call("call", event="join", arg="r1") is True
    other = await js_client()
    await other.call("connect", url=url, auth={"user": "bob"})
    guard_calls = OnlyAllowed.calls

    for n in (1, 2):
        await gw.server.emit("tick", n)
    await gw.server.to("r1").emit("room", "a")
    assert await client.call("cut") == "transport close"
    await until(lambda: first["id"] in gw.gone)
    # sent while the client is away: to everyone, to its room, to another room, excluding it
    for n in (3, 4):
        await gw.server.emit("tick", n)
    await gw.server.to("r1").emit("room", "b")
    await gw.server.to("elsewhere").emit("room", "not for ann")
    await gw.server.except_("r1").emit("tick", "not for ann")
    await gw.server.emit("tick", 5)

    again = await client.call("reconnect")
    assert again == {"id": first["id"], "recovered": True}
    assert gw.seen[-1] == (first["id"], True)
    assert OnlyAllowed.calls == guard_calls  # skip_middlewares (the default)
    me = await client.call("call", event="whoami", arg=None)
    assert me == {"id": first["id"], "recovered": True, "rooms": sorted([first["id"], "r1"]),
                  "data": {"user": "ann"}}
    await gw.server.emit("tick", 6)
    received = await client.call("received")
    async with within(WAIT):
        while payloads(received, "tick")[-1:] != [6]:
            await asyncio.sleep(0.02)
            received = await client.call("received")
    assert payloads(received, "tick") == [1, 2, 3, 4, 5, 6]  # in order, once each
    assert payloads(received, "room") == ["a", "b"]

    # the client closing Engine.IO itself ("transport close" on a Node server) recovers too
    assert await client.call("drop") == "forced close"
    await until(lambda: gw.gone.count(first["id"]) == 2)
    await gw.server.emit("tick", 7)
    assert await client.call("reconnect") == {"id": first["id"], "recovered": True}
    async with within(WAIT):
        while payloads(received, "tick")[-1:] != [7]:
            await asyncio.sleep(0.02)
            received = await client.call("received")
    assert payloads(received, "tick") == [1, 2, 3, 4, 5, 6, 7]


async def test_no_recovery_after_the_window_or_a_deliberate_disconnect(app_for, js_client) -> None:
    app, gw = await app_for({"max_disconnection_duration": 0.5, "skip_middlewares": False})
    url = app.url_for("/rec") + "/rec"
    client = await js_client()
    first = await client.call("connect", url=url, auth={"user": "ann"})
    await gw.server.emit("tick", 1)
    assert await client.call("drop") == "forced close"  # the client closes Engine.IO
    await until(lambda: first["id"] in gw.gone)
    await asyncio.sleep(0.7)  # past max_disconnection_duration: the session is gone
    late = await client.call("reconnect")
    assert late["recovered"] is False and late["id"] != first["id"]
    assert gw.seen[-1] == (late["id"], False)

    await gw.server.emit("tick", 2)
    guard_calls = OnlyAllowed.calls
    assert await client.call("leave") == "io client disconnect"  # not a recoverable reason
    await until(lambda: late["id"] in gw.gone)
    back = await client.call("reconnect")
    assert back["recovered"] is False and back["id"] != late["id"]
    assert OnlyAllowed.calls == guard_calls + 1
