"""The Socket.IO pipeline on plain gateways: guards (handshake too), middleware,
interceptors, filters and Reflector metadata."""

from __future__ import annotations

from typing import Annotated, Any

import aiohttp
import pytest
from plainws_apps import MiddlewareModule, SecureModule
from plainws_helpers import Open, Start

from nestpy import Module, NestApplication
from nestpy.common.filters import INTERNAL_ERROR
from nestpy.testing import Test
from nestpy.websockets import (
    MessageBody,
    OnGatewayInit,
    SubscribeMessage,
    WebSocketGateway,
    WsAdapter,
    WsClient,
    WsException,
    WsServer,
)

pytestmark = pytest.mark.e2e


async def test_class_guards_refuse_the_handshake_with_1008(start: Start, ws: Open) -> None:
    app = await start(SecureModule)
    refused = await ws(app, "/secure", query={"token": "bad"})
    assert await refused.wait_closed() == 1008
    good = await ws(app, "/secure", query={"token": "good"})
    # interceptor around the handler, the pattern from the ExecutionContext
    assert await good.call("hi", 1) == {"wrapped": 1, "pattern": "hi"}


async def test_guards_read_reflector_metadata(start: Start, ws: Open) -> None:
    app = await start(SecureModule)
    user = await ws(app, "/secure", query={"token": "good"})
    await user.send("admin", 1, id=1)
    assert await user.receive() == {"event": "exception", "id": 1, "data": {
        "status": "error", "message": "Forbidden resource",
        "cause": {"pattern": "admin", "data": 1}}}
    admin = await ws(app, "/secure", query={"token": "good", "admin": "1"})
    assert await admin.call("admin", 1) == "admin ok"


async def test_filters_answer_errors(start: Start, ws: Open) -> None:
    app = await start(SecureModule)
    c = await ws(app, "/secure", query={"token": "good"})
    await c.send("fail", 1)
    assert await c.receive("exception") == {"filtered": "handled"}
    await c.send("fail", 1, id="f")
    assert await c.receive() == {"event": "exception", "id": "f", "data": {"filtered": "handled"}}


async def test_middleware_refuses_with_its_message(start: Start, ws: Open) -> None:
    app = await start(MiddlewareModule)
    refused = await ws(app, "/mw")
    assert await refused.wait_closed() == 1008
    ok = await ws(app, "/mw", query={"name": "x"})
    assert await ok.call("hi") == "hi"



@WebSocketGateway(path="/gate", adapter=WsAdapter)
class GateGateway(OnGatewayInit):
    """Middleware refusing in each of the ways a middleware can."""

    def after_init(self, server: WsServer) -> None:
        def by_query(client: WsClient) -> bool | None:
            mode = client.handshake.query.get("mode")
            if mode == "false":
                return False
            if mode == "dict":
                raise WsException({"message": "members only", "code": 7})
            if mode == "bare-dict":
                raise WsException({"code": 7})
            if mode == "boom":
                raise RuntimeError("a middleware bug")
            return None

        server.use(by_query)

    @SubscribeMessage("hi")
    def hi(self, data: Annotated[Any, MessageBody()]) -> str:
        return "hi"


@Module(providers=[GateGateway])
class GateModule:
    pass


async def close_of(app: NestApplication, mode: str) -> tuple[int | None, str]:
    """The close frame a client connecting with ``?mode=`` receives."""
    url = app.url_for(None).replace("http", "ws") + f"/gate?mode={mode}"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as peer:
        msg = await peer.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        return msg.data, msg.extra


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("false", "Connection rejected by server"),
        ("dict", "members only"),
        ("bare-dict", "Connection refused"),
    ],
)
async def test_middleware_refusals_close_1008_with_their_reason(
    start: Start, mode: str, reason: str
) -> None:
    app = await start(GateModule)
    assert await close_of(app, mode) == (1008, reason)
    async with app.test_client(path="/gate", adapter="ws") as ok:
        assert await ok.call("hi") == "hi"


@pytest.mark.allow_errors
async def test_a_failing_middleware_refuses_with_an_internal_error_and_is_logged(
    start: Start, nestpy_error_guard: list[dict[str, Any]]
) -> None:
    app = await start(GateModule)
    assert await close_of(app, "boom") == (1008, INTERNAL_ERROR)
    assert [e["message"] for e in nestpy_error_guard] == ["middleware failed"]
    assert nestpy_error_guard[0]["path"] == "/gate"

@WebSocketGateway(path="/svc", adapter=WsAdapter)
class UsesService:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    @SubscribeMessage("get")
    def get(self, key: Annotated[str, MessageBody()]) -> Any:
        return self.repo.get(key)


class Repo:
    def get(self, key: str) -> str:
        return "real " + key


@Module(providers=[Repo, UsesService])
class SvcModule:
    pass


async def test_testing_module_overrides_reach_plain_gateways() -> None:
    class FakeRepo:
        def get(self, key: str) -> str:
            return "fake " + key

    module = await Test.create_testing_module(imports=[SvcModule]).override_provider(
        Repo).use_value(FakeRepo()).compile()
    app = module.create_nest_application()
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    try:
        async with app.test_client(path="/svc", adapter="ws") as c:
            assert await c.call("get", "k") == "fake k"
    finally:
        await app.close()


async def test_global_enhancers_apply_to_plain_gateways(ws: Open) -> None:
    from plainws_apps import MixedModule, Wrap

    from nestpy import NestFactory

    app = await NestFactory.create(MixedModule)
    app.use_global_interceptors(Wrap())
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    try:
        c = await ws(app, "/events")
        assert await c.call("echo", 3) == {"wrapped": 3, "pattern": "echo"}
        await c.disconnect()
    finally:
        await app.close()
