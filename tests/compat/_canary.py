"""Shared checks for the canaries: each failure names the upstream attribute and the nestpy
file that relies on it, so an upgrade that breaks a private seam says where to look."""

from __future__ import annotations

import inspect
from typing import Any


def check_params(owner: Any, name: str, expected: list[str], used_in: str) -> None:
    """*owner.name* exists and takes exactly *expected* parameters."""
    label = f"{getattr(owner, '__qualname__', owner)}.{name}"
    attr = getattr(owner, name, None)
    assert attr is not None, f"{label} is gone ({used_in} relies on it)"
    params = list(inspect.signature(attr).parameters)
    assert params == expected, (
        f"{label} changed its parameters to {params} ({used_in} expects {expected})"
    )


def check_source_mentions(owner: Any, needles: list[str], used_in: str) -> None:
    """The upstream code of *owner* still contains each of *needles* (a call nestpy hooks)."""
    source = inspect.getsource(owner)
    label = getattr(owner, "__qualname__", owner)
    for needle in needles:
        assert needle in source, (
            f"{label} no longer contains {needle!r} ({used_in} relies on that call)"
        )
