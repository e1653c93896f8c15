"""Type-driven validation of message bodies (pydantic v2), built once per parameter."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pydantic

__all__ = ["build_validator", "format_errors"]

_FAST = (str, int, float, bool, dict, list)


def format_errors(exc: pydantic.ValidationError, prefix: str | None = None) -> list[dict[str, str]]:
    """One ``{"field", "error"}`` entry per failing field; dotted paths for nested ones."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        parts = [str(p) for p in err.get("loc", ())]
        if prefix:
            parts.insert(0, prefix)
        out.append({"field": ".".join(parts) or "body", "error": str(err.get("msg", ""))})
    return out


def build_validator(annotation: Any) -> Callable[[Any], Any] | None:
    """A callable validating and converting a value to *annotation*, or None when the
    annotation asks for nothing (``Any``, ``object``, missing).

    Raises ``pydantic.ValidationError`` from the returned callable.
    """
    if annotation is Any or annotation is object or annotation is None:
        return None
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        model = annotation
        return model.model_validate
    adapter = pydantic.TypeAdapter(annotation)
    validate = adapter.validate_python
    if annotation in _FAST:
        exact = annotation

        def fast(value: Any) -> Any:
            # Already the right type: skip pydantic entirely (the common case).
            return value if type(value) is exact else validate(value)

        return fast
    if dataclasses.is_dataclass(annotation):
        return validate
    return validate
