"""Broker outages: buffer what is published meanwhile, reconnect fast, say so once.

A ``BrokerLink`` sits between a pub/sub manager's ``_publish`` (python-socketio's subclass
contract: one call per cross-node message) and the broker client, and tracks the manager's
subscription (``_listen``). Its states:

* ``starting`` — before the manager's first round trip through the broker;
* ``up`` — publishes go straight to the broker;
* ``down`` — the broker is unreachable (a publish failed or the subscription broke): publishes
  are kept in a bounded buffer, the oldest dropped (and counted) past ``buffer_size`` messages
  or ``buffer_bytes`` bytes; ONE warning is logged when the outage starts;
* ``resuming`` — the broker answers again and our subscription is back; waiting (at most
  ``resume_timeout``) for the other nodes to be subscribed again, because Redis pub/sub and a
  RabbitMQ exclusive queue deliver nothing to a node that is not subscribed at that moment;
* ``stopped`` — closed.

Recovery runs in one task per outage: retry with a back-off from 50 ms capped at ``max_delay``
(default 0.5 s, so delivery resumes within a second of the broker's return; an attempt
against a broker that is down on loopback costs one refused connection), check the round trip,
let the peers settle, then send the buffer in order and go ``up``; the "delivery resumed" line
is logged only then, with the outage's duration and what was sent or lost.

.. versionadded:: 0.2
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from nestpy.logger import Logger

__all__ = [
    "DEFAULT_BUFFER_BYTES",
    "DEFAULT_BUFFER_SIZE",
    "DEFAULT_MAX_DELAY",
    "DEFAULT_RESUME_TIMEOUT",
    "AdapterHealth",
    "Backoff",
    "BrokerLink",
    "HealthListener",
    "LinkState",
]

_log = Logger("nestpy.websockets.cluster")

#: Messages kept while the broker is down (per manager, i.e. per Socket.IO server).
DEFAULT_BUFFER_SIZE: Final = 1000
#: Bytes kept while the broker is down (per manager).
DEFAULT_BUFFER_BYTES: Final = 8 * 1024 * 1024
#: Longest wait between two reconnection attempts, in seconds.
DEFAULT_MAX_DELAY: Final = 0.5
#: Longest wait, once reconnected, for the other nodes to be subscribed again, in seconds.
DEFAULT_RESUME_TIMEOUT: Final = 3.0
_FIRST_DELAY: Final = 0.05

LinkState = Literal["starting", "up", "down", "resuming", "stopped"]


@dataclass(frozen=True, slots=True)
class AdapterHealth:
    """A snapshot of a cluster adapter's (or ``Emitter``'s) link to its broker.

    Attributes:
        state: ``"starting"``, ``"up"``, ``"down"``, ``"resuming"`` or ``"stopped"``.
        broker: ``"Redis"`` or ``"RabbitMQ"``.
        url: the broker URL, password redacted.
        since: ``time.time()`` when the current state began.
        buffered: messages waiting for the broker now.
        lost: messages dropped since start (buffer full, or the adapter stopped while down).
        outages: outages since start.
        error: what the client library said when the current outage began (``None`` when up).

    .. versionadded:: 0.2
    """

    state: LinkState
    broker: str
    url: str
    since: float
    buffered: int
    lost: int
    outages: int
    error: str | None

    @property
    def healthy(self) -> bool:
        """True when cross-node messages are being delivered (state ``"up"``)."""
        return self.state == "up"


#: ``callback(health)``, sync or async, called on every state change.
HealthListener = Callable[[AdapterHealth], "Awaitable[None] | None"]


class Backoff:
    """Exponential back-off from 50 ms, doubled per attempt, capped at *cap* seconds."""

    __slots__ = ("_next", "cap")

    def __init__(self, cap: float = DEFAULT_MAX_DELAY) -> None:
        self.cap = cap
        self._next = min(_FIRST_DELAY, cap)

    def reset(self) -> None:
        """Start again from the first delay (after a success)."""
        self._next = min(_FIRST_DELAY, self.cap)

    def next(self) -> float:
        """The delay before the next attempt."""
        delay = self._next
        self._next = min(delay * 2, self.cap)
        return delay


class BrokerLink:
    """Outage state, buffer and recovery for one publisher (see the module docstring).

    Args:
        broker: ``"Redis"`` or ``"RabbitMQ"`` (for logs and health).
        url: the broker URL, password redacted.
        channel: the channel or exchange (for logs).
        send: publishes one payload; raises on failure (``BrokerUnavailableError``).
        confirm: after the broker answers again, proves the round trip (the manager's own
            hello came back); returns False to retry. Raises like *send*.
        settle: waits (bounded by *resume_timeout*) until the other nodes are subscribed
            again; gets the time of reconnection.
        buffer_size, buffer_bytes: bounds of the outage buffer (0 disables buffering:
            everything published while down is counted lost).
        resume_timeout: upper bound for *settle*.
        max_delay: cap of the reconnection back-off.
        has_subscription: False for a publisher without a subscription (``Emitter``).
    """

    def __init__(
        self,
        broker: str,
        url: str,
        channel: str,
        *,
        send: Callable[[bytes], Awaitable[Any]],
        confirm: Callable[[], Awaitable[bool]],
        settle: Callable[[float, float], Awaitable[None]],
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        resume_timeout: float = DEFAULT_RESUME_TIMEOUT,
        max_delay: float = DEFAULT_MAX_DELAY,
        has_subscription: bool = True,
    ) -> None:
        if buffer_size < 0 or buffer_bytes < 0:
            raise ValueError("outage_buffer and outage_buffer_bytes must be >= 0")
        if resume_timeout < 0 or max_delay <= 0:
            raise ValueError("resume_timeout must be >= 0 and reconnect_max_delay > 0")
        self.broker = broker
        self.url = url
        self.channel = channel
        self._send = send
        self._confirm = confirm
        self._settle = settle
        self.buffer_size = buffer_size
        self.buffer_bytes = buffer_bytes
        self.resume_timeout = resume_timeout
        self.max_delay = max_delay
        self.state: LinkState = "starting"
        self._since = time.time()
        self._buffer: deque[bytes] = deque()
        self._buffer_len = 0  # bytes in _buffer
        self.lost = 0
        self.outages = 0
        self._outage_lost = 0
        self._outage_started = 0.0
        self._error: str | None = None
        self._subscribed = asyncio.Event()
        if not has_subscription:
            self._subscribed.set()
        self._has_subscription = has_subscription
        self._resubscribed_at = 0.0
        self._recovery: asyncio.Task[None] | None = None
        self._listeners: list[HealthListener] = []
        self._callbacks: set[asyncio.Future[Any]] = set()

    # -- state --------------------------------------------------------------------------

    @property
    def up(self) -> bool:
        """True when publishes go straight to the broker."""
        return self.state == "up"

    def health(self) -> AdapterHealth:
        """The current ``AdapterHealth``."""
        return AdapterHealth(
            self.state, self.broker, self.url, self._since, len(self._buffer), self.lost,
            self.outages, self._error,
        )

    def add_listener(self, callback: HealthListener) -> None:
        """Call *callback(health)* on every state change (sync or async; errors are logged)."""
        self._listeners.append(callback)

    def _set_state(self, state: LinkState) -> None:
        if state == self.state:
            return
        self.state = state
        self._since = time.time()
        if not self._listeners:
            return
        health = self.health()
        for callback in list(self._listeners):
            try:
                result = callback(health)
                if asyncio.iscoroutine(result):
                    task = asyncio.ensure_future(result)
                    self._callbacks.add(task)
                    task.add_done_callback(self._callback_done)
            except Exception:
                _log.exception("adapter health callback failed", broker=self.broker)

    def _callback_done(self, task: asyncio.Future[Any]) -> None:
        self._callbacks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("adapter health callback failed", broker=self.broker,
                       error=repr(task.exception()))

    def started(self) -> None:
        """The manager's first round trip succeeded: deliver directly from now on (after
        anything published before, which is sent first, in order)."""
        if self.state != "starting":
            return
        self._set_state("up")
        if self._buffer and (self._recovery is None or self._recovery.done()):
            self._recovery = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        if await self._flush() is None:
            self.broken(self._error or "publish failed")

    # -- publishing ---------------------------------------------------------------------

    async def publish(self, payload: bytes) -> None:
        """Send *payload* now, or keep it for after the outage (or count it lost).

        Never raises for a broker failure: the first failure starts an outage.
        """
        if self.state == "up" and not self._buffer:
            try:
                await self._send(payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._keep(payload)
                self.broken(exc)
            return
        if self.state == "stopped":
            self.lost += 1
            return
        self._keep(payload)

    def _keep(self, payload: bytes) -> None:
        if self.buffer_size == 0 or len(payload) > self.buffer_bytes:
            self.lost += 1
            self._outage_lost += 1
            return
        buffer = self._buffer
        buffer.append(payload)
        self._buffer_len += len(payload)
        # Past a bound, the oldest messages go: what is newest matters most in real time.
        while len(buffer) > self.buffer_size or self._buffer_len > self.buffer_bytes:
            self._buffer_len -= len(buffer.popleft())
            self.lost += 1
            self._outage_lost += 1

    # -- outage and recovery ------------------------------------------------------------

    def broken(self, exc: BaseException | str) -> None:
        """A publish failed or the subscription broke: start an outage (once) and recover."""
        if self.state in ("stopped", "starting"):
            return
        if self.state == "up":
            self.outages += 1
            self._outage_started = time.monotonic()
            self._outage_lost = 0
            self._error = exc if isinstance(exc, str) else _describe(exc)
            _log.warning(
                "cluster broker unreachable; local clients are still served and cross-node "
                "messages are buffered until it is back",
                broker=self.broker, url=self.url, channel=self.channel, error=self._error,
                buffer_size=self.buffer_size,
            )
        self._set_state("down")
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.ensure_future(self._recover())

    def subscription_lost(self, exc: BaseException | str) -> None:
        """The manager's listener lost its subscription."""
        self._subscribed.clear()
        self.broken(exc)

    def subscribed(self) -> None:
        """The manager's listener (re-)subscribed to the channel."""
        self._resubscribed_at = time.monotonic()
        self._subscribed.set()

    async def _recover(self) -> None:
        backoff = Backoff(self.max_delay)
        while True:
            await self._subscribed.wait()
            try:
                confirmed = await self._confirm()
            except asyncio.CancelledError:
                raise
            except Exception:
                confirmed = False
            if not confirmed:
                await asyncio.sleep(backoff.next())
                continue
            self._set_state("resuming")
            reconnected = self._resubscribed_at if self._has_subscription else time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    self._settle(reconnected, self.resume_timeout), self.resume_timeout
                )
            sent = await self._flush()
            if sent is None:  # failed again mid-flush: still down
                self._set_state("down")
                await asyncio.sleep(backoff.next())
                continue
            self._set_state("up")
            _log.info(
                "cluster broker reachable again; cross-node delivery resumed",
                broker=self.broker, url=self.url, channel=self.channel,
                outage_s=round(time.monotonic() - self._outage_started, 3),
                buffered_sent=sent, lost=self._outage_lost,
            )
            self._error = None
            return

    async def _flush(self) -> int | None:
        """Send the buffer in order; the number sent, or None when the broker failed again."""
        sent = 0
        buffer = self._buffer
        while buffer:
            payload = buffer[0]
            try:
                await self._send(payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._error = _describe(exc)
                return None
            # Only now: a message that failed stays first in line.
            if buffer and buffer[0] is payload:
                buffer.popleft()
                self._buffer_len -= len(payload)
            sent += 1
        return sent

    async def stop(self) -> None:
        """Stop recovering; what is still buffered is counted lost (logged once)."""
        if self.state == "stopped":
            return
        recovery, self._recovery = self._recovery, None
        if recovery is not None and not recovery.done():
            recovery.cancel()
            with contextlib.suppress(BaseException):
                await recovery
        if self._buffer:
            n = len(self._buffer)
            self.lost += n
            _log.warning(
                "cluster adapter stopped while the broker was unreachable; buffered messages "
                "were not sent", broker=self.broker, url=self.url, lost=n,
            )
            self._buffer.clear()
            self._buffer_len = 0
        self._set_state("stopped")
        for task in list(self._callbacks):
            task.cancel()


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str):
        return reason  # BrokerUnavailableError: already redacted
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
