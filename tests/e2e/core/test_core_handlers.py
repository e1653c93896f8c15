"""Handler forms and return values (DESIGN.md "Gateways"), over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import pytest
from core_client import Connect, Start

from nestpy import Module
from nestpy.websockets import (
    Ack,
    ConnectedSocket,
    MessageBody,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WsResponse,
)

pytestmark = pytest.mark.e2e


@WebSocketGateway(namespace="forms")
class FormsGateway:
    @SubscribeMessage("whole")
    def whole(self, data: Annotated[Any, MessageBody()]) -> Any:
        return {"got": data}

    @SubscribeMessage("key")
    def key(self, room: Annotated[str, MessageBody("room")]) -> str:
        return f"room={room}"

    @SubscribeMessage("two_keys")
    def two_keys(
        self,
        room: Annotated[str, MessageBody("room")],
        text: Annotated[str, MessageBody("text")],
        client: Annotated[Socket, ConnectedSocket()],
    ) -> list[str]:
        return [client.id, room, text]

    @SubscribeMessage("whoami")
    def whoami(self, client: Annotated[Socket, ConnectedSocket()]) -> list[str]:
        return [client.id, client.namespace]

    @SubscribeMessage("manual")
    async def manual(
        self,
        data: Annotated[Any, MessageBody()],
        ack: Annotated[Callable[..., Any], Ack()],
    ) -> str:
        await ack("manual", data)
        await ack("twice")  # Socket.IO acknowledges once: ignored
        return "return values are not acked when the handler takes Ack()"

    @SubscribeMessage("plain")
    def plain(self, client: Socket, data: Any) -> list[Any]:
        # NestJS's marker-less form: (client, data)
        return [client.id, data]

    @SubscribeMessage("sync_echo")
    def sync_echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("async_echo")
    async def async_echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        await asyncio.sleep(0)
        return data

    @SubscribeMessage("tuple")
    async def tuple_(self) -> tuple[str, int, None]:
        return ("a", 1, None)

    @SubscribeMessage("none")
    def none(self, data: Annotated[Any, MessageBody()]) -> None:
        return None

    @SubscribeMessage("response")
    async def response(
        self, data: Annotated[Any, MessageBody()]
    ) -> WsResponse[Any]:
        return WsResponse("reply", {"echo": data})

    @SubscribeMessage("stream")
    async def stream(self, n: Annotated[int, MessageBody()]) -> AsyncIterator[WsResponse[int]]:
        for i in range(n):
            await asyncio.sleep(0)
            yield WsResponse("tick", i)

    @SubscribeMessage("stream_value")
    async def stream_value(self) -> AsyncIterator[Any]:
        yield WsResponse("tick", "first")
        yield "acked"
        yield "not acked twice"
        yield WsResponse("tick", "last")


@Module(providers=[FormsGateway])
class FormsModule: ...


@pytest.fixture(params=["websocket", "polling"])
async def client(request: pytest.FixtureRequest, start: Start, connect: Connect) -> Any:
    app = await start(FormsModule)
    return await connect(app, "/forms", [request.param])


async def test_message_body_whole(client: Any) -> None:
    assert await client.call("whole", {"a": [1, 2]}) == {"got": {"a": [1, 2]}}
    assert await client.call("whole", "text") == {"got": "text"}


async def test_message_body_by_key(client: Any) -> None:
    assert await client.call("key", {"room": "lobby", "other": 1}) == "room=lobby"


async def test_several_markers_in_any_order(client: Any) -> None:
    sid, room, text = await client.call("two_keys", {"room": "r1", "text": "hi"})
    assert (sid, room, text) == (client.sid, "r1", "hi")


async def test_connected_socket(client: Any) -> None:
    assert await client.call("whoami") == [client.sid, "/forms"]


async def test_manual_ack_sends_its_arguments_once(client: Any) -> None:
    assert await client.ack_args("manual", {"x": 1}) == ("manual", {"x": 1})
    # The later ack("twice") and the return value produced no second acknowledgement:
    # the next call's ack is its own.
    assert await client.ack_args("manual", 2) == ("manual", 2)


async def test_no_marker_form_receives_client_and_data(client: Any) -> None:
    assert await client.call("plain", [1, "x"]) == [client.sid, [1, "x"]]


@pytest.mark.parametrize("event", ["sync_echo", "async_echo"])
async def test_sync_and_async_handlers(client: Any, event: str) -> None:
    assert await client.call(event, {"n": 1}) == {"n": 1}
    results = await asyncio.gather(*(client.call(event, i) for i in range(5)))
    assert results == list(range(5))


async def test_several_emitted_arguments_arrive_as_a_list(client: Any) -> None:
    """NestJS's rule: emit("e", a, b) → the body is [a, b]."""
    assert await client.call("whole", 1, "two", {"three": 3}) == {"got": [1, "two", {"three": 3}]}


async def test_tuple_return_acks_with_several_arguments(client: Any) -> None:
    assert await client.ack_args("tuple") == ("a", 1, None)


async def test_none_return_acks_with_no_arguments(client: Any) -> None:
    assert await client.ack_args("none", "x") == ()


async def test_value_return_acks_with_one_argument(client: Any) -> None:
    assert await client.ack_args("sync_echo", [1, 2]) == ([1, 2],)


async def test_ws_response_is_emitted_to_the_caller_only(
    client: Any, connect: Connect
) -> None:
    url = client.sio.connection_url
    other = await connect(url, "/forms")
    await client.emit("response", "hi")
    assert await client.receive("reply") == {"echo": "hi"}
    assert await other.nothing("reply")
    # Asked for an ack, the caller gets the event and an empty ack (never left hanging).
    assert await client.ack_args("response", "again") == ()
    assert await client.receive("reply") == {"echo": "again"}


async def test_async_generator_emits_each_response_in_order(client: Any) -> None:
    await client.emit("stream", 5)
    assert [await client.receive("tick") for _ in range(5)] == [0, 1, 2, 3, 4]
    assert await client.nothing("tick")
    # With an ack requested, the stream is emitted and the ack comes (empty) at the end.
    assert await client.ack_args("stream", 2) == ()
    assert [await client.receive("tick") for _ in range(2)] == [0, 1]


async def test_async_generator_acks_its_first_plain_value(client: Any) -> None:
    assert await client.ack_args("stream_value") == ("acked",)
    assert await client.receive("tick") == "first"
    assert await client.receive("tick") == "last"


async def test_messages_without_ack_get_no_ack_packet(client: Any) -> None:
    """A handler's return value is sent only as an ack: no event is emitted for it."""
    await client.emit("sync_echo", "x")
    await client.emit("whole", "y")
    assert await client.call("none", None) is None
    assert client.pending("sync_echo") == 0 and client.pending("whole") == 0


async def test_manual_ack_is_awaitable_when_the_client_asked_for_none(client: Any) -> None:
    """``await ack(...)`` works whether or not the client asked for an acknowledgement."""
    await client.emit("manual", "no ack requested")
    assert await client.nothing("exception")
    assert await client.ack_args("manual", 3) == ("manual", 3)
