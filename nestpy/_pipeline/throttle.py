"""``@Throttle`` as a guard, added to a handler's guards at bootstrap."""

from __future__ import annotations

import time
from collections.abc import Callable

from nestpy.common.context import ExecutionContext
from nestpy.common.exceptions import WsException

__all__ = ["TOO_MANY_REQUESTS", "ThrottleGuard"]

#: The message the caller receives. NestJS's ThrottlerException says
#: "ThrottlerException: Too Many Requests"; ours reads like the other guard messages.
TOO_MANY_REQUESTS = "Too many requests"


class ThrottleGuard:
    """At most *limit* calls per socket in each fixed window of *ttl* seconds.

    One instance per handler (so counts are per socket and event). O(1) per message: a
    dict lookup and two comparisons. ``release(sid)`` drops a socket's counter (called on
    disconnect), so memory follows the connected sockets.
    """

    __slots__ = ("_clock", "_hits", "limit", "ttl")

    def __init__(
        self, limit: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.ttl = ttl
        self._clock = clock
        # sid -> [window start, calls in the window]
        self._hits: dict[str, list[float]] = {}

    def can_activate(self, context: ExecutionContext) -> bool:
        """Count the call; raise ``WsException("Too many requests")`` over the limit."""
        sid = context.get_client().id
        now = self._clock()
        entry = self._hits.get(sid)
        if entry is None or now - entry[0] >= self.ttl:
            self._hits[sid] = [now, 1.0]
            return True
        if entry[1] >= self.limit:
            raise WsException(TOO_MANY_REQUESTS)
        entry[1] += 1
        return True

    def release(self, sid: str) -> None:
        """Forget *sid*'s counter."""
        self._hits.pop(sid, None)

    def __len__(self) -> int:
        return len(self._hits)

    def __repr__(self) -> str:
        return f"ThrottleGuard(limit={self.limit}, ttl={self.ttl})"
