"""Plain-WebSocket gateways over a real socket: frames, replies, ids, errors, rooms."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import aiohttp
import pytest
import socketio
from plainws_apps import AppWideModule, EventsGateway, MixedModule
from plainws_helpers import Open, Start, eventually

from nestpy import Module
from nestpy.testing.ws_client import WsCallError, WsTestClient
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsAdapter,
    WsClient,
    WsServer,
)

pytestmark = pytest.mark.e2e


async def test_return_values_are_sent_as_nestjs_does(start: Start, ws: Open) -> None:
    app = await start(MixedModule)
    c = await ws(app, "/events")
    await c.send("echo", {"a": [1, 2]})
    assert await c.receive() == {"a": [1, 2]}  # the value itself, as NestJS's WsAdapter
    await c.send("nothing", 1)  # None: nothing is sent
    await c.send("ping", "x")
    assert await c.receive() == {"event": "pong", "data": "x"}
    assert c.received() == []
    await c.send("greet", "ann")  # async handler with an injected provider
    assert await c.receive() == "hello ann"
    await c.send("model", {"room": "r", "size": 2})
    assert await c.receive() == {"room": "R", "size": 4}


async def test_ids_correlate_replies_and_errors(start: Start, ws: Open) -> None:
    app = await start(MixedModule)
    c = await ws(app, "/events")
    await c.send("echo", 5, id="r1")
    assert await c.receive() == {"event": "echo", "id": "r1", "data": 5}
    await c.send("nothing", None, id=7)
    assert await c.receive() == {"event": "nothing", "id": 7, "data": None}
    await c.send("refuse", {"x": 1}, id=8)
    assert await c.receive() == {"event": "exception", "id": 8, "data": {
        "status": "error", "message": "not allowed",
        "cause": {"pattern": "refuse", "data": {"x": 1}}}}
    assert await c.call("greet", "bo") == "hello bo"
    with pytest.raises(WsCallError) as err:
        await c.call("missing", 1)
    assert err.value.payload == {"status": "error", "message": "Unknown event 'missing'"}


@pytest.mark.allow_errors  # boom and unencodable are server errors on purpose
async def test_errors_are_exception_frames_and_the_connection_stays(
    start: Start, ws: Open
) -> None:
    app = await start(MixedModule)
    c = await ws(app, "/events")
    await c.send("boom", 1)
    assert await c.receive("exception") == {
        "status": "error", "message": "Internal server error",
        "cause": {"pattern": "boom", "data": 1}}
    await c.send("join", {"room": ""})
    frame = await c.receive("exception")
    assert frame["message"] == [
        {"field": "room", "error": "String should have at least 1 character"}]
    await c.send("number", {"n": "x"})
    assert (await c.receive("exception"))["message"] == (
        "Validation failed (numeric string is expected)")
    await c.send("number", {"n": "41"})
    assert await c.receive() == 42
    await c.send("unencodable", 1, id=3)
    # One encoder for both transports: an unencodable return is a handler error, answered
    # like any other (the cause included, as for Socket.IO gateways).
    assert await c.receive() == {"event": "exception", "id": 3, "data": {
        "status": "error", "message": "Internal server error",
        "cause": {"pattern": "unencodable", "data": 1}}}
    await c.send("echo", "still here")
    assert await c.receive() == "still here"


async def test_async_generators_send_each_item(start: Start, ws: Open) -> None:
    app = await start(MixedModule)
    c = await ws(app, "/events")
    await c.send("count", 3)
    assert [await c.receive() for _ in range(4)] == [0, 1, 2, {"event": "done", "data": 3}]
    await c.send("count", 2, id="s")
    frames = [await c.receive() for _ in range(3)]
    assert frames == [{"event": "count", "id": "s", "data": 0},
                      {"event": "count", "id": "s", "data": 1},
                      {"event": "done", "data": 2}]


async def test_malformed_frames_are_answered(start: Start, ws: Open) -> None:
    app = await start(MixedModule)
    c = await ws(app, "/events")
    await c.send_raw("{not json")
    assert await c.receive("exception") == {"status": "error", "message": "Malformed JSON frame"}
    await c.send_raw('{"data": 1, "id": 9}')
    assert await c.receive() == {"event": "exception", "id": 9, "data": {
        "status": "error", "message": 'A frame needs a non-empty string "event"'}}
    await c.send_raw("[1, 2]")
    assert (await c.receive("exception"))["message"].startswith("A frame must be a JSON object")
    await c.send_raw(b"\x00\x01")
    assert await c.receive("exception") == {
        "status": "error", "message": "Binary frames need a message_parser on this gateway"}
    await c.send("unknown", 1)  # ignored, as NestJS does
    await c.send("echo", "ok")
    assert await c.receive() == "ok"
    assert not c.closed


async def test_lifecycle_hooks_and_handshake(start: Start, ws: Open) -> None:
    app = await start(MixedModule)
    gw = app.get(EventsGateway)
    assert gw.initialised is not None and gw.initialised.path == "/events"
    c = await ws(app, "/events", query={"name": "zoe"})
    info = await c.call("whoami")
    assert info["name"] == "zoe"
    assert gw.connected == [(info["id"], "/events")]
    assert set(gw.server.clients) == {info["id"]}
    await c.disconnect()
    await eventually(lambda: gw.disconnected == [info["id"]])
    assert gw.reasons == ["client disconnect"]
    assert gw.server.clients == {}


async def test_rooms_and_broadcast(start: Start, ws: Open) -> None:
    app = await start(MixedModule)
    clients = [await ws(app, "/events") for _ in range(3)]
    a, b, outsider = clients
    assert await a.call("join", {"room": "blue"}) == {"joined": "blue", "size": 1}
    assert await b.call("join", {"room": "blue"}) == {"joined": "blue", "size": 1}
    await outsider.send("shout", {"room": "blue", "text": "hi blue"})
    assert await a.receive("shouted") == "hi blue"
    assert await b.receive("shouted") == "hi blue"
    await outsider.send("all", 1)
    for c in clients:
        assert await c.receive("everyone") == 1
    assert outsider.received() == []  # not in blue



@WebSocketGateway(path="/lobby", adapter=WsAdapter)
class LobbyGateway:
    """Rooms and the server's broadcast operators, driven by the clients."""

    server: WsServer = WebSocketServer()

    @SubscribeMessage("join")
    async def join(self, rooms: Annotated[list[str], MessageBody()],
                   client: Annotated[WsClient, ConnectedSocket()]) -> str:
        for room in rooms:
            await client.join(room)
        return repr(client)

    @SubscribeMessage("leave")
    async def leave(self, room: Annotated[str, MessageBody()],
                    client: Annotated[WsClient, ConnectedSocket()]) -> list[str]:
        await client.leave(room)
        return sorted(client.rooms)

    @SubscribeMessage("shout")
    async def shout(self, text: Annotated[str, MessageBody()]) -> None:
        await self.server.to("a").in_("b").except_("muted").broadcast("news", text)
        await self.server.except_("a").to("c").broadcast_raw('{"event": "raw", "data": 1}')
        await self.server.broadcast("marker", text)

    @SubscribeMessage("kick")
    async def kick(self, client: Annotated[WsClient, ConnectedSocket()]) -> None:
        await client.close(4001, "kicked")
        await client.close(4002, "twice")  # already closed: nothing more is sent

    @SubscribeMessage("close-all")
    async def close_all(self) -> None:
        await self.server.close_all(4000, "bye")


