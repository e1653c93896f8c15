"""The ``Socket`` and ``Server`` wrappers (DESIGN.md "Gateways"), over real sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import pytest
from core_client import Client, Connect, Start

from nestpy import Module, NestApplication
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)

pytestmark = pytest.mark.e2e

Sock = Annotated[Socket, ConnectedSocket()]


@WebSocketGateway(namespace="api")
class ApiGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("join")
    async def join(self, client: Sock, room: Annotated[str, MessageBody()]) -> list[str]:
        await client.join(room)
        return sorted(client.rooms)

    @SubscribeMessage("join_many")
    async def join_many(self, client: Sock, rooms: Annotated[list[str], MessageBody()]) -> None:
        await client.join(rooms)

    @SubscribeMessage("leave")
    async def leave(self, client: Sock, room: Annotated[str, MessageBody()]) -> list[str]:
        await client.leave(room)
        return sorted(client.rooms)

    @SubscribeMessage("say_to")
    async def say_to(self, client: Sock, body: Annotated[dict[str, str], MessageBody()]) -> None:
        await client.to(body["room"]).emit("said", body["text"])

    @SubscribeMessage("broadcast")
    async def broadcast(self, client: Sock, text: Annotated[str, MessageBody()]) -> None:
        await client.broadcast.emit("said", text)

    @SubscribeMessage("except")
    async def except_(self, client: Sock, room: Annotated[str, MessageBody()]) -> None:
        await client.except_(room).emit("said", f"not {room}")

    @SubscribeMessage("bye")
    async def bye(self, client: Sock) -> None:
        await client.disconnect()

    @SubscribeMessage("set_name")
    def set_name(self, client: Sock, name: Annotated[str, MessageBody()]) -> None:
        client.data["name"] = name

    @SubscribeMessage("get_name")
    def get_name(self, client: Sock) -> Any:
        return client.data.get("name")

    @SubscribeMessage("handshake")
    def handshake(self, client: Sock) -> dict[str, Any]:
        hs = client.handshake
        return {
            "header": hs.headers.get("x-nestpy-test"),
            "query": hs.query,
            "auth": hs.auth,
            "address": hs.address,
            "issued": hs.issued,
            "time": hs.time,
        }

    @SubscribeMessage("ask")
    async def ask(self, client: Sock, body: Annotated[dict[str, Any], MessageBody()]) -> Any:
        try:
            answer = await client.emit_with_ack("question", body["n"], timeout=body["timeout"])
        except TimeoutError as exc:
            return {"timeout": str(exc)}
        return {"answer": answer}


@Module(providers=[ApiGateway])
class ApiModule: ...


@pytest.fixture
async def app(start: Start) -> NestApplication:
    return await start(ApiModule)


@pytest.fixture
def server(app: NestApplication) -> Server:
    return app.get(ApiGateway).server  # type: ignore[no-any-return]


async def clients(connect: Connect, app: NestApplication, n: int) -> list[Client]:
    """*n* clients on /api, alternating websocket and polling."""
    return [
        await connect(app, "/api", ["websocket" if i % 2 == 0 else "polling"]) for i in range(n)
    ]


async def test_join_leave_and_rooms(app: NestApplication, connect: Connect) -> None:
    (a,) = await clients(connect, app, 1)
    assert await a.call("join", "red") == sorted([a.sid, "red"])
    await a.call("join_many", ["green", "blue"])
    assert await a.call("join", "red") == sorted([a.sid, "red", "green", "blue"])
    assert await a.call("leave", "red") == sorted([a.sid, "green", "blue"])


async def test_socket_to_room_excludes_the_sender(
    app: NestApplication, connect: Connect
) -> None:
    a, b, c = await clients(connect, app, 3)
    for x in (a, b):
        await x.call("join", "red")
    await a.emit("say_to", {"room": "red", "text": "hi red"})
    assert await b.receive("said") == "hi red"
    assert await a.nothing("said")
    assert await c.nothing("said", wait=0.01)  # not in the room


async def test_socket_broadcast_reaches_everyone_but_the_sender(
    app: NestApplication, connect: Connect
) -> None:
    a, b, c = await clients(connect, app, 3)
    await a.emit("broadcast", "all of you")
    assert await b.receive("said") == "all of you"
    assert await c.receive("said") == "all of you"
    assert await a.nothing("said")


async def test_socket_except_room(app: NestApplication, connect: Connect) -> None:
    a, b, c = await clients(connect, app, 3)
    await b.call("join", "blue")
    await a.emit("except", "blue")
    assert await c.receive("said") == "not blue"
    assert await b.nothing("said")
    assert await a.nothing("said", wait=0.01)


async def test_server_emit_to_and_except(
    app: NestApplication, server: Server, connect: Connect
) -> None:
    a, b, c = await clients(connect, app, 3)
    await a.call("join", "red")
    await b.call("join", "blue")
    await server.emit("news", "everyone")
    assert [await x.receive("news") for x in (a, b, c)] == ["everyone"] * 3
    await server.to("red").emit("news", "red only")
    assert await a.receive("news") == "red only"
    await server.in_("red").to("blue").emit("news", "red or blue")  # rooms accumulate
    assert [await x.receive("news") for x in (a, b)] == ["red or blue"] * 2
    await server.except_("red").emit("news", "not red")
    assert [await x.receive("news") for x in (b, c)] == ["not red"] * 2
    await server.emit("news", "several", 2)  # several arguments stay several
    assert [await x.receive("news") for x in (a, b, c)] == [("several", 2)] * 3
    for x in (a, b, c):
        assert await x.nothing("news", wait=0.05)


async def test_fetch_sockets(app: NestApplication, server: Server, connect: Connect) -> None:
    a, b, c = await clients(connect, app, 3)
    await a.call("join", "red")
    await b.call("join", "red")
    everyone = await server.fetch_sockets()
    assert sorted(s.id for s in everyone) == sorted([a.sid, b.sid, c.sid])
    assert all(isinstance(s, Socket) and s.namespace == "/api" for s in everyone)
    assert sorted(s.id for s in await server.to("red").fetch_sockets()) == sorted([a.sid, b.sid])
    assert [s.id for s in await server.except_("red").fetch_sockets()] == [c.sid]
    assert set(server.sockets) == {a.sid, b.sid, c.sid}


async def test_disconnect_sockets_of_a_room(
    app: NestApplication, server: Server, connect: Connect
) -> None:
    a, b, c = await clients(connect, app, 3)
    await a.call("join", "red")
    await b.call("join", "red")
    await server.to("red").disconnect_sockets()
    await asyncio.wait_for(a.disconnects.get(), 1)
    await asyncio.wait_for(b.disconnects.get(), 1)
    assert await c.call("get_name") is None  # c is still connected and served
    assert [s.id for s in await server.fetch_sockets()] == [c.sid]
    await server.disconnect_sockets(close=True)
    await asyncio.wait_for(c.disconnects.get(), 1)


async def test_sockets_join_and_leave(
    app: NestApplication, server: Server, connect: Connect
) -> None:
    a, b, c = await clients(connect, app, 3)
    await c.call("join", "vip")
    await server.except_("vip").sockets_join("crowd")
    await server.to("crowd").emit("news", "crowd")
    assert [await x.receive("news") for x in (a, b)] == ["crowd"] * 2
    assert await c.nothing("news")
    await server.sockets_leave("crowd")
    await server.to("crowd").emit("news", "nobody")
    assert await a.nothing("news") and await b.nothing("news", wait=0.01)


async def test_emit_with_ack_round_trip(app: NestApplication, connect: Connect) -> None:
    (a,) = await clients(connect, app, 1)
    a.sio.on("question", lambda n: n + 1, namespace="/api")
    assert await a.call("ask", {"n": 41, "timeout": 1}) == {"answer": 42}
    # Acked with several arguments: the server receives them as a tuple (a list over JSON).
    a.sio.on("question", lambda n: (n, "and more"), namespace="/api")
    assert await a.call("ask", {"n": 1, "timeout": 1}) == {"answer": [1, "and more"]}


async def test_emit_with_ack_times_out(app: NestApplication, connect: Connect) -> None:
    (a,) = await clients(connect, app, 1)

    async def slow(n: int) -> int:
        await asyncio.sleep(0.5)
        return n

    a.sio.on("question", slow, namespace="/api")
    reply = await a.call("ask", {"n": 1, "timeout": 0.1})
    assert reply["timeout"] == f"client {a.sid} did not acknowledge 'question' within 0.1s"


async def test_handshake_headers_query_auth_address(
    app: NestApplication, connect: Connect
) -> None:
    url = app.url_for("/api") + "/?tenant=acme&x=1"
    for transport in ("websocket", "polling"):
        c = await connect(
            url, "/api", [transport], headers={"X-Nestpy-Test": "yes"}, auth={"token": "t0k"}
        )
        hs = await c.call("handshake")
        assert hs["header"] == "yes"
        assert hs["query"]["tenant"] == "acme" and hs["query"]["x"] == "1"
        assert hs["query"]["transport"] == transport  # Engine.IO's own parameters are there
        assert hs["auth"] == {"token": "t0k"}
        assert hs["address"] == "127.0.0.1"
        assert abs(hs["issued"] / 1000 - time.time()) < 5
        assert hs["time"].endswith("Z")


async def test_data_is_per_connection(app: NestApplication, connect: Connect) -> None:
    a, b = await clients(connect, app, 2)
    await a.call("set_name", "alice")
    await b.call("set_name", "bob")
    assert (await a.call("get_name"), await b.call("get_name")) == ("alice", "bob")
    # A new connection starts with an empty dict.
    (c,) = await clients(connect, app, 1)
    assert await c.call("get_name") is None


async def test_socket_disconnect_from_a_handler(
    app: NestApplication, server: Server, connect: Connect
) -> None:
    a, b = await clients(connect, app, 2)
    await a.emit("bye")
    reason = await asyncio.wait_for(a.disconnects.get(), 1)
    assert reason == "server disconnect"  # python-socketio client's name for it
    assert not a.sio.connected
    assert await b.call("get_name") is None
    assert [s.id for s in await server.fetch_sockets()] == [b.sid]
