"""Plain gateway options are checked at bootstrap; gateways on one path share it."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from plainws_helpers import Open, Start

from nestpy import Module, NestFactory
from nestpy.exceptions import BootstrapError
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway, WsAdapter


def _module(*gateways: type) -> type:
    @Module(providers=list(gateways))
    class M:
        pass

    return M


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"namespace": "chat"}, "plain WebSocket gateways have no namespaces"),
        ({"transports": ["websocket"]}, "transports=... is a Socket.IO option"),
        ({"max_mesage_size": 10}, "did you mean 'max_message_size'?"),
        ({"max_message_size": 0}, "max_message_size must be a positive number"),
        ({"message_parser": "json"}, "message_parser must be callable"),
    ],
)
async def test_bad_options_fail_create(options: dict[str, Any], message: str) -> None:
    @WebSocketGateway(path="/x", adapter=WsAdapter, **options)
    class Bad:
        @SubscribeMessage("e")
        def e(self, data: Annotated[Any, MessageBody()]) -> Any:
            return data

    with pytest.raises(BootstrapError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("?", r"\?").replace(".", r"\.")):
        await NestFactory.create(_module(Bad))


async def test_conflicting_options_on_one_path_fail_create() -> None:
    @WebSocketGateway(path="/same", adapter=WsAdapter, max_message_size=10)
    class A:
        pass

    @WebSocketGateway(path="/same", adapter=WsAdapter)
    class B:
        pass

    with pytest.raises(BootstrapError, match="shares port app and path '/same'"):
        await NestFactory.create(_module(A, B))


@pytest.mark.e2e
async def test_gateways_on_one_path_share_it(start: Start, ws: Open) -> None:
    @WebSocketGateway(path="/shared", adapter=WsAdapter)
    class First:
        @SubscribeMessage("one")
        def one(self, data: Annotated[Any, MessageBody()]) -> str:
            return "first"

    @WebSocketGateway(path="/shared", adapter=WsAdapter)
    class Second:
        @SubscribeMessage("two")
        def two(self, data: Annotated[Any, MessageBody()]) -> str:
            return "second"

    app = await start(_module(First, Second))
    c = await ws(app, "/shared")
    assert await c.call("one") == "first"
    assert await c.call("two") == "second"


async def test_app_wide_adapter_options_are_checked_at_listen() -> None:
    @WebSocketGateway(namespace="chat")
    class Sio:
        pass

    app = await NestFactory.create(_module(Sio))  # a valid Socket.IO gateway
    app.use_websocket_adapter(WsAdapter(app))
    try:
        with pytest.raises(BootstrapError, match="no namespaces"):
            await app.listen(0, "127.0.0.1")
    finally:
        await app.close()


async def test_app_wide_adapter_gateways_sharing_a_path_must_agree_at_listen() -> None:
    @WebSocketGateway(path="/same", cors=True)
    class Open:
        pass

    @WebSocketGateway(path="/same")
    class Default:
        pass

    # Without adapter=, these are Socket.IO gateways at create(); the app-wide WsAdapter
    # makes them plain at listen(), where their disagreement is found.
    app = await NestFactory.create(_module(Open, Default))
    app.use_websocket_adapter(WsAdapter(app))
    try:
        with pytest.raises(BootstrapError, match=r"\.Default\] shares path '/same' with other "
                           "options"):
            await app.listen(0, "127.0.0.1")
    finally:
        await app.close()


@pytest.mark.e2e
async def test_a_plain_gateway_without_a_path_answers_at_the_root_and_paths_get_a_slash(
    start: Start, ws: Open
) -> None:
    @WebSocketGateway(adapter=WsAdapter)
    class Root:
        @SubscribeMessage("where")
        def where(self, data: Annotated[Any, MessageBody()]) -> str:
            return "root"

    @WebSocketGateway(path="nested/", adapter=WsAdapter)
    class Nested:
        @SubscribeMessage("where")
        def where(self, data: Annotated[Any, MessageBody()]) -> str:
            return "nested"

    app = await start(_module(Root, Nested))
    assert await (await ws(app, "/")).call("where") == "root"
    assert await (await ws(app, "/nested")).call("where") == "nested"
