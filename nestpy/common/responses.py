"""``WsResponse``: a handler result that is emitted to the caller as an event.

Defined below the websockets layer so the compiled pipeline (``nestpy._pipeline``) can
recognise it; import it from ``nestpy.websockets`` (its documented home).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["WsResponse"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WsResponse(Generic[T]):
    """Emit *event* with *data* to the calling socket instead of acknowledging.

    Returned (or yielded, from an async generator) by a ``@SubscribeMessage`` handler.
    """

    event: str
    data: T = None  # type: ignore[assignment]
