"""Bad input and failures (DESIGN.md "Errors"): each gives the documented result and the
server keeps serving other clients."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
import socketio
from core_client import Client, Connect, Start

from nestpy import Module, NestApplication
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WsException,
)

pytestmark = pytest.mark.e2e

finished: list[str] = []


@WebSocketGateway(namespace="errs")
class ErrorsGateway:
    @SubscribeMessage("ok")
    def ok(self, data: Annotated[Any, MessageBody()]) -> Any:
        return {"ok": data}

    @SubscribeMessage("ws_text")
    def ws_text(self, data: Annotated[Any, MessageBody()]) -> None:
        raise WsException("text")

    @SubscribeMessage("ws_dict")
    async def ws_dict(self) -> None:
        raise WsException({"code": 42, "why": ["custom", "payload"]})

    @SubscribeMessage("boom")
    async def boom(self, data: Annotated[Any, MessageBody()]) -> None:
        raise ValueError("a secret detail that must not reach the client")

    @SubscribeMessage("sync_boom")
    def sync_boom(self) -> None:
        raise KeyError("sync")

    @SubscribeMessage("typed")
    def typed(self, text: Annotated[str, MessageBody()]) -> str:
        return text.upper()

    @SubscribeMessage("typed_key")
    def typed_key(self, count: Annotated[int, MessageBody("count")]) -> int:
        return count * 2

    @SubscribeMessage("slow")
    async def slow(self, client: Annotated[Socket, ConnectedSocket()]) -> str:
        await asyncio.sleep(0.2)
        await client.emit("late", "the caller may be gone")
        finished.append(client.id)
        return "done"


@Module(providers=[ErrorsGateway])
class ErrorsModule: ...


@pytest.fixture
async def app(start: Start) -> NestApplication:
    return await start(ErrorsModule)


@pytest.fixture
async def bystander(app: NestApplication, connect: Connect) -> Client:
    """Another client whose well-formed requests must keep succeeding."""
    return await connect(app, "/errs", ["polling"])


async def still_served(bystander: Client) -> None:
    assert await bystander.call("ok", 1) == {"ok": 1}


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_ws_exception_text(
    app: NestApplication, connect: Connect, bystander: Client, transport: str
) -> None:
    c = await connect(app, "/errs", [transport])
    await c.emit("ws_text", {"x": 1})
    assert await c.receive("exception") == {
        "status": "error",
        "message": "text",
        "cause": {"pattern": "ws_text", "data": {"x": 1}},
    }
    assert await bystander.nothing("exception")
    await still_served(bystander)


async def test_ws_exception_dict_is_sent_verbatim(
    app: NestApplication, connect: Connect, bystander: Client
) -> None:
    c = await connect(app, "/errs")
    await c.emit("ws_dict", None)
    assert await c.receive("exception") == {"code": 42, "why": ["custom", "payload"]}
    await still_served(bystander)


@pytest.mark.parametrize("event", ["boom", "sync_boom"])
@pytest.mark.allow_errors  # provokes server errors on purpose
async def test_other_exceptions_are_internal_server_errors(
    app: NestApplication, connect: Connect, bystander: Client, event: str
) -> None:
    c = await connect(app, "/errs")
    await c.emit(event, "payload")
    assert await c.receive("exception") == {
        "status": "error",
        "message": "Internal server error",
        "cause": {"pattern": event, "data": "payload"},
    }
    # The same client goes on being served too.
    assert await c.call("ok", 2) == {"ok": 2}
    await still_served(bystander)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("ws_text", {"status": "error", "message": "text",
                     "cause": {"pattern": "ws_text", "data": 7}}),
        ("boom", {"status": "error", "message": "Internal server error",
                  "cause": {"pattern": "boom", "data": 7}}),
    ],
)
@pytest.mark.allow_errors  # provokes server errors on purpose
async def test_an_ack_request_is_answered_with_the_error(
    app: NestApplication, connect: Connect, event: str, payload: dict[str, Any]
) -> None:
    """Beyond NestJS (nest#12088): a client awaiting an ack never hangs on an error."""
    c = await connect(app, "/errs")
    assert await c.ack_args(event, 7) == (payload,)
    assert await c.receive("exception") == payload  # and the event, as in NestJS


async def test_include_cause_false_drops_the_cause(start: Start, connect: Connect) -> None:
    app = await start(ErrorsModule, include_cause=False)
    c = await connect(app, "/errs")
    await c.emit("ws_text", 1)
    assert await c.receive("exception") == {"status": "error", "message": "text"}


async def test_unknown_event_is_ignored(
    app: NestApplication, connect: Connect, bystander: Client
) -> None:
    c = await connect(app, "/errs")
    await c.emit("no_such_event", {"a": 1})
    await c.sio.emit("no_such_event_with_ack", 1, namespace="/errs", callback=lambda *a: None)
    assert await c.call("ok", "next") == {"ok": "next"}  # the connection is fine
    assert await c.nothing("exception")
    await still_served(bystander)


async def test_wrong_payload_type_is_a_validation_error(
    app: NestApplication, connect: Connect, bystander: Client
) -> None:
    c = await connect(app, "/errs")
    assert await c.call("typed", "fine") == "FINE"
    await c.emit("typed", {"not": "a string"})
    err = await c.receive("exception")
    assert err["status"] == "error"
    assert err["cause"] == {"pattern": "typed", "data": {"not": "a string"}}
    assert isinstance(err["message"], list) and len(err["message"]) == 1
    assert "valid string" in err["message"][0]["error"]
    # By key: the field is named.
    (bad,) = await c.ack_args("typed_key", {"count": "many"})
    assert bad["message"] == [
        {"field": "count", "error": "Input should be a valid integer, unable to parse string "
                                     "as an integer"}
    ]
    assert await c.call("typed_key", {"count": "21"}) == 42  # coerced like pydantic does
    await still_served(bystander)


async def test_client_disconnecting_mid_handler(
    app: NestApplication, connect: Connect, bystander: Client
) -> None:
    finished.clear()
    c = await connect(app, "/errs")
    gone_sid = c.sid
    await c.sio.emit("slow", None, namespace="/errs", callback=lambda *a: None)
    await asyncio.sleep(0.02)  # the handler is now sleeping
    await c.close()
    for _ in range(50):
        if finished:
            break
        await asyncio.sleep(0.01)
    assert finished == [gone_sid]  # the handler ran to its end without crashing anything
    await still_served(bystander)
    assert await bystander.call("slow") == "done"
    assert await bystander.receive("late") == "the caller may be gone"


# ----------------------------------------------------------------- connection refusal


@WebSocketGateway(namespace="door")
class DoorGateway(OnGatewayConnection):
    async def handle_connection(self, client: Socket, *args: Any) -> Any:
        mode = client.handshake.auth.get("mode")
        if mode == "raise":
            raise WsException("go away")
        if mode == "dict":
            raise WsException({"message": "nope", "code": 4})
        if mode == "false":
            return False
        if mode == "crash":
            raise RuntimeError("bug in the connection handler")
        if mode == "ask":
            # Not connected yet: an ack could never come; a clear error, not a long timeout.
            await client.emit_with_ack("question", 1, timeout=5)
        # Emitted while connecting: delivered right after the CONNECT acknowledgement.
        await client.emit("welcome", {"sid": client.id})
        return None

    @SubscribeMessage("ok")
    def ok(self) -> str:
        return "ok"


@Module(providers=[DoorGateway])
class DoorModule: ...


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("raise", {"message": "go away"}),
        ("dict", {"message": "nope", "data": {"message": "nope", "code": 4}}),
        ("false", {"message": "Connection rejected by server"}),
        ("crash", {"message": "Internal server error"}),
        ("ask", {"message": "Internal server error"}),
    ],
)
@pytest.mark.allow_errors  # provokes server errors on purpose
async def test_refused_connection_reaches_the_client_as_connect_error(
    start: Start, connect: Connect, mode: str, error: Any, transport: str
) -> None:
    app = await start(DoorModule)
    refused = Client("/door")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(app.url_for("/door"), [transport], auth={"mode": mode})
    await refused.close()
    assert refused.connect_errors.get_nowait() == error
    welcomed = await connect(app, "/door", [transport])
    assert await welcomed.call("ok") == "ok"


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_emits_from_handle_connection_arrive_after_connect(
    start: Start, connect: Connect, transport: str
) -> None:
    app = await start(DoorModule)
    c = await connect(app, "/door", [transport])
    assert await c.receive("welcome") == {"sid": c.sid}
