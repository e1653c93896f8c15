"""Nothing declared, nothing paid: a handler without guards, interceptors or pipes is
compiled to the plain fast path (sync handlers even run inline, without a task); filters
alone keep it, and get a context only when an error happens."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from conftest import Harness

from nestpy import Module, NestApplication
from nestpy.common import ArgumentsHost, ExecutionContext, UseFilters, UseGuards
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e


class Allow:
    def can_activate(self, context: ExecutionContext) -> bool:
        return True


class Explain:
    def catch(self, exception: Exception, host: ArgumentsHost) -> Any:
        ws = host.switch_to_ws()
        handler = host.get_handler()
        assert handler is not None
        return {"caught": type(exception).__name__, "on": ws.get_pattern(),
                "data": ws.get_data(), "handler": handler.__name__}


@WebSocketGateway(namespace="ns")
class MixedGateway:
    @SubscribeMessage("plain")
    def plain(self, n: Annotated[int, MessageBody()]) -> int:
        return n + 1

    @UseFilters(Explain)
    @SubscribeMessage("filtered")
    def filtered(self, n: Annotated[int, MessageBody()]) -> float:
        return 1 / n

    @UseGuards(Allow)
    @SubscribeMessage("guarded")
    def guarded(self, n: Annotated[int, MessageBody()]) -> int:
        return n


@Module(providers=[MixedGateway])
class MixedModule: ...


def compiled(app: NestApplication, event: str) -> Any:
    assert app._registry is not None  # test-only peek at the compiled handlers
    (sio,) = app._registry.all_servers()
    runtime = sio.gateway_for("/ns")
    assert runtime is not None
    return runtime.handlers[event]


async def test_handlers_without_enhancers_take_the_fast_path(harness: Harness) -> None:
    app = await harness.start(MixedModule)
    client = await harness.connect(app)
    plain, filtered, guarded = (compiled(app, e) for e in ("plain", "filtered", "guarded"))
    assert (plain.run.__name__, plain.inline) == ("run", True)
    assert (filtered.run.__name__, filtered.inline) == ("run", True)
    assert (guarded.run.__name__, guarded.inline) == ("run_full", False)
    assert await client.call("plain", 1) == 2
    assert await client.call("filtered", 4) == 0.25
    assert await client.call("filtered", 0) == {
        "caught": "ZeroDivisionError", "on": "filtered", "data": 0, "handler": "filtered",
    }
    assert await client.call("guarded", 3) == 3


async def test_global_enhancers_leave_the_fast_path(harness: Harness) -> None:
    app = await harness.start(MixedModule, lambda a: a.use_global_guards(Allow()))
    await harness.connect(app)
    assert compiled(app, "plain").run.__name__ == "run_full"
