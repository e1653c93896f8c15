"""Per-socket event rate limit: a token bucket checked before an event reaches its handler.

``@WebSocketGateway(rate_limit={"rate": 50, "burst": 100, "on_exceed": "error"})``: each
socket (one client on one namespace) may send *burst* events at once and *rate* events per
second on average. An event past the limit never reaches a handler:

* ``on_exceed="error"`` (default): an event that asked for an ack is answered with
  ``{"status": "error", "message": "Rate limit exceeded"}`` (no client waits forever); for
  events without an ack, the client gets that payload once as an ``exception`` event when it
  starts exceeding, not once per dropped event (a flood must not make the server talk as much);
* ``on_exceed="disconnect"``: the ack (if any) is answered as above, then the socket is
  disconnected by the server (``io server disconnect`` on the client).

Off by default (docs/reliability.md "Rate limits" says why). The check is O(1) and
synchronous: three numbers per socket, updated in place; buckets of sockets gone are pruned
as new ones appear.

.. versionadded:: 0.2
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from nestpy.exceptions import BootstrapError
from nestpy.logger import Logger

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer
    from nestpy.websockets.socket import Socket

__all__ = ["EXCEEDED", "RateLimit", "RateLimiter", "parse_rate_limit"]

_log = Logger("nestpy.websockets.ratelimit")

#: The error payload for an event past the limit (an ack's answer, or an ``exception`` event).
EXCEEDED: Final = {"status": "error", "message": "Rate limit exceeded"}
_ON_EXCEED: Final = ("error", "disconnect")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A validated ``rate_limit`` gateway option.

    Attributes:
        rate: events per second a socket may send on average (> 0).
        burst: events a socket may send at once (>= 1; default ``2 * rate``, at least 1).
        on_exceed: ``"error"`` or ``"disconnect"``.
    """

    rate: float
    burst: float
    on_exceed: Literal["error", "disconnect"] = "error"


def parse_rate_limit(value: Any, gateway: type) -> RateLimit | None:
    """The ``RateLimit`` for the gateway option *value* (a dict, a ``RateLimit`` or None).

    Raises:
        BootstrapError: a malformed option, naming the gateway and the fix.
    """
    if value is None or isinstance(value, RateLimit):
        return value
    head = f"[gateway={gateway.__qualname__}] rate_limit"
    if not isinstance(value, dict):
        raise BootstrapError(
            f"{head} must be a dict like {{'rate': 50, 'burst': 100, 'on_exceed': 'error'}}, "
            f"got {type(value).__name__}"
        )
    unknown = sorted(set(value) - {"rate", "burst", "on_exceed"})
    if unknown:
        raise BootstrapError(f"{head}: unknown key(s) {unknown}; use rate, burst, on_exceed")
    rate = value.get("rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
        raise BootstrapError(f"{head}: 'rate' (events per second) must be a number > 0")
    burst = value.get("burst", max(2 * rate, 1))
    if isinstance(burst, bool) or not isinstance(burst, int | float) or burst < 1:
        raise BootstrapError(f"{head}: 'burst' (events at once) must be a number >= 1")
    on_exceed = value.get("on_exceed", "error")
    if on_exceed not in _ON_EXCEED:
        raise BootstrapError(f"{head}: 'on_exceed' must be 'error' or 'disconnect'")
    return RateLimit(float(rate), float(burst), on_exceed)


class RateLimiter:
    """Token buckets of one Socket.IO server's sockets, keyed by socket id."""

    __slots__ = ("_buckets", "_disconnect", "_server", "burst", "rate")

    def __init__(self, limit: RateLimit, server: NestAsyncServer) -> None:
        self.rate = limit.rate
        self.burst = limit.burst
        self._disconnect = limit.on_exceed == "disconnect"
        self._server = server
        # sid → [tokens, last refill (monotonic), 1.0 while exceeding else 0.0]
        self._buckets: dict[str, list[float]] = {}

    def check(self, sock: Socket, ack_id: int | None) -> Coroutine[Any, Any, None] | None:
        """Take a token for one event of *sock*: None when the event may proceed (nothing
        allocated but the bucket's floats), else the answer to await (``on_exceed``); the
        event is then dropped."""
        now = time.monotonic()
        bucket = self._buckets.get(sock.id)
        if bucket is None:
            bucket = self._new_bucket(sock.id, now)
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            bucket[2] = 0.0
            return None
        bucket[0] = tokens
        first = bucket[2] == 0.0
        bucket[2] = 1.0
        return self._exceeded(sock, ack_id, first)

    def _new_bucket(self, sid: str, now: float) -> list[float]:
        buckets = self._buckets
        live = self._server.nest_sockets
        if len(buckets) > 2 * len(live) + 64:
            # Amortised O(1): sockets that left since the last prune lose their bucket.
            for gone in [s for s in buckets if s not in live]:
                del buckets[gone]
        bucket = buckets[sid] = [self.burst, now, 0.0]
        return bucket

    async def _exceeded(self, sock: Socket, ack_id: int | None, first: bool) -> None:
        if first:
            _log.warning(
                "event rate limit exceeded", sid=sock.id, namespace=sock.namespace,
                rate=self.rate, burst=self.burst,
                action="disconnect" if self._disconnect else "error",
            )
        if ack_id is not None:
            await self._server.send_ack(sock, ack_id, [EXCEEDED])
        elif first and not self._disconnect:
            await sock.emit("exception", EXCEEDED)
        if self._disconnect and sock.connected:
            self._buckets.pop(sock.id, None)
            await sock.disconnect()

    def forget(self, sid: str) -> None:
        """Drop *sid*'s bucket (the socket left)."""
        self._buckets.pop(sid, None)

    def __len__(self) -> int:
        return len(self._buckets)
