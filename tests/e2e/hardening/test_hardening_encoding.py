"""Every value nestpy puts on the wire is encoded (issue 10, defect 1).

Acks, ``WsResponse``, ``Socket.emit``, ``server.emit``, ``emit_with_ack`` and manual
``Ack()`` carry pydantic models, dataclasses, datetimes, UUIDs, Decimals, Enums, sets and
bytes; an unencodable value answers the pending ack with the error payload. This file runs
twice in CI: in-process with orjson (the ``speed`` extra), and in a subprocess where orjson
cannot be imported (``test_hardening_no_orjson.py``), so both codecs are proven.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
import os
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
import pytest
from hardening_support import Serve

from nestpy import Module
from nestpy._speed import OrjsonCodec, StdlibCodec, default_json
from nestpy.websockets import (
    Ack,
    ConnectedSocket,
    MessageBody,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsResponse,
)

pytestmark = pytest.mark.e2e

NO_ORJSON = os.environ.get("NESTPY_TEST_NO_ORJSON") == "1"
WHEN = datetime.datetime(2026, 11, 26, 15, 30, 0, tzinfo=datetime.timezone.utc)
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Message(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(populate_by_name=True)

    text: str
    sent_at: datetime.datetime
    room_id: uuid.UUID = pydantic.Field(alias="roomId")


@dataclass
class Point:
    x: int
    when: datetime.date
    price: decimal.Decimal


def msg(text: str) -> Message:
    return Message(text=text, sent_at=WHEN, roomId=ID)


MSG_JSON = {"text": "hi", "sent_at": "2026-11-26T15:30:00Z", "roomId": str(ID)}


class NotJson:
    """Something no encoder knows."""


@WebSocketGateway(namespace="enc")
class EncodingGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("model")
    def model(self) -> Message:
        return msg("hi")

    @SubscribeMessage("models")
    async def models(self) -> list[Message]:
        return [msg("hi"), msg("hi")]

    @SubscribeMessage("unannotated")
    def unannotated(self):  # type: ignore[no-untyped-def]  # no annotation: general path
        return {"m": msg("hi"), "tags": {"a"}, "pair": (1, 2)}

    @SubscribeMessage("mixed")
    def mixed(self) -> Any:
        return {
            "point": Point(1, datetime.date(2026, 1, 2), decimal.Decimal("1.10")),
            "color": Color.RED,
            "level": Level.HIGH,
            "time": datetime.time(12, 30),
            "keys": {2: "two"},
            "blob": b"\x00\x01",
        }

    @SubscribeMessage("several")
    def several(self) -> tuple[Message, Color]:
        return (msg("hi"), Color.RED)

    @SubscribeMessage("respond")
    def respond(self) -> WsResponse[Message]:
        return WsResponse("reply", msg("hi"))

    @SubscribeMessage("push")
    async def push(self, client: Annotated[Socket, ConnectedSocket()]) -> None:
        await client.emit("pushed", msg("hi"), Color.RED)
        await self.server.emit("broadcast", [msg("hi")])

    @SubscribeMessage("manual")
    async def manual(self, ack: Annotated[Any, Ack()]) -> None:
        await ack(msg("hi"))

    @SubscribeMessage("bad")
    def bad(self) -> Any:
        return {"x": NotJson()}

    @SubscribeMessage("bad_manual")
    async def bad_manual(self, ack: Annotated[Any, Ack()]) -> None:
        await ack(NotJson())

    @SubscribeMessage("bad_response")
    def bad_response(self) -> WsResponse[Any]:
        return WsResponse("never", NotJson())

    @SubscribeMessage("lazy")
    def lazy(self, text: Annotated[str, MessageBody()]) -> Any:
        return self._later(text)  # a plain def returning a coroutine

    async def _later(self, text: str) -> Message:
        await asyncio.sleep(0)
        return msg(text)

    @SubscribeMessage("ask")
    async def ask(self, client: Annotated[Socket, ConnectedSocket()]) -> Any:
        return await client.emit_with_ack("question", msg("hi"), timeout=5)


@Module(providers=[EncodingGateway])
class EncodingModule: ...


def test_the_codec_under_test_is_the_one_expected() -> None:
    """In-process runs use orjson; the subprocess run hides it (both paths are proven)."""
    if NO_ORJSON:
        assert default_json() is StdlibCodec
        with pytest.raises(ImportError):
            import orjson  # noqa: F401
    else:
        assert default_json() is OrjsonCodec


async def test_models_and_lists_of_models_are_acked(serve_app: Serve) -> None:
    app = await serve_app(EncodingModule)
    async with app.test_client("/enc") as client:
        assert await client.call("model") == MSG_JSON
        assert await client.call("models") == [MSG_JSON, MSG_JSON]
        assert await client.call("unannotated") == {"m": MSG_JSON, "tags": ["a"], "pair": [1, 2]}
        assert await client.call("several") == (MSG_JSON, "red")


async def test_dataclass_datetime_decimal_enum_and_bytes(serve_app: Serve) -> None:
    app = await serve_app(EncodingModule)
    async with app.test_client("/enc") as client:
        assert await client.call("mixed") == {
            "point": {"x": 1, "when": "2026-01-02", "price": "1.10"},
            "color": "red",
            "level": 3,
            "time": "12:30:00",
            "keys": {"2": "two"},
            "blob": b"\x00\x01",  # a binary attachment, not a string
        }


async def test_emits_responses_and_manual_acks_are_encoded(serve_app: Serve) -> None:
    app = await serve_app(EncodingModule)
    async with app.test_client("/enc") as client:
        await client.emit("respond")
        assert await client.receive("reply") == MSG_JSON
        await client.emit("push")
        assert await client.receive("pushed") == (MSG_JSON, "red")
        assert await client.receive("broadcast") == [MSG_JSON]
        assert await client.call("manual") == MSG_JSON


async def test_server_emit_with_ack_sends_a_model(serve_app: Serve) -> None:
    app = await serve_app(EncodingModule)
    async with app.test_client("/enc") as client:
        client.on("question", lambda data: {"seen": data["text"]})
        assert await client.call("ask") == {"seen": "hi"}


async def test_a_sync_handler_returning_a_coroutine_is_awaited(serve_app: Serve) -> None:
    app = await serve_app(EncodingModule)
    async with app.test_client("/enc") as client:
        assert await client.call("lazy", "later") == {**MSG_JSON, "text": "later"}


@pytest.mark.allow_errors
@pytest.mark.parametrize("event", ["bad", "bad_manual", "bad_response"])
async def test_an_unencodable_value_answers_the_ack_with_the_error(
    serve_app: Serve, event: str, nestpy_error_guard: list[dict[str, Any]]
) -> None:
    app = await serve_app(EncodingModule)
    async with app.test_client("/enc") as client:
        reply = await client.call(event, timeout=3)
        assert reply == {
            "status": "error", "message": "Internal server error",
            "cause": {"pattern": event, "data": None},
        }
        assert await client.receive("exception") == reply
        # The session goes on.
        assert await client.call("model") == MSG_JSON
    logged = [e for e in nestpy_error_guard if e.get("message") == "unhandled error in handler"]
    assert len(logged) == 1
    assert logged[0]["handler"] == f"EncodingGateway.{event}"
    assert "NotJson" in logged[0]["error"]