@Module(providers=[LobbyGateway])
class LobbyModule:
    pass


async def test_broadcast_operators_target_rooms_and_leave_out_excepted_ones(
    start: Start, ws: Open
) -> None:
    app = await start(LobbyModule)
    in_a, in_b_muted, in_c, left_a = [await ws(app, "/lobby") for _ in range(4)]
    assert (await in_a.call("join", ["a"])).startswith("WsClient(id=")
    await in_b_muted.call("join", ["b", "muted"])
    await in_c.call("join", ["c"])
    await left_a.call("join", ["a", "c"])
    assert await left_a.call("leave", "a") == ["c"]
    await in_a.send("shout", "hello")
    # each client's frames arrive in order: what comes before "marker" is all it was sent
    assert [await in_a.receive() for _ in range(2)] == [
        {"event": "news", "data": "hello"}, {"event": "marker", "data": "hello"}]
    assert await in_b_muted.receive() == {"event": "marker", "data": "hello"}
    for client in (in_c, left_a):
        assert [await client.receive() for _ in range(2)] == [
            {"event": "raw", "data": 1}, {"event": "marker", "data": "hello"}]


async def test_a_client_closed_twice_sees_the_first_close_and_close_all_reaches_everyone(
    start: Start, ws: Open
) -> None:
    app = await start(LobbyModule)
    kicked, others = await ws(app, "/lobby"), [await ws(app, "/lobby") for _ in range(2)]
    await kicked.send("kick")
    assert await kicked.wait_closed() == 4001
    await others[0].send("close-all")
    for client in others:
        assert await client.wait_closed() == 4000

