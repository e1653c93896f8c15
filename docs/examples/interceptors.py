"""Interceptors (docs/interceptors.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, ClassVar

from nestpy import Injectable, Logger, Module
from nestpy.common import CallHandler, ExecutionContext, NestInterceptor, UseInterceptors
from nestpy.websockets import (
    MessageBody,
    SubscribeMessage,
    WebSocketGateway,
    WsException,
    WsResponse,
)


# --8<-- [start:logging]
@Injectable()
class Metrics:
    """Collects (event, milliseconds) pairs; a real app would export them."""

    def __init__(self) -> None:
        self.timings: list[tuple[str, float]] = []


@Injectable()
class LoggingInterceptor(NestInterceptor):
    """Logs and records how long each message took."""

    logger = Logger("LoggingInterceptor")

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        pattern = context.switch_to_ws().get_pattern()
        started = time.perf_counter()
        try:
            return await call_next()
        finally:
            ms = (time.perf_counter() - started) * 1000
            self.metrics.timings.append((pattern, ms))
            self.logger.info("handled", pattern=pattern, ms=round(ms, 3))
# --8<-- [end:logging]


# --8<-- [start:transform]
class WrapInterceptor(NestInterceptor):
    """Wraps every result: `x` becomes `{"data": x}`."""

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        return {"data": await call_next()}


class ErrorsInterceptor(NestInterceptor):
    """Maps domain errors to messages for the client."""

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        try:
            return await call_next()
        except KeyError as exc:
            raise WsException(f"unknown item {exc.args[0]!r}") from exc


class TimeoutInterceptor(NestInterceptor):
    """Fails a call that takes longer than `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        try:
            return await asyncio.wait_for(call_next(), self.seconds)
        except asyncio.TimeoutError:  # the builtin TimeoutError from Python 3.11 on
            raise WsException("Request timed out") from None
# --8<-- [end:transform]


# --8<-- [start:stream]
class NumberedInterceptor(NestInterceptor):
    """For streaming handlers: `call_next()` returns the async iterator; wrap it."""

    async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
        stream: AsyncIterator[WsResponse[Any]] = await call_next()

        async def numbered() -> AsyncIterator[WsResponse[Any]]:
            n = 0
            async for item in stream:
                n += 1
                yield WsResponse(item.event, {"n": n, "data": item.data})

        return numbered()
# --8<-- [end:stream]


# --8<-- [start:gateway]
@UseInterceptors(LoggingInterceptor)
@WebSocketGateway(namespace="items")
class ItemsGateway:
    items: ClassVar[dict[str, int]] = {"apple": 3, "pear": 5}

    @UseInterceptors(WrapInterceptor, ErrorsInterceptor)
    @SubscribeMessage("stock")
    def stock(self, name: Annotated[str, MessageBody()]) -> int:
        return self.items[name]  # KeyError → "unknown item 'kiwi'"

    @UseInterceptors(TimeoutInterceptor(0.2))
    @SubscribeMessage("slow")
    async def slow(self, seconds: Annotated[float, MessageBody()]) -> str:
        await asyncio.sleep(seconds)
        return "done"

    @UseInterceptors(NumberedInterceptor)
    @SubscribeMessage("countdown")
    async def countdown(
        self, start: Annotated[int, MessageBody()]
    ) -> AsyncIterator[WsResponse[int]]:
        for i in range(start, 0, -1):
            yield WsResponse("tick", i)


@Module(providers=[Metrics, ItemsGateway])
class ItemsModule: ...
# --8<-- [end:gateway]
