"""``SchemaRegistry`` (``nestpy.contracts._schema``): pydantic's JSON schemas shaped for
AsyncAPI 3.0 (one ``components/schemas`` table, draft-07 keywords, TypedDicts on any Python)."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal, Optional, Union

import pydantic
import pytest
import typing_extensions

from nestpy.contracts._schema import REF_PREFIX, SchemaRegistry, _draft07


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF_PREFIX + name}


def message_types(text: type) -> tuple[type[pydantic.BaseModel], type[pydantic.BaseModel]]:
    """A ``Message`` and an ``Envelope`` holding one: the same names for every *text* type, as
    two modules of one app may declare them."""

    class Message(pydantic.BaseModel):
        text: text  # type: ignore[valid-type]

    class Envelope(pydantic.BaseModel):
        m: Message

    return Message, Envelope


def test_two_types_with_one_name_are_both_kept_and_referenced_by_their_own_names() -> None:
    reg = SchemaRegistry()
    str_message, _ = message_types(str)
    int_message, _ = message_types(int)
    assert reg.schema_for(str_message) == ref("Message")
    assert reg.schema_for(list[int_message]) == {"type": "array", "items": ref("Message2")}
    assert reg.components["Message"]["properties"]["text"]["type"] == "string"
    assert reg.components["Message2"]["properties"]["text"]["type"] == "integer"
    # the same type again is found again, not numbered a third time
    assert reg.schema_for(int_message) == ref("Message2")
    assert sorted(reg.components) == ["Message", "Message2"]


def test_a_type_referring_to_a_renamed_one_is_renamed_too_and_the_first_is_untouched() -> None:
    reg = SchemaRegistry()
    _, str_envelope = message_types(str)
    _, int_envelope = message_types(int)
    assert reg.schema_for(str_envelope) == ref("Envelope")
    first = {name: schema for name, schema in reg.components.items()}
    assert reg.schema_for(int_envelope) == ref("Envelope2")
    assert {name: reg.components[name] for name in first} == first
    assert reg.components["Envelope"]["properties"]["m"] == ref("Message")
    assert reg.components["Envelope2"]["properties"]["m"] == ref("Message2")
    assert reg.components["Message2"]["properties"]["text"]["type"] == "integer"
    assert reg.schema_for(str_envelope) == ref("Envelope")


def test_a_discriminated_union_keeps_its_refs_without_the_openapi_discriminator_object() -> None:
    class Cat(pydantic.BaseModel):
        kind: Literal["cat"]

    class Dog(pydantic.BaseModel):
        kind: Literal["dog"]

    class Pet(pydantic.BaseModel):
        animal: Annotated[Union[Cat, Dog], pydantic.Field(discriminator="kind")]  # noqa: UP007

    reg = SchemaRegistry()
    reg.schema_for(Pet)
    animal = reg.components["Pet"]["properties"]["animal"]
    assert "discriminator" not in animal
    assert animal["oneOf"] == [ref("Cat"), ref("Dog")]


def test_a_fixed_tuple_uses_draft07s_array_form_of_items() -> None:
    schema = SchemaRegistry().schema_for(tuple[int, str])
    assert "prefixItems" not in schema
    assert schema["items"] == [{"type": "integer"}, {"type": "string"}]
    assert schema["minItems"] == schema["maxItems"] == 2


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (False, {"items": [{"type": "integer"}], "additionalItems": False}),
        (
            {"type": "string"},
            {"items": [{"type": "integer"}], "additionalItems": {"type": "string"}},
        ),
    ],
)
def test_2020_12_tuples_with_a_rest_become_additional_items(items: Any, expected: Any) -> None:
    # What JSON Schema 2020-12 writes for closed and variadic tuples (``items`` after
    # ``prefixItems`` is the rest), in draft-07's words.
    node = {"type": "array", "prefixItems": [{"type": "integer"}], "items": items}
    assert _draft07(node) == {"type": "array", **expected}
    assert _draft07({"allOf": [node]}) == {"allOf": [{"type": "array", **expected}]}


def test_a_type_pydantic_cannot_describe_is_a_type_error_naming_it() -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError, match=r"cannot describe .*Opaque.* as a JSON schema"):
        SchemaRegistry().schema_for(Opaque)
    with pytest.raises(TypeError, match=r"cannot describe typing\.Callable"):
        SchemaRegistry().schema_for(typing.Callable[[int], int])


class _Required(typing.TypedDict):
    x: int


class Point(_Required, total=False):
    """A point."""

    label: str


class ExtPoint(typing_extensions.TypedDict):
    y: int


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (Point, ref("Point")),
        (Annotated[Point, "metadata"], ref("Point")),
        (Optional[Point], {"anyOf": [ref("Point"), {"type": "null"}]}),  # noqa: UP045
        (Point | int, {"anyOf": [ref("Point"), {"type": "integer"}]}),
        (dict[str, Point], {"type": "object", "additionalProperties": ref("Point")}),
        (ExtPoint, ref("ExtPoint")),
    ],
)
def test_standard_library_typed_dicts_are_described_wherever_they_are_nested(
    tp: Any, expected: Any
) -> None:
    # pydantic refuses typing.TypedDict before Python 3.12; the registry converts it.
    reg = SchemaRegistry()
    assert reg.schema_for(tp) == expected
    if "Point" in reg.components:
        point = reg.components["Point"]
        assert point["required"] == ["x"]
        assert point["properties"]["label"] == {"title": "Label", "type": "string"}
        assert point["description"] == "A point."
