"""Gateway decorators and the explorer: metadata recorded, read back once, errors explained."""

from __future__ import annotations

import re
from typing import Annotated, Any

import pytest

from nestpy import BootstrapError
from nestpy import _metadata as md
from nestpy.websockets import (
    Ack,
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    OnGatewayDisconnect,
    OnGatewayInit,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)
from nestpy.websockets._explorer import explore_gateway
from nestpy.websockets.decorators import GatewayOptions, normalize_namespace


def options_of(cls: type) -> GatewayOptions:
    opts = md.get_meta(cls, md.GATEWAY)
    assert isinstance(opts, GatewayOptions)
    return opts


def test_web_socket_gateway_records_options_and_returns_the_class() -> None:
    class Plain: ...

    decorated = WebSocketGateway(
        4000, namespace="chat", path="/io", cors="*", transports=["websocket"], ping_interval=5
    )(Plain)
    assert decorated is Plain
    assert options_of(Plain) == GatewayOptions(
        port=4000, namespace="/chat", path="/io", cors="*", transports=("websocket",),
        server_options={"ping_interval": 5},
    )


def test_port_zero_means_the_app_port() -> None:
    @WebSocketGateway(0)
    class Zero: ...

    assert options_of(Zero).port is None
    assert options_of(Zero).namespace == "/"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("", "/"), ("/", "/"), ("chat", "/chat"), ("/chat", "/chat"), ("a/b", "/a/b")],
)
def test_namespace_names_are_normalised(given: str, expected: str) -> None:
    assert normalize_namespace(given) == expected


def test_regex_namespace_is_kept() -> None:
    pattern = re.compile(r"^/room-\w+$")
    assert normalize_namespace(pattern) is pattern


def test_argument_shape_errors() -> None:
    with pytest.raises(TypeError, match="port must be an int or None"):
        WebSocketGateway("3000")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="non-empty event name"):
        SubscribeMessage("")
    with pytest.raises(TypeError, match="non-empty event name"):
        SubscribeMessage(None)  # type: ignore[arg-type]


def test_subscribe_message_records_the_event_and_returns_the_function() -> None:
    def handler(self: Any) -> None: ...

    assert SubscribeMessage("evt")(handler) is handler
    assert md.get_meta(handler, md.MESSAGE) == "evt"


def test_markers_repr_and_pipes() -> None:
    pipe = object()
    assert repr(MessageBody()) == "MessageBody()"
    assert repr(MessageBody("room")) == "MessageBody('room')"
    assert MessageBody("room", pipe).pipes == (pipe,)
    assert repr(ConnectedSocket()) == "ConnectedSocket()"
    assert repr(Ack()) == "Ack()"


def test_web_socket_server_before_injection_explains_itself() -> None:
    class Gw:
        server: Server = WebSocketServer()

    with pytest.raises(RuntimeError, match=r"Gw\.server is not set yet.*after_init"):
        _ = Gw().server
    assert isinstance(Gw.__dict__["server"], type(WebSocketServer()))


# ------------------------------------------------------------------------- explorer


@WebSocketGateway(namespace="base")
class BaseGateway(OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect):
    hub: Server = WebSocketServer()

    @SubscribeMessage("base_event")
    def base_event(self) -> str:
        return "base"

    @SubscribeMessage("overridden")
    def overridden(self) -> str:
        return "base"

    def handle_connection(self, client: Socket, *args: Any) -> None: ...


@WebSocketGateway(namespace="child")
class ChildGateway(BaseGateway):
    @SubscribeMessage("child_event")
    async def child_event(self, body: Annotated[int, MessageBody()]) -> int:
        return body

    def overridden(self) -> str:  # no decorator: the override is no longer a handler
        return "child"


def test_explorer_collects_handlers_hooks_and_server_slots() -> None:
    d = explore_gateway(BaseGateway)
    assert d.cls is BaseGateway and d.options.namespace == "/base"
    assert sorted(h.event for h in d.handlers) == ["base_event", "overridden"]
    assert d.server_attrs == ("hub",)
    assert (d.has_init, d.has_connection, d.has_disconnect) == (False, True, False)


def test_explorer_walks_the_mro_and_respects_overrides() -> None:
    d = explore_gateway(ChildGateway)
    assert d.options.namespace == "/child"
    events = {h.event: h for h in d.handlers}
    assert sorted(events) == ["base_event", "child_event"]
    assert events["child_event"].signature.is_async
    assert d.server_attrs == ("hub",)


def test_two_handlers_for_one_event_is_a_bootstrap_error() -> None:
    @WebSocketGateway()
    class Twice:
        @SubscribeMessage("same")
        def one(self) -> None: ...

        @SubscribeMessage("same")
        def two(self) -> None: ...

    with pytest.raises(BootstrapError, match=r"event 'same' has two handlers: one and two"):
        explore_gateway(Twice)


def test_a_class_without_the_decorator_is_not_a_gateway() -> None:
    class NotAGateway: ...

    with pytest.raises(BootstrapError, match="not decorated with @WebSocketGateway"):
        explore_gateway(NotAGateway)


def test_a_handler_with_a_half_marked_signature_is_a_bootstrap_error() -> None:
    @WebSocketGateway()
    class Half:
        @SubscribeMessage("half")
        def half(self, a: Annotated[str, MessageBody()], b: str) -> None: ...

    with pytest.raises(BootstrapError, match=r"\[gateway=.*Half, handler=half\] parameter 'b'"):
        explore_gateway(Half)
