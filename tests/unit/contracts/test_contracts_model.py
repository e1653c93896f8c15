"""``collect_channels`` and friends (``nestpy.contracts._model``): what the contract tools
read from an app's gateways, without starting it (tests/contracts check whole documents)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Protocol

import pytest

from nestpy import BootstrapError, DynamicModule, Module, Provider
from nestpy.contracts._model import (
    UNKNOWN,
    Reply,
    collect_channels,
    describe_target,
    find_gateways,
)
from nestpy.websockets import (
    Ack,
    MessageBody,
    Server,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsResponse,
)


@WebSocketGateway(namespace="shapes")
class ShapesGateway:
    @SubscribeMessage("manual")
    async def manual(self, ack: Annotated[Callable[..., Any], Ack()]) -> None:
        await ack("any")

    @SubscribeMessage("event")
    def event(self) -> WsResponse:  # type: ignore[type-arg]
        return WsResponse("e", 1)

    @SubscribeMessage("stream")
    async def stream(self) -> AsyncIterator[int]:
        yield 1


def replies(gateway: type) -> dict[str, Reply]:
    (channel,) = collect_channels(gateway)
    return {r.event: r.reply for r in channel.received}


def test_replies_a_contract_cannot_type_precisely() -> None:
    assert replies(ShapesGateway) == {
        "manual": Reply("ack", UNKNOWN),  # a manual ack without a Callable[[T], ...] type
        "event": Reply("events", UNKNOWN, False),  # a bare WsResponse: some event
        "stream": Reply("ack", int, True),  # plain values yielded: the first one acks
    }


@WebSocketGateway(namespace="a/b")
class SlashGateway:
    @SubscribeMessage("x")
    def x(self, data: Annotated[int, MessageBody()]) -> None: ...


@WebSocketGateway(namespace="a_b")
class UnderscoreGateway:
    @SubscribeMessage("x")
    def x(self, data: Annotated[int, MessageBody()]) -> None: ...


def test_namespaces_that_clean_up_to_one_key_get_numbered_keys() -> None:
    channels = collect_channels([SlashGateway, UnderscoreGateway])
    assert [(c.key, c.namespace) for c in channels] == [("a_b", "/a/b"), ("a_b_2", "/a_b")]


class FirstEvents(Protocol):
    async def moved(self, x: int, /) -> None: ...


class SecondEvents(Protocol):
    async def moved(self, x: str, /) -> None: ...


@WebSocketGateway(namespace="board")
class FirstBoard:
    server: Server[FirstEvents] = WebSocketServer()


@WebSocketGateway(namespace="board")
class SecondBoard:
    server: Server[SecondEvents] = WebSocketServer()


def test_one_event_declared_two_ways_on_one_channel_is_refused() -> None:
    with pytest.raises(BootstrapError) as caught:
        collect_channels([FirstBoard, SecondBoard])
    assert str(caught.value) == (
        "[gateway=SecondBoard] event 'moved' is declared twice on channel 'board' with "
        "different arguments; declare it once"
    )


@WebSocketGateway(namespace="late")
class UnresolvedServerType:
    server: Server[NotImportedEvents] = WebSocketServer()  # type: ignore[name-defined]  # noqa: F821


def test_an_annotation_that_cannot_be_resolved_says_to_import_the_name() -> None:
    with pytest.raises(BootstrapError) as caught:
        collect_channels(UnresolvedServerType)
    message = str(caught.value)
    assert message.startswith("cannot resolve the type hints of 'UnresolvedServerType' (")
    assert "NotImportedEvents" in message
    assert message.endswith("import the names used in annotations at module level")


def test_a_gateway_provided_as_a_value_is_found() -> None:
    @Module(providers=[Provider("board", use_value=ShapesGateway())])
    class ValueModule: ...

    assert find_gateways(ValueModule) == [ShapesGateway]


def test_targets_that_hold_no_gateway() -> None:
    @Module(providers=[])
    class EmptyModule: ...

    with pytest.raises(BootstrapError, match=r"no @WebSocketGateway found in <class"):
        find_gateways(EmptyModule)
    with pytest.raises(BootstrapError) as caught:
        find_gateways("app.module")
    assert str(caught.value) == (
        "'app.module' is neither a @Module class nor a @WebSocketGateway class; pass the "
        "application's root module (or a gateway class)"
    )


def test_titles_of_dynamic_modules_and_lists() -> None:
    @Module()
    class ConfigModule: ...

    assert describe_target(DynamicModule(ConfigModule)) == "ConfigModule"
    assert describe_target([ShapesGateway, DynamicModule(ConfigModule)]) == (
        "ShapesGateway, ConfigModule"
    )
    assert describe_target(object()) == "nestpy application"
