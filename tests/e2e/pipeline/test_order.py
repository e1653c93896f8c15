"""Execution order and scope, as NestJS: guards, interceptors and pipes global → class →
method (then the parameter's own pipes); filters method → class → global, and within one
``@UseFilters(A, B)`` the last listed first. Every enhancer here is a class built by the
container and injects the ``Trace`` provider."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from conftest import Harness

from nestpy import Injectable, Module, NestApplication
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


@Injectable()
class Trace:
    def __init__(self) -> None:
        self.steps: list[str] = []


def guard(name: str) -> type:
    class G:
        def __init__(self, trace: Trace) -> None:
            self.trace = trace

        def can_activate(self, context: ExecutionContext) -> bool:
            self.trace.steps.append(f"guard:{name}")
            return True

    G.__qualname__ = f"Guard_{name}"
    return G


def interceptor(name: str) -> type:
    class Icp:
        def __init__(self, trace: Trace) -> None:
            self.trace = trace

        async def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Any:
            self.trace.steps.append(f"before:{name}")
            result = await call_next()
            self.trace.steps.append(f"after:{name}")
            return [*result, name]

    Icp.__qualname__ = f"Interceptor_{name}"
    return Icp


def pipe(name: str) -> type:
    class P:
        def __init__(self, trace: Trace) -> None:
            self.trace = trace

        def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
            self.trace.steps.append(f"pipe:{name}")
            return [*value, name] if isinstance(value, list) else value

    P.__qualname__ = f"Pipe_{name}"
    return P


class Boom(Exception): ...


class Other(Exception): ...


def exc_filter(name: str, *types: type[BaseException]) -> type:
    @Catch(*types)
    class F:
        def __init__(self, trace: Trace) -> None:
            self.trace = trace

        def catch(self, exception: BaseException, host: ArgumentsHost) -> Any:
            self.trace.steps.append(f"filter:{name}")
            return {"caught_by": name}

    F.__qualname__ = f"Filter_{name}"
    return F


@UseGuards(guard("class1"), guard("class2"))
@UseInterceptors(interceptor("class"))
@UsePipes(pipe("class"))
@UseFilters(exc_filter("class", Boom, Other))
@WebSocketGateway(namespace="ns")
class OrderGateway:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    @UseGuards(guard("method1"))
    @UseGuards(guard("method2"))  # applied first: bottom decorator first, as Python does
    @UseInterceptors(interceptor("method1"), interceptor("method2"))
    @UsePipes(pipe("method"))
    @SubscribeMessage("run")
    def run(self, body: Annotated[list[str], MessageBody(None, pipe("param"))]) -> list[str]:
        self.trace.steps.append("handler")
        return body

    @UseFilters(exc_filter("method-a", Boom), exc_filter("method-b", Boom))
    @SubscribeMessage("fail")
    def fail(self, kind: Annotated[str, MessageBody()]) -> None:
        raise {"boom": Boom, "other": Other, "value": ValueError, "key": KeyError}[kind]()


@Module(providers=[Trace, OrderGateway])
class OrderModule: ...


def with_globals(app: NestApplication) -> None:
    app.use_global_guards(guard("global"))
    app.use_global_interceptors(interceptor("global"))
    app.use_global_pipes(pipe("global"))
    app.use_global_filters(exc_filter("global-all"), exc_filter("global-value", ValueError))


async def test_guards_interceptors_pipes_run_global_then_class_then_method(
    harness: Harness,
) -> None:
    app = await harness.start(OrderModule, with_globals)
    client = await harness.connect(app)
    trace = app.get(Trace)
    trace.steps.clear()  # the handshake ran the class guards
    result = await client.call("run", [])
    assert trace.steps == [
        "guard:global", "guard:class1", "guard:class2", "guard:method2", "guard:method1",
        "before:global", "before:class", "before:method1", "before:method2",
        "pipe:global", "pipe:class", "pipe:method", "pipe:param",
        "handler",
        "after:method2", "after:method1", "after:class", "after:global",
    ]
    # Pipes fed the handler in order; interceptors saw the result innermost first.
    assert result == [
        "global", "class", "method", "param", "method2", "method1", "class", "global",
    ]


@pytest.mark.parametrize(
    ("kind", "caught_by"),
    [
        ("boom", "method-b"),  # @UseFilters(A, B): B is tried first
        ("other", "class"),  # no method filter catches Other: the class's does
        ("value", "global-value"),  # use_global_filters(all, value): the last first
        ("key", "global-all"),  # only the catch-all global filter is left
    ],
)
async def test_filters_are_tried_method_then_class_then_global(
    harness: Harness, kind: str, caught_by: str
) -> None:
    app = await harness.start(OrderModule, with_globals)
    client = await harness.connect(app)
    trace = app.get(Trace)
    trace.steps.clear()
    assert await client.call("fail", kind) == {"caught_by": caught_by}
    # Guards, interceptors, pipes ran first; exactly one filter handled the error.
    assert [s for s in trace.steps if s.startswith("filter:")] == [f"filter:{caught_by}"]
    assert client.pending("exception") == 0  # the filter replaced the default emit


async def test_class_guards_alone_run_on_the_handshake(harness: Harness) -> None:
    app = await harness.start(OrderModule, with_globals)
    await harness.connect(app)
    assert app.get(Trace).steps == ["guard:class1", "guard:class2"]
