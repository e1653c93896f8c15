"""Plain-WebSocket frame codec (``nestpy.websockets._ws.frames``): what ``client.send``,
broadcasts and replies put on the wire, and how incoming frames are read."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from nestpy.websockets import WsResponse
from nestpy.websockets._ws.frames import BadFrame, encode, parse_json_frame


class Item(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(populate_by_name=True)

    item_id: int = pydantic.Field(alias="itemId")
    at: datetime.date


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Colour(enum.Enum):
    RED = "red"


class Name(str):
    """A ``str`` subclass: orjson hands it to the default hook (OPT_PASSTHROUGH_SUBCLASS)."""


WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9)
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def decoded(value: Any) -> Any:
    return json.loads(encode(value))


def test_pydantic_models_are_dumped_in_json_mode_by_alias() -> None:
    item = Item(item_id=3, at=datetime.date(2024, 1, 2))
    assert decoded({"event": "item", "data": item}) == {
        "event": "item", "data": {"itemId": 3, "at": "2024-01-02"},
    }


def test_a_ws_response_nested_in_data_is_its_event_and_data() -> None:
    assert decoded([WsResponse("pong", {"n": 1})]) == [{"event": "pong", "data": {"n": 1}}]


def test_sets_become_lists_and_decimals_exact_strings() -> None:
    out = decoded({"tags": {"a"}, "frozen": frozenset({2}), "price": Decimal("10.10")})
    assert out == {"tags": ["a"], "frozen": [2], "price": "10.10"}


def test_an_integer_beyond_64_bits_falls_back_to_the_stdlib_with_the_same_conversions() -> None:
    # orjson refuses the big integer, so the whole value is encoded again by json.dumps,
    # whose default hook must convert what orjson carried natively, the same way.
    rich = {
        "when": WHEN, "day": WHEN.date(), "time": WHEN.time(), "id": ID,
        "colour": Colour.RED, "point": Point(1, 2), "item": Item(item_id=1, at=WHEN.date()),
        "price": Decimal("1.5"), "reply": WsResponse("pong", 1),
    }
    fast = decoded(rich)
    slow = decoded({**rich, "big": 2**70})
    assert slow.pop("big") == 2**70
    assert slow == fast == {
        "when": "2024-05-06T07:08:09", "day": "2024-05-06", "time": "07:08:09",
        "id": str(ID), "colour": "red", "point": {"x": 1, "y": 2},
        "item": {"itemId": 1, "at": "2024-05-06"}, "price": "1.5",
        "reply": {"event": "pong", "data": 1},
    }


def test_subclasses_of_builtins_are_encoded_as_their_base_type() -> None:
    assert encode({"name": Name("ada")}) == b'{"name":"ada"}'


def test_a_value_with_no_conversion_is_a_type_error_naming_its_type() -> None:
    class Opaque: ...

    with pytest.raises(TypeError, match=r"cannot encode a .*Opaque as JSON"):
        encode({"x": Opaque()})
    with pytest.raises(TypeError, match="Opaque"):
        encode({"x": Opaque(), "big": 2**70})  # the stdlib path says the same


@pytest.mark.parametrize(
    ("raw", "message", "request_id"),
    [
        ("{not json", "Malformed JSON frame", None),
        (b"[1, 2]", 'A frame must be a JSON object {"event": ..., "data": ...}', None),
        ('{"event": "", "id": 7}', 'A frame needs a non-empty string "event"', 7),
        ('{"event": 3, "id": "r1"}', 'A frame needs a non-empty string "event"', "r1"),
    ],
)
def test_bad_frames_say_why_and_keep_the_request_id(
    raw: str | bytes, message: str, request_id: Any
) -> None:
    with pytest.raises(BadFrame) as caught:
        parse_json_frame(raw)
    assert str(caught.value) == message
    assert caught.value.request_id == request_id


def test_a_frame_is_event_data_and_id() -> None:
    assert parse_json_frame(b'{"event": "e", "data": [1], "id": 2}') == ("e", [1], 2)
    assert parse_json_frame('{"event": "e"}') == ("e", None, None)
