"""Enhancer decorators refuse what they cannot use when the class is defined, not when the
first message arrives (``nestpy.common.decorators``)."""

from __future__ import annotations

from typing import Any

import pytest

from nestpy.common import Catch, Throttle, UseFilters, UseGuards, UseInterceptors, UsePipes


@pytest.mark.parametrize(
    ("decorator", "name"),
    [(UseGuards, "UseGuards"), (UsePipes, "UsePipes"), (UseInterceptors, "UseInterceptors"),
     (UseFilters, "UseFilters")],
)
def test_an_empty_enhancer_list_is_refused(decorator: Any, name: str) -> None:
    with pytest.raises(TypeError) as caught:
        decorator()
    assert str(caught.value) == f"@{name}() needs at least one class or instance"


@pytest.mark.parametrize(
    ("decorator", "method"),
    [(UseGuards, "can_activate"), (UsePipes, "transform"),
     (UseInterceptors, "intercept"), (UseFilters, "catch")],
)
def test_an_instance_without_the_enhancer_method_is_refused(decorator: Any, method: str) -> None:
    with pytest.raises(TypeError) as caught:
        decorator("not an enhancer")
    assert str(caught.value).endswith(
        f"got 'not an enhancer', which is neither a class nor an object with a {method}() method"
    )


def test_catch_takes_exception_classes_only() -> None:
    with pytest.raises(TypeError, match=r"@Catch\(\) takes exception classes, got 'ValueError'"):
        Catch("ValueError")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got <class 'int'>"):
        Catch(int)  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "3"])
def test_throttle_limit_is_a_positive_int(limit: Any) -> None:
    with pytest.raises(TypeError) as caught:
        Throttle(limit, 1)
    assert str(caught.value) == f"@Throttle limit must be a positive int, got {limit!r}"


@pytest.mark.parametrize("ttl", [0, -0.5, False, "1"])
def test_throttle_ttl_is_a_positive_number_of_seconds(ttl: Any) -> None:
    with pytest.raises(TypeError) as caught:
        Throttle(1, ttl)
    assert str(caught.value) == f"@Throttle ttl must be a positive number of seconds, got {ttl!r}"
