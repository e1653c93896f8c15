"""server.use middleware, broadcast acks with a timeout, unknown-event acks, raw handlers,
HTTP beside the gateways, and the testing client answering server acks (issue 10)."""

from __future__ import annotations

from typing import Annotated, Any

import aiohttp
import pytest
from aiohttp import web
from hardening_support import Serve, eventually

from nestpy import Module, NestApplication
from nestpy.common import UseGuards
from nestpy.testing import ConnectionRefused
from nestpy.websockets import (
    AckTimeoutError,
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    OnGatewayInit,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsException,
)

pytestmark = pytest.mark.e2e

calls: list[str] = []


class RecordingGuard:
    def can_activate(self, context: Any) -> bool:
        calls.append("guard")
        return True


@UseGuards(RecordingGuard)
@WebSocketGateway(namespace="mw")
class MiddlewareGateway(OnGatewayInit, OnGatewayConnection):
    server: Server = WebSocketServer()

    def after_init(self, server: Server) -> None:
        async def authenticate(client: Socket) -> None:
            calls.append("auth")
            token = client.handshake.auth.get("token")
            if token != "secret":
                raise WsException("invalid token")
            client.data["user"] = "ada"

        def second(client: Socket) -> bool:
            calls.append("second")
            return client.handshake.query.get("banned") != "1"

        server.use(authenticate).use(second)

    def handle_connection(self, client: Socket, *args: Any) -> None:
        calls.append("handle_connection")

    @SubscribeMessage("whoami")
    def whoami(self, client: Annotated[Socket, ConnectedSocket()]) -> str:
        return str(client.data["user"])


@Module(providers=[MiddlewareGateway])
class MiddlewareModule: ...


async def test_middleware_runs_before_guards_and_can_refuse(serve_app: Serve) -> None:
    app = await serve_app(MiddlewareModule)
    calls.clear()
    async with app.test_client("/mw", auth={"token": "secret"}) as client:
        assert await client.call("whoami") == "ada"
    assert calls[:4] == ["auth", "second", "guard", "handle_connection"]
    calls.clear()
    with pytest.raises(ConnectionRefused, match="invalid token"):
        await app.test_client("/mw", auth={"token": "nope"}).connect()
    assert calls == ["auth"]  # refused before the second middleware, guards and hooks
    with pytest.raises(ConnectionRefused, match="rejected by middleware"):
        await app.test_client("/mw", auth={"token": "secret"}, query={"banned": "1"}).connect()


@WebSocketGateway(namespace="acks")
class BroadcastGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("join")
    async def join(
        self, client: Annotated[Socket, ConnectedSocket()], room: Annotated[str, MessageBody()]
    ) -> bool:
        await client.join(room)
        return True

    @SubscribeMessage("poll")
    async def poll(self, room: Annotated[str | None, MessageBody()]) -> Any:
        target = self.server.timeout(0.5) if room is None else self.server.to(room).timeout(0.5)
        try:
            replies = await target.emit_with_ack("vote", {"q": "lunch?"})
        except AckTimeoutError as exc:
            return {"timeout": True, "responses": sorted(map(str, exc.responses)),
                    "expected": exc.expected}
        return {"timeout": False, "responses": sorted(map(str, replies))}

    @SubscribeMessage("poll_timeout_first")
    async def poll_timeout_first(self, room: Annotated[str, MessageBody()]) -> Any:
        replies = await self.server.timeout(2).to(room).emit_with_ack("vote", {"q": "x"})
        return sorted(map(str, replies))


@Module(providers=[BroadcastGateway])
class BroadcastModule: ...


async def test_broadcast_acks_gather_one_reply_per_client(serve_app: Serve) -> None:
    app = await serve_app(BroadcastModule)
    async with (
        app.test_client("/acks") as a,
        app.test_client("/acks") as b,
        app.test_client("/acks") as c,
    ):
        a.on("vote", lambda data: f"a:{data['q']}")

        @b.on("vote")
        async def vote_b(data: Any) -> str:
            return "b"

        c.on("vote", lambda data: ("c", 1))  # several ack arguments → a tuple
        reply = await c.call("poll", None, timeout=5)
        assert reply == {"timeout": False, "responses": sorted(["a:lunch?", "b", "('c', 1)"])}
        # Room forms, both orders: only the room's sockets are asked.
        await a.call("join", "r1")
        await b.call("join", "r1")
        assert await c.call("poll", "r1", timeout=5) == {
            "timeout": False, "responses": ["a:lunch?", "b"]
        }
        assert await c.call("poll_timeout_first", "r1", timeout=5) == ["a:x", "b"]


