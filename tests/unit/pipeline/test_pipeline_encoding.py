"""The one encoder for values put on the wire (``nestpy._pipeline.encoding``): conversions,
JSON object keys, the codec's default hook and the per-handler encoders built at bootstrap."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import json
import uuid

import pydantic
import pytest

from nestpy._pipeline.encoding import (
    EncodeError,
    encoder_for,
    event_data,
    json_default,
    to_wire,
    to_wire_args,
)


class User(pydantic.BaseModel):
    user_name: str = pydantic.Field(alias="userName")


class Admin(User):
    """A subclass: not the annotated model itself, so it takes the general path."""


class Level(enum.Enum):
    LOW = 1


class Flag(enum.IntEnum):
    ON = 1


class Tag(str):
    pass


def test_a_dict_subclass_at_the_top_level_becomes_a_plain_dict_with_converted_values() -> None:
    value = collections.OrderedDict(when=datetime.date(2024, 1, 2), n=decimal.Decimal("2.50"))
    out = to_wire(value)
    assert type(out) is dict
    assert out == {"when": "2024-01-02", "n": "2.50"}


def test_keys_become_strings_as_the_stdlib_json_module_writes_them() -> None:
    day = datetime.date(2024, 1, 2)
    ident = uuid.UUID(int=1)
    out = to_wire(collections.OrderedDict([
        (Level.LOW, "enum"), (Tag("t"), "str subclass"), (True, "true"), (False, "false"),
        (None, "none"), (3, "int"), (1.5, "float"), (day, "date"), (ident, "uuid"),
    ]))
    assert out == {
        "1": "enum", "t": "str subclass", "true": "true", "false": "false", "null": "none",
        "3": "int", "1.5": "float", "2024-01-02": "date", str(ident): "uuid",
    }
    assert type(next(k for k in out if k == "t")) is str  # not the subclass


def test_subclasses_of_builtins_pass_and_bytearray_becomes_bytes() -> None:
    assert to_wire(Tag("x")) == "x"
    assert to_wire(Flag.ON) == 1  # an IntEnum is an Enum first: its value
    out = to_wire(bytearray(b"\x00\x01"))
    assert out == b"\x00\x01" and type(out) is bytes


def test_arguments_and_event_data_convert_only_what_is_not_native() -> None:
    day = datetime.date(2024, 1, 2)
    plain = {"a": [1]}
    args = to_wire_args((plain, day, {Level.LOW}))
    assert args == [plain, "2024-01-02", [1]] and args[0] is plain
    assert event_data("e", (day, 1)) == ["e", "2024-01-02", 1]


def test_the_codec_hook_converts_and_refuses_what_has_no_conversion() -> None:
    assert json_default(uuid.UUID(int=2)) == str(uuid.UUID(int=2))
    with pytest.raises(EncodeError) as caught:
        json_default(b"raw")  # bytes nested where JSON cannot hold them
    assert caught.value.type is bytes
    with pytest.raises(EncodeError, match=r"builtins\.object"):
        to_wire(object())


def test_a_model_annotation_dumps_by_alias_and_anything_else_takes_the_general_path() -> None:
    encode = encoder_for(User)
    assert encode(User(userName="ada")) == {"userName": "ada"}
    assert encode(Admin(userName="root")) == {"userName": "root"}
    assert encode(None) is None  # a handler may still return None
    # a dict is native at the top level: the codec converts what is nested (json_default)
    nested = encode({"d": datetime.date(2024, 1, 2)})
    assert json.loads(json.dumps(nested, default=json_default)) == {"d": "2024-01-02"}


def test_a_list_of_models_annotation_and_values_that_are_not_exactly_that() -> None:
    encode = encoder_for(list[User])
    assert encode([User(userName="a"), User(userName="b")]) == [
        {"userName": "a"}, {"userName": "b"},
    ]
    mixed = [User(userName="a"), Admin(userName="b")]
    assert encode(mixed) is mixed  # not all exactly User: the codec converts each item
    assert json.loads(json.dumps(mixed, default=json_default)) == [
        {"userName": "a"}, {"userName": "b"},
    ]
    assert encode((User(userName="t"),)) == [{"userName": "t"}]  # a tuple: general path
    assert encoder_for(list[int]) is to_wire
    assert encoder_for(int) is to_wire
