"""``@Throttle(limit, ttl)``: per socket and event, other clients unaffected, counters
released on disconnect."""

from __future__ import annotations

import asyncio
import gc
from typing import Annotated

import pytest
from conftest import Harness

from nestpy import Module
from nestpy._pipeline.throttle import ThrottleGuard
from nestpy.common import Throttle
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e


@Throttle(2, 30)
@WebSocketGateway(namespace="ns")
class ThrottledGateway:
    def __init__(self) -> None:
        self.handled = 0

    @Throttle(3, 0.5)  # overrides the class's limit
    @SubscribeMessage("search")
    async def search(self, q: Annotated[str, MessageBody()]) -> str:
        self.handled += 1
        return q

    @SubscribeMessage("post")  # the class's limit: 2 per 30 s
    def post(self) -> str:
        return "posted"


@Module(providers=[ThrottledGateway])
class ThrottledModule: ...


def throttlers() -> list[ThrottleGuard]:
    return [o for o in gc.get_objects() if isinstance(o, ThrottleGuard) and o.ttl == 0.5]


async def test_over_the_limit_gets_too_many_requests(harness: Harness) -> None:
    app = await harness.start(ThrottledModule)
    client = await harness.connect(app)
    replies = [await client.call("search", str(i)) for i in range(5)]
    assert replies[:3] == ["0", "1", "2"]
    too_many = {"status": "error", "message": "Too many requests",
                "cause": {"pattern": "search", "data": "3"}}
    assert replies[3] == too_many
    assert replies[4]["message"] == "Too many requests"
    assert await client.receive("exception") == too_many
    assert app.get(ThrottledGateway).handled == 3
    await asyncio.sleep(0.55)  # the window is over
    assert await client.call("search", "again") == "again"


async def test_limits_are_per_socket_and_per_event(harness: Harness) -> None:
    app = await harness.start(ThrottledModule)
    first = await harness.connect(app)
    second = await harness.connect(app)
    assert [await first.call("post") for _ in range(2)] == ["posted"] * 2
    assert (await first.call("post"))["message"] == "Too many requests"
    # Another event of the same socket and the same event of another socket are unaffected.
    assert await first.call("search", "x") == "x"
    assert [await second.call("post") for _ in range(2)] == ["posted"] * 2
    assert (await second.call("post"))["message"] == "Too many requests"


async def test_counters_are_released_on_disconnect(harness: Harness) -> None:
    app = await harness.start(ThrottledModule)
    clients = [await harness.connect(app) for _ in range(3)]
    for c in clients:
        await c.call("search", "q")
    (guard,) = [g for g in throttlers() if len(g) == 3]
    for c in clients:
        await c.sio.disconnect()
    for _ in range(100):
        if len(guard) == 0:
            break
        await asyncio.sleep(0.01)
    assert len(guard) == 0
