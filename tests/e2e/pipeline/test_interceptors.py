"""Interceptors over a real socket: results, timing, errors, short-circuits, streams."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Annotated, Any

import pytest
from conftest import Harness

from nestpy import Injectable, Module
from nestpy.common import CallHandler, ExecutionContext, UseInterceptors
from nestpy.websockets import (
    MessageBody,
    SubscribeMessage,
    WebSocketGateway,
    WsException,
    WsResponse,
)

pytestmark = pytest.mark.e2e


@Injectable()
class Timings:
    def __init__(self) -> None:
        self.seen: list[tuple[str, type, str, Any, float]] = []


@Injectable()
class TimingInterceptor:
    """Async, injected: records what the context says and how long the call took."""

    def __init__(self, timings: Timings) -> None:
        self.timings = timings

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        started = time.perf_counter()
        result = await call_next()
        ws = context.switch_to_ws()
        handler = context.get_handler()
        self.timings.seen.append((
            ws.get_pattern(), context.get_class(), getattr(handler, "__name__", ""),
            ws.get_data(), time.perf_counter() - started,
        ))
        return result


class Double:
    """Sync intercept returning the awaitable of a coroutine function: accepted too."""

    def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Awaitable[Any]:
        async def doubled() -> Any:
            return 2 * await call_next()

        return doubled()


class MapErrors:
    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        try:
            return await call_next()
        except ZeroDivisionError:
            raise WsException("cannot divide by zero") from None


class Cache:
    """Short-circuits: a cached value never reaches the handler."""

    def __init__(self) -> None:
        self.cache: dict[Any, Any] = {}

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        key = context.switch_to_ws().get_data()
        if key not in self.cache:
            self.cache[key] = await call_next()
        return self.cache[key]


class Suppress:
    """Turns any error into a normal result."""

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        try:
            return await call_next()
        except Exception as exc:
            return {"suppressed": type(exc).__name__}


class UpperStream:
    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        stream = await call_next()

        async def upper() -> AsyncIterator[Any]:
            async for item in stream:
                yield WsResponse(item.event, item.data.upper())
            yield WsResponse("done", "ok")

        return upper()


class Collect:
    """Turns a stream into one value: the ack."""

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        return [item.data async for item in await call_next()]


class StreamErrors:
    """Maps an error raised while the stream is consumed."""

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        stream = await call_next()

        async def guarded() -> AsyncIterator[Any]:
            try:
                async for item in stream:
                    yield item
            except ValueError as exc:
                raise WsException(f"stream failed: {exc}") from None

        return guarded()


@UseInterceptors(TimingInterceptor)
@WebSocketGateway(namespace="ns")
class InterceptedGateway:
    def __init__(self) -> None:
        self.handled: list[Any] = []

    @SubscribeMessage("sleep")
    async def sleep(self, seconds: Annotated[float, MessageBody()]) -> str:
        await asyncio.sleep(seconds)
        return "slept"

    @UseInterceptors(Double)
    @SubscribeMessage("double")
    def double(self, n: Annotated[int, MessageBody()]) -> int:
        return n

    @UseInterceptors(MapErrors)
    @SubscribeMessage("divide")
    def divide(self, pair: Annotated[list[int], MessageBody()]) -> float:
        return pair[0] / pair[1]

    @UseInterceptors(Cache())
    @SubscribeMessage("cached")
    async def cached(self, key: Annotated[str, MessageBody()]) -> str:
        self.handled.append(key)
        return f"value of {key}"

    @UseInterceptors(Suppress)
    @SubscribeMessage("suppressed")
    def suppressed(self) -> None:
        raise KeyError("x")

    @UseInterceptors(UpperStream)
    @SubscribeMessage("words")
    async def words(self, text: Annotated[str, MessageBody()]) -> AsyncIterator[WsResponse[str]]:
        for word in text.split():
            yield WsResponse("word", word)

    @UseInterceptors(Collect)
    @SubscribeMessage("collect")
    async def collect(self, n: Annotated[int, MessageBody()]) -> AsyncIterator[WsResponse[int]]:
        for i in range(n):
            yield WsResponse("never-emitted", i)

    @UseInterceptors(StreamErrors)
    @SubscribeMessage("broken")
    async def broken(self) -> AsyncIterator[WsResponse[int]]:
        yield WsResponse("item", 1)
        raise ValueError("disk on fire")


@Module(providers=[Timings, InterceptedGateway])
class InterceptedModule: ...


async def test_interceptor_times_the_call_and_sees_the_context(harness: Harness) -> None:
    app = await harness.start(InterceptedModule)
    client = await harness.connect(app)
    assert await client.call("sleep", 0.05) == "slept"
    (pattern, cls, name, data, elapsed), = app.get(Timings).seen
    assert (pattern, cls, name, data) == ("sleep", InterceptedGateway, "sleep", 0.05)
    assert elapsed >= 0.045


async def test_interceptor_changes_the_result_sync_intercept(harness: Harness) -> None:
    app = await harness.start(InterceptedModule)
    client = await harness.connect(app)
    assert await client.call("double", 21) == 42


async def test_interceptor_maps_errors(harness: Harness) -> None:
    app = await harness.start(InterceptedModule)
    client = await harness.connect(app)
    assert await client.call("divide", [6, 3]) == 2.0
    assert await client.call("divide", [1, 0]) == {
        "status": "error", "message": "cannot divide by zero",
        "cause": {"pattern": "divide", "data": [1, 0]},
    }
    assert await client.call("suppressed") == {"suppressed": "KeyError"}
    assert client.pending("exception") == 1  # only the divide error was emitted


async def test_interceptor_can_short_circuit_the_handler(harness: Harness) -> None:
    app = await harness.start(InterceptedModule)
    client = await harness.connect(app)
    for _ in range(3):
        assert await client.call("cached", "a") == "value of a"
    assert await client.call("cached", "b") == "value of b"
    assert app.get(InterceptedGateway).handled == ["a", "b"]
    # The outer (class) interceptor still ran around every call.
    assert [s[0] for s in app.get(Timings).seen] == ["cached"] * 4


async def test_interceptor_wraps_an_async_generator_handler(harness: Harness) -> None:
    app = await harness.start(InterceptedModule)
    client = await harness.connect(app)
    assert await client.call("words", "hello big world") is None
    assert [await client.receive("word") for _ in range(3)] == ["HELLO", "BIG", "WORLD"]
    assert await client.receive("done") == "ok"


async def test_interceptor_turns_a_stream_into_a_value(harness: Harness) -> None:
    app = await harness.start(InterceptedModule)
    client = await harness.connect(app)
    assert await client.call("collect", 3) == [0, 1, 2]
    assert client.pending("never-emitted") == 0


async def test_interceptor_maps_an_error_raised_mid_stream(harness: Harness) -> None:
    app = await harness.start(InterceptedModule)
    client = await harness.connect(app)
    assert await client.call("broken") == {
        "status": "error", "message": "stream failed: disk on fire",
        "cause": {"pattern": "broken", "data": None},
    }
    assert await client.receive("item") == 1