async def test_both_transports_and_several_paths_share_one_port(
    start: Start, ws: Open
) -> None:
    app = await start(MixedModule)
    url = app.get_url()
    events = await ws(app, "/events")
    other = await ws(app, "/other")
    own = await ws(app, "/own")
    assert app.url_for(4999) != url  # its own port
    assert await events.call("echo", 1) == 1
    assert await other.call("echo", 1) == {"other": 1}
    assert await own.call("echo", 1) == {"own": 1}
    sio = socketio.AsyncClient()
    try:
        await sio.connect(url, namespaces=["/chat"], transports=["websocket"])
        assert await sio.call("echo", 2, namespace="/chat", timeout=5) == {"sio": 2}
    finally:
        await sio.disconnect()


async def test_app_wide_adapter_makes_every_gateway_plain(start: Start, ws: Open) -> None:
    app = await start(AppWideModule, adapter=WsAdapter)
    c = await ws(app, "/")
    assert await c.call("echo", [1]) == [1]


async def test_server_close_code_and_graceful_shutdown(start: Start, ws: Open) -> None:
    app = await start(MixedModule)
    gw = app.get(EventsGateway)
    kicked = await ws(app, "/events")
    await kicked.send("kick")
    assert await kicked.wait_closed() == 4000
    stays = await ws(app, "/events")
    await app.close()
    assert await stays.wait_closed() == 1001
    assert gw.reasons == ["server disconnect", "server disconnect"]


async def test_origin_is_closed_by_default(start: Start) -> None:
    app = await start(MixedModule)
    bad = app.test_client(path="/events", adapter="ws", headers={"Origin": "http://evil.test"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await bad.connect()
    assert refused.value.status == 403
    same = app.url_for(None).replace("http://", "")
    good = WsTestClient(app.url_for(None).replace("http", "ws") + "/events",
                        headers={"Origin": f"http://{same}"})
    async with good:
        assert await good.call("echo", 1) == 1



@WebSocketGateway(path="/listed", adapter=WsAdapter, cors={"origin": ["https://a.test"]})
class ListedOrigins:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data


@WebSocketGateway(path="/one", adapter=WsAdapter, cors="https://b.test")
class OneOrigin:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data


@WebSocketGateway(path="/any", adapter=WsAdapter, cors=True)
class AnyOrigin:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data


@Module(providers=[ListedOrigins, OneOrigin, AnyOrigin])
class OriginsModule:
    pass


@pytest.mark.parametrize(
    ("path", "origin", "allowed"),
    [
        ("/listed", "https://a.test", True),
        ("/listed", "https://b.test", False),
        ("/one", "https://b.test", True),
        ("/one", "https://b.test.evil", False),
        ("/any", "http://anywhere.test", True),
    ],
)
async def test_cors_origins_as_a_list_a_string_or_anything(
    start: Start, path: str, origin: str, allowed: bool
) -> None:
    app = await start(OriginsModule)
    client = app.test_client(path=path, adapter="ws", headers={"Origin": origin})
    if not allowed:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.connect()
        assert refused.value.status == 403
        return
    async with client:
        assert await client.call("echo", origin) == origin


async def test_a_plain_http_request_to_a_websocket_path_is_told_to_upgrade(start: Start) -> None:
    app = await start(OriginsModule)
    async with aiohttp.ClientSession() as http, http.get(app.url_for(None) + "/any") as resp:
        assert resp.status == 426
        assert resp.headers["Upgrade"] == "websocket"
        assert await resp.text() == "expected a WebSocket upgrade"

async def test_a_client_vanishing_mid_handler(start: Start, ws: Open) -> None:
    app = await start(MixedModule)
    gw = app.get(EventsGateway)
    gone = await ws(app, "/events")
    other = await ws(app, "/events")
    await gone.send("wait", "v")
    await gone.disconnect()
    await eventually(lambda: len(gw.disconnected) == 1)
    gw.release.set()
    await eventually(lambda: gw.finished == ["v"])
    assert await other.call("echo", "fine") == "fine"
    await asyncio.sleep(0)


async def test_manual_ack_tuples_raw_frames_and_except(start: Start, ws: Open) -> None:
    app = await start(MixedModule)
    c = await ws(app, "/events")
    other = await ws(app, "/events")
    assert await c.call("manual", 1) == {"manual": 1}
    await c.send("manual", 2)
    assert await c.receive() == {"manual": 2}
    await c.send("pair", "x")
    assert await c.receive() == ["x", "x"]
    await c.send("raw")
    assert await c.receive() == "plain text"
    assert await c.receive() == b"\x01\x02"
    await c.send("others", "hey")
    assert await other.receive("from-other") == "hey"
    assert await c.call("echo", "sync") == "sync"  # the frame for c would have come first
    assert c.received() == []
