"""Built-in pipes (``nestpy.common.pipes``) on their own: the options and edge values the
e2e suite (tests/e2e/pipeline/test_pipes.py) does not send over a socket."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import pytest

from nestpy.common import ArgumentMetadata
from nestpy.common.pipes import (
    ParseBoolPipe,
    ParseFloatPipe,
    ParseIntPipe,
    ParseUUIDPipe,
    ValidationPipe,
)
from nestpy.websockets import WsException

BODY = ArgumentMetadata("body", Any, None)


class Refused(Exception):
    pass


@pytest.mark.parametrize("pipe", [ParseIntPipe, ParseFloatPipe, ParseBoolPipe, ParseUUIDPipe])
def test_optional_parse_pipes_let_none_through_and_others_refuse_it(pipe: Any) -> None:
    assert pipe(optional=True).transform(None, BODY) is None
    with pytest.raises(WsException):
        pipe().transform(None, BODY)


def test_an_exception_factory_gets_nestjss_message() -> None:
    pipe = ParseIntPipe(exception_factory=Refused)
    with pytest.raises(Refused) as caught:
        pipe.transform("1.5", BODY)
    assert str(caught.value) == "Validation failed (numeric string is expected)"


@pytest.mark.parametrize("value", [True, "abc", "inf", float("nan"), [1.0]])
def test_parse_float_refuses_booleans_non_numbers_and_non_finite_values(value: Any) -> None:
    with pytest.raises(WsException) as caught:
        ParseFloatPipe().transform(value, BODY)
    assert caught.value.get_error() == "Validation failed (numeric string is expected)"


def test_parse_float_converts_ints_and_numeric_strings() -> None:
    assert ParseFloatPipe().transform(2, BODY) == 2.0
    assert ParseFloatPipe().transform("1e3", BODY) == 1000.0


def test_parse_uuid_checks_the_version_it_was_given() -> None:
    v4 = str(uuid.uuid4())
    v1 = str(uuid.uuid1())
    assert ParseUUIDPipe(version=4).transform(v4, BODY) == v4
    with pytest.raises(WsException) as caught:
        ParseUUIDPipe(version="4").transform(v1, BODY)
    assert caught.value.get_error() == "Validation failed (uuid v4 is expected)"
    with pytest.raises(ValueError, match="ParseUUIDPipe version must be 3, 4, 5 or 7, got 6"):
        ParseUUIDPipe(version=6)


def test_validation_pipe_handles_an_annotation_that_cannot_be_hashed() -> None:
    # Annotated metadata may be a dict (unhashable): the pipe cannot cache its validator,
    # so it builds one per call, and still validates.
    metatype = list[Annotated[int, {"doc": "an id"}]]
    with pytest.raises(TypeError):
        hash(metatype)
    pipe = ValidationPipe()
    assert pipe.validates(metatype)
    meta = ArgumentMetadata("body", metatype, "ids")
    assert pipe.transform(["1", 2], meta) == [1, 2]
    with pytest.raises(WsException) as caught:
        pipe.transform(["x"], meta)
    errors = caught.value.get_error()
    assert [e["field"] for e in errors] == ["ids.0"]


def test_validation_pipe_validates_generic_containers() -> None:
    # On Python 3.10 ``dict[str, int]`` passes isinstance(..., type): it must not be taken
    # for a class (issubclass would raise) but validated like any other type.
    pipe = ValidationPipe(forbid_non_whitelisted=True)
    meta = ArgumentMetadata("body", dict[str, int], None)
    assert pipe.transform({"a": "1"}, meta) == {"a": 1}
    with pytest.raises(WsException) as caught:
        pipe.transform({"a": "x"}, meta)
    assert [e["field"] for e in caught.value.get_error()] == ["a"]