async def test_a_silent_client_raises_ack_timeout_with_partial_responses(serve_app: Serve) -> None:
    app = await serve_app(BroadcastModule)
    async with app.test_client("/acks") as a, app.test_client("/acks") as silent:
        a.on("vote", lambda data: "yes")
        silent.on("vote", lambda data: _never())  # an async handler that never returns
        reply = await a.call("poll", None, timeout=5)
        assert reply == {"timeout": True, "responses": ["yes"], "expected": 2}
        assert silent.received("vote") == [{"q": "lunch?"}]


async def _never() -> None:
    import asyncio

    await asyncio.Event().wait()


@WebSocketGateway(namespace="raw")
class RawGateway(OnGatewayInit):
    def after_init(self, server: Server) -> None:
        server.raw.on("legacy", self.legacy, namespace="/raw")

    async def legacy(self, sid: str, data: Any) -> Any:
        return {"sid_seen": bool(sid), "data": data}

    @SubscribeMessage("known")
    def known(self) -> str:
        return "ok"


@Module(providers=[RawGateway])
class RawModule: ...


async def test_unknown_events_answer_a_waiting_ack_and_log_no_error(serve_app: Serve) -> None:
    app = await serve_app(RawModule)
    async with app.test_client("/raw") as client:
        reply = await client.call("nope", {"a": 1}, timeout=3)
        assert reply == {
            "status": "error", "message": "Unknown event 'nope'",
            "cause": {"pattern": "nope", "data": {"a": 1}},
        }
        await client.emit("nope")  # no ack asked: ignored, as in NestJS
        assert await client.call("known") == "ok"
        assert client.received("exception") == []
    # nestpy_error_guard (autouse) fails this test if anything was logged at ERROR.


async def test_raw_message_handlers_run_with_python_socketio_semantics(serve_app: Serve) -> None:
    app = await serve_app(RawModule)
    async with app.test_client("/raw") as client:
        assert await client.call("legacy", 5) == {"sid_seen": True, "data": 5}


class HttpModuleHooks:
    def configure_app(self, app: NestApplication) -> None:
        async def health(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app.http_app.router.add_get("/health", health)


@WebSocketGateway(7000, namespace="own-port")
class OwnPortGateway:
    @SubscribeMessage("ping")
    def ping(self) -> str:
        return "pong"


@Module(providers=[OwnPortGateway])
class HttpModule(HttpModuleHooks): ...


async def test_configure_app_adds_http_routes_beside_gateways(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nestpy import NestFactory

    monkeypatch.setenv("PORT", "0")  # the application port when none is given: ephemeral
    app = await NestFactory.create(HttpModule)
    # No gateway shares the application port, but the health route binds it anyway.
    await app.listen(None, "127.0.0.1", ephemeral_gateways=True)
    try:
        assert None in app.ports
        async with aiohttp.ClientSession() as http, http.get(app.get_url() + "/health") as r:
            assert r.status == 200
            assert await r.json() == {"status": "ok"}
        async with app.test_client("/own-port") as client:
            assert await client.call("ping") == "pong"
    finally:
        await app.close()


@WebSocketGateway(namespace="late")
class LateGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("ask")
    async def ask(self, client: Annotated[Socket, ConnectedSocket()]) -> Any:
        return await client.emit_with_ack("question", 20, timeout=3)


@Module(providers=[LateGateway])
class LateModule: ...


async def test_testing_client_answers_server_acks(serve_app: Serve) -> None:
    app = await serve_app(LateModule)
    async with app.test_client("/late") as client:

        @client.on("question")
        def answer(n: int) -> int:
            return n + 1

        assert await client.call("ask") == 21
        assert client.received("question") == [20]
        await eventually(lambda: client.connected, what="still connected")
