"""BrokerLink's bounds and ordering, with a send function that fails on demand (no broker)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from asyncio_compat import within

from nestpy.websockets._outage import Backoff, BrokerLink


class Broker:
    """Records what was sent; ``down`` makes every send raise."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.down = False

    async def send(self, payload: bytes) -> None:
        if self.down:
            raise ConnectionError("down")
        self.sent.append(payload)

    async def confirm(self) -> bool:
        return not self.down

    async def settle(self, _reconnected: float, _timeout: float) -> None:
        return None


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait (bounded) until *predicate* holds."""
    async with within(timeout):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.01)


def link_for(broker: Broker, **options: int) -> BrokerLink:
    link = BrokerLink(
        "Redis", "redis://127.0.0.1:1/0", "ch", send=broker.send, confirm=broker.confirm,
        settle=broker.settle, max_delay=0.05, has_subscription=False, **options,  # type: ignore[arg-type]
    )
    return link


async def test_an_outage_buffers_in_order_and_resumes() -> None:
    broker = Broker()
    link = link_for(broker)
    link.started()
    await link.publish(b"1")
    broker.down = True
    for p in (b"2", b"3", b"4"):
        await link.publish(p)
    assert link.state == "down" and link.health().buffered == 3 and link.outages == 1
    broker.down = False
    await until(lambda: link.up)
    await link.publish(b"5")
    assert broker.sent == [b"1", b"2", b"3", b"4", b"5"]
    assert link.lost == 0 and link.health().buffered == 0
    await link.stop()


async def test_past_the_bounds_the_oldest_are_dropped_and_counted() -> None:
    broker = Broker()
    link = link_for(broker, buffer_size=3, buffer_bytes=10)
    link.started()
    broker.down = True
    for i in range(6):
        await link.publish(b"%d" % i)
    assert link.health().buffered == 3 and link.lost == 3
    await link.publish(b"x" * 9)  # 12 bytes held: the oldest go until 10 are left
    assert link.health().buffered == 2 and link.lost == 5
    await link.publish(b"y" * 11)  # larger than the byte bound: lost at once
    assert link.health().buffered == 2 and link.lost == 6
    await link.stop()  # what is still buffered is lost
    assert link.lost == 8 and link.state == "stopped"


async def test_no_buffer_counts_every_message_lost() -> None:
    broker = Broker()
    link = link_for(broker, buffer_size=0)
    link.started()
    broker.down = True
    for _ in range(4):
        await link.publish(b"m")
    assert link.lost == 4 and link.health().buffered == 0
    await link.stop()


async def test_published_before_start_is_sent_first_once_started() -> None:
    broker = Broker()
    link = link_for(broker)
    await link.publish(b"early")
    assert broker.sent == [] and link.health().buffered == 1
    link.started()
    await link.publish(b"late")
    await until(lambda: not link.health().buffered)
    assert broker.sent == [b"early", b"late"]
    await link.stop()


async def test_health_listeners_see_every_state_change() -> None:
    broker = Broker()
    link = link_for(broker)
    seen: list[str] = []
    link.add_listener(lambda h: seen.append(h.state))
    link.started()
    broker.down = True
    await link.publish(b"a")
    broker.down = False
    await until(lambda: link.up)
    await link.stop()
    assert seen == ["up", "down", "resuming", "up", "stopped"]


def test_backoff_is_capped() -> None:
    backoff = Backoff(0.5)
    delays = [backoff.next() for _ in range(8)]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.4] and max(delays) == 0.5
    backoff.reset()
    assert backoff.next() == 0.05


def test_bad_bounds_are_refused() -> None:
    broker = Broker()
    with pytest.raises(ValueError, match="outage_buffer"):
        link_for(broker, buffer_size=-1)
