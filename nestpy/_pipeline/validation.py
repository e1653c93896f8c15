"""Type-driven validation of message bodies (pydantic v2), built once per parameter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_origin

import pydantic

from nestpy.common.pipes import format_validation_errors

__all__ = ["build_validator", "format_errors"]

_FAST = (str, int, float, bool, dict, list)

#: One ``{"field", "error"}`` entry per failing field; dotted paths for nested ones.
format_errors = format_validation_errors


def build_validator(annotation: Any) -> Callable[[Any], Any] | None:
    """A callable validating and converting a value to *annotation*, or None when the
    annotation asks for nothing (``Any``, ``object``, missing).

    Pydantic models use ``model_validate``; dataclasses and every other type a
    ``TypeAdapter``. Raises ``pydantic.ValidationError`` from the returned callable.
    """
    if annotation is Any or annotation is object or annotation is None:
        return None
    # get_origin: on Python 3.10, ``dict[str, int]`` passes ``isinstance(..., type)`` and then
    # makes ``issubclass`` raise
    if (
        isinstance(annotation, type)
        and get_origin(annotation) is None
        and issubclass(annotation, pydantic.BaseModel)
    ):
        return annotation.model_validate
    validate = pydantic.TypeAdapter(annotation).validate_python
    if annotation in _FAST:
        exact = annotation

        def fast(value: Any) -> Any:
            # Already the right type: skip pydantic entirely (the common case).
            return value if type(value) is exact else validate(value)

        return fast
    return validate
