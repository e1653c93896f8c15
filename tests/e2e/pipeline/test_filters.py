"""Exception filters over a real socket: @Catch matching, fall-through, the base filter
to extend, filter errors, global filters, and acks always answered."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from conftest import Harness

from nestpy import Injectable, Module
from nestpy.common import ArgumentsHost, BaseWsExceptionFilter, Catch, UseFilters
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway, WsException

pytestmark = pytest.mark.e2e


class NotFound(LookupError):
    pass


@Catch(LookupError)  # also catches its subclasses (NotFound, KeyError)
class LookupFilter:
    """Sync catch; emits its own event and answers the ack with its return value."""

    def catch(self, exception: LookupError, host: ArgumentsHost) -> Any:
        return {"status": "error", "message": f"not found: {exception.args[0]}"}


@Catch(WsException)
class LoudWsFilter:
    """Async catch that emits on another event and returns None (ack: default payload)."""

    async def catch(self, exception: WsException, host: ArgumentsHost) -> None:
        ws = host.switch_to_ws()
        await ws.get_client().emit("ws_error", {"text": str(exception), "on": ws.get_pattern()})


@Catch()
class BrokenFilter:
    def catch(self, exception: BaseException, host: ArgumentsHost) -> Any:
        raise RuntimeError("the filter itself is broken")


@Catch()
class NoCauseFilter(BaseWsExceptionFilter):
    def __init__(self) -> None:
        super().__init__(include_cause=False)


@Injectable()
class Reports:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []


@Catch()
@Injectable()
class ReportingFilter(BaseWsExceptionFilter):
    """A global filter built by the container; extends the base filter."""

    def __init__(self, reports: Reports) -> None:
        super().__init__(cause_factory=lambda pattern, data: {"event": pattern})
        self.reports = reports

    async def catch(self, exception: BaseException, host: ArgumentsHost) -> Any:
        self.reports.items.append((host.switch_to_ws().get_pattern(), type(exception).__name__))
        return await super().catch(exception, host)


@UseFilters(LoudWsFilter)
@WebSocketGateway(namespace="ns")
class FilteredGateway:
    @UseFilters(LookupFilter)
    @SubscribeMessage("find")
    def find(self, key: Annotated[str, MessageBody()]) -> str:
        if key == "ws":
            raise WsException("find refused")
        if key == "crash":
            raise ZeroDivisionError()
        raise NotFound(key)

    @UseFilters(BrokenFilter)
    @SubscribeMessage("broken")
    def broken(self) -> None:
        raise WsException("original error")

    @UseFilters(NoCauseFilter)
    @SubscribeMessage("nocause")
    async def nocause(self, client: Any, data: Any) -> None:
        raise WsException("no cause here")

    @SubscribeMessage("ok")
    def ok(self) -> str:
        return "fine"


@Module(providers=[Reports, FilteredGateway])
class FilteredModule: ...


async def test_catch_matches_by_isinstance_and_answers_the_ack(harness: Harness) -> None:
    app = await harness.start(FilteredModule)
    client = await harness.connect(app)
    assert await client.call("find", "apple") == {"status": "error", "message": "not found: apple"}
    await client.emit("find", "pear")  # no ack asked: nothing is sent at all
    assert await client.call("ok") == "fine"
    assert client.pending("exception") == 0


async def test_unmatched_error_falls_through_to_the_class_filter(harness: Harness) -> None:
    app = await harness.start(FilteredModule)
    client = await harness.connect(app)
    default = {"status": "error", "message": "find refused",
               "cause": {"pattern": "find", "data": "ws"}}
    assert await client.call("find", "ws") == default  # the filter returned None
    assert await client.receive("ws_error") == {"text": "find refused", "on": "find"}
    assert client.pending("exception") == 0


@pytest.mark.allow_errors  # provokes server errors on purpose
async def test_error_no_filter_catches_gets_the_default_payload(harness: Harness) -> None:
    app = await harness.start(FilteredModule)
    client = await harness.connect(app)
    internal = {"status": "error", "message": "Internal server error",
                "cause": {"pattern": "find", "data": "crash"}}
    assert await client.call("find", "crash") == internal
    assert await client.receive("exception") == internal


@pytest.mark.allow_errors  # provokes server errors on purpose
async def test_error_inside_a_filter_falls_back_to_the_base_filter(harness: Harness) -> None:
    app = await harness.start(FilteredModule)
    client = await harness.connect(app)
    payload = {"status": "error", "message": "original error",
               "cause": {"pattern": "broken", "data": None}}
    assert await client.call("broken") == payload  # the ack is never left hanging
    assert await client.receive("exception") == payload
    await client.emit("broken")
    assert await client.receive("exception") == payload
    assert await client.call("ok") == "fine"  # the connection is fine


async def test_extended_base_filter_without_cause(harness: Harness) -> None:
    app = await harness.start(FilteredModule)
    client = await harness.connect(app)
    payload = {"status": "error", "message": "no cause here"}
    assert await client.call("nocause", {"a": 1}) == payload
    assert await client.receive("exception") == payload


@pytest.mark.allow_errors  # provokes server errors on purpose
async def test_global_filter_is_built_with_di_and_comes_last(harness: Harness) -> None:
    app = await harness.start(FilteredModule, lambda a: a.use_global_filters(ReportingFilter))
    client = await harness.connect(app)
    internal = {"status": "error", "message": "Internal server error",
                "cause": {"event": "find"}}
    assert await client.call("find", "crash") == internal  # only the global one catches it
    assert await client.receive("exception") == internal
    assert await client.call("find", "apple") == {"status": "error", "message": "not found: apple"}
    assert app.get(Reports).items == [("find", "ZeroDivisionError")]
