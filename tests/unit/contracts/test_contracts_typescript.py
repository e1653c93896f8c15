"""``ts_type`` (``nestpy.contracts.typescript``): the TypeScript type written for a JSON schema,
on the schemas pydantic gives for the types handlers use (tests/contracts compile whole
files with tsc)."""

from __future__ import annotations

from typing import Any, Optional

import pydantic
import pytest

from nestpy.contracts._schema import SchemaRegistry
from nestpy.contracts.typescript import ts_type


class Profile(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")

    name: str = pydantic.Field(description="The display name.\nNever contains */ markup.")
    scores: dict[str, int] = {}
    pair: tuple[int, str] = (1, "a")
    gone: None = None
    maybe: Optional[list[int | str]] = None  # noqa: UP045


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (dict[str, int], "Record<string, number>"),
        (dict[str, Any], "Record<string, unknown>"),
        (tuple[int, str], "[number, string]"),
        (None, "null"),
        (Any, "unknown"),
        (list[int | str], "(number | string)[]"),
        (Profile, "Profile"),
    ],
)
def test_types_of_handler_payloads(tp: Any, expected: str) -> None:
    assert ts_type(SchemaRegistry().schema_for(tp, "serialization")) == expected


def test_a_model_with_extra_fields_and_a_multi_line_description() -> None:
    reg = SchemaRegistry()
    reg.schema_for(Profile, "serialization")
    assert ts_type(reg.components["Profile"]) == (
        "{\n"
        "  /**\n"
        "   * The display name.\n"
        "   * Never contains *\\/ markup.\n"  # the comment cannot be closed early
        "   */\n"
        "  name: string;\n"
        "  scores?: Record<string, number>;\n"
        "  pair?: [number, string];\n"
        "  gone?: null;\n"
        "  maybe?: ((number | string)[]) | null;\n"
        "  [key: string]: unknown;\n"
        "}"
    )


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (False, "never"),  # a JSON schema that matches nothing
        (None, "unknown"),  # not a schema at all
        ({"type": ["string", "null"]}, "string | null"),  # draft-07's list of types
        ({"type": "object"}, "Record<string, unknown>"),
        ({"format": "binary"}, "unknown"),  # no type: anything
    ],
)
def test_schemas_pydantic_seldom_writes(schema: Any, expected: str) -> None:
    assert ts_type(schema) == expected
