"""The Socket.IO pipeline on plain gateways: guards (handshake too), middleware,
interceptors, filters and Reflector metadata."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from plainws_apps import MiddlewareModule, SecureModule
from plainws_helpers import Open, Start

from nestpy import Module
from nestpy.testing import Test
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway, WsAdapter

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
