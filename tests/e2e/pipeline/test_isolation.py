"""A failing guard, pipe, interceptor or filter on one client never disturbs another
client's concurrent requests."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
from conftest import Harness

from nestpy import Module
from nestpy.common import (
    ArgumentMetadata,
    ArgumentsHost,
    CallHandler,
    Catch,
    ExecutionContext,
    UseFilters,
    UseGuards,
    UseInterceptors,
    UsePipes,
)
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e


class SlowGuard:
    """Async; refuses (after a pause) or raises for chosen bodies."""

    async def can_activate(self, context: ExecutionContext) -> bool:
        data = context.switch_to_ws().get_data()
        await asyncio.sleep(0.001)
        if data.get("fail") == "guard-crash":
            raise RuntimeError("guard crashed")
        return bool(data.get("fail") != "guard")


class StrictPipe:
    async def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        await asyncio.sleep(0)
        if value.get("fail") == "pipe":
            raise ValueError("pipe failed")
        return value


class Slowdown:
    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        await asyncio.sleep(0.001)
        result = await call_next()
        if isinstance(result, dict) and result.get("fail") == "interceptor":
            raise RuntimeError("interceptor failed")
        return result


@Catch(KeyError)
class BrokenFilter:
    async def catch(self, exception: KeyError, host: ArgumentsHost) -> Any:
        await asyncio.sleep(0)
        raise RuntimeError("filter failed")


@UseGuards(SlowGuard)
@UsePipes(StrictPipe)
@UseInterceptors(Slowdown)
@UseFilters(BrokenFilter)
@WebSocketGateway(namespace="ns")
class BusyGateway:
    @SubscribeMessage("work")
    async def work(self, body: Annotated[dict[str, Any], MessageBody()]) -> Any:
        await asyncio.sleep(0)
        if body.get("fail") == "filter":
            raise KeyError("missing")
        return body


@Module(providers=[BusyGateway])
class BusyModule: ...


FAILURES = {
    "guard": "Forbidden resource",
    "guard-crash": "Internal server error",
    "pipe": "Internal server error",
    "interceptor": "Internal server error",
    "filter": "Internal server error",  # the filter failed: the base filter answered
}


@pytest.mark.allow_errors  # provokes server errors on purpose
async def test_failures_on_one_client_leave_the_others_alone(harness: Harness) -> None:
    app = await harness.start(BusyModule)
    bad = await harness.connect(app)
    good = [await harness.connect(app) for _ in range(3)]
    rounds = 20

    async def failing() -> list[Any]:
        calls = [bad.call("work", {"fail": kind, "i": i})
                 for i in range(rounds) for kind in FAILURES]
        return list(await asyncio.gather(*calls))

    async def working(client: Any, n: int) -> list[Any]:
        return list(await asyncio.gather(
            *(client.call("work", {"client": n, "i": i}) for i in range(rounds * 2))
        ))

    bad_replies, *good_replies = await asyncio.gather(
        failing(), *(working(c, n) for n, c in enumerate(good))
    )
    for n, replies in enumerate(good_replies):
        assert replies == [{"client": n, "i": i} for i in range(rounds * 2)]
        assert good[n].pending("exception") == 0
    expected = [FAILURES[kind] for _ in range(rounds) for kind in FAILURES]
    assert [r["message"] for r in bad_replies] == expected
    assert bad.pending("exception") == len(expected)
    # ...and the failing client itself is still served.
    assert await bad.call("work", {"ok": True}) == {"ok": True}
