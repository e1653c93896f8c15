"""Mistakes caught at bootstrap, with the place and the fix (issue 10, defects 3-6).

Each error is raised by ``NestFactory.create()`` (and ``TestingModule.compile()``), never
first at ``listen()`` or at the first message.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import pydantic
import pytest
from hardening_support import Serve

from nestpy import BootstrapError, Injectable, Module, NestFactory, UnknownDependencyError
from nestpy.common import UseGuards, UseInterceptors
from nestpy.testing import Test
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayInit,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
)

pytestmark = pytest.mark.e2e


class Msg(pydantic.BaseModel):
    text: str


def gateway_module(gateway: type) -> type:
    @Module(providers=[gateway])
    class AppModule: ...

    return AppModule


@WebSocketGateway(namespace="a")
class UncalledMarker:
    @SubscribeMessage("send")
    def send(self, data: Annotated[Msg, MessageBody]) -> None: ...


@WebSocketGateway(namespace="b")
class FastApiDefault:
    @SubscribeMessage("send")
    def send(self, data: Msg = MessageBody()) -> None: ...  # type: ignore[assignment]  # noqa: B008


@WebSocketGateway(namespace="c")
class ModelFirst:
    @SubscribeMessage("send")
    def send(self, data: Msg) -> None: ...


@WebSocketGateway(namespace="d")
class UncalledSocketMarker:
    @SubscribeMessage("send")
    def send(self, client: Annotated[Socket, ConnectedSocket]) -> None: ...


@WebSocketGateway(namespace="e")
class SwappedPair:
    @SubscribeMessage("send")
    def send(self, data: dict[str, Any], client: Socket) -> None: ...


@pytest.mark.parametrize(
    ("gateway", "fix"),
    [
        (UncalledMarker, "Annotated[Msg, MessageBody()]"),
        (FastApiDefault, "data: Annotated[Msg, MessageBody()]"),
        (ModelFirst, "data: Annotated[Msg, MessageBody()]"),
        (UncalledSocketMarker, "Annotated[Socket, ConnectedSocket()]"),
        (SwappedPair, "put the Socket first or use ConnectedSocket()"),
    ],
)
async def test_marker_mistakes_name_gateway_method_parameter_and_fix(
    gateway: type, fix: str
) -> None:
    with pytest.raises(BootstrapError) as caught:
        await NestFactory.create(gateway_module(gateway))
    text = str(caught.value)
    assert f"[gateway={gateway.__qualname__}, handler=send]" in text
    assert re.search(r"parameter '(data|client)'", text)
    assert fix in text
    # The testing module raises the same error at compile().
    with pytest.raises(BootstrapError, match=re.escape(fix)):
        await Test.create_testing_module(providers=[gateway]).compile()


@WebSocketGateway(namespace="ok")
class MarkerLessButRight:
    @SubscribeMessage("echo")
    def echo(self, client: Socket, data: Any) -> Any:
        return data


async def test_the_marker_less_form_still_works(serve_app: Serve) -> None:
    app = await serve_app(gateway_module(MarkerLessButRight))
    async with app.test_client("/ok") as client:
        assert await client.call("echo", {"x": 1}) == {"x": 1}


def test_a_near_miss_option_suggests_a_settable_name() -> None:
    @WebSocketGateway(namspace="chat")
    class Typo:
        pass

    async def build() -> None:
        await NestFactory.create(gateway_module(Typo))

    import asyncio

    with pytest.raises(BootstrapError) as caught:
        asyncio.run(build())
    text = str(caught.value)
    assert "did you mean 'namespace'?" in text
    assert "namespaces" not in text.replace("'namspace'", "")


async def test_always_connect_is_refused_with_the_reason() -> None:
    @WebSocketGateway(namespace="ac", always_connect=True)
    class AlwaysConnect:
        pass

    with pytest.raises(BootstrapError, match=r"'always_connect' is not supported.*connect_error"):
        await NestFactory.create(gateway_module(AlwaysConnect))


class Missing:
    """Provided by no module."""


@Injectable()
class NeedsMissingGuard:
    def __init__(self, dep: Missing) -> None:
        self.dep = dep

    def can_activate(self, context: Any) -> bool:
        return True


@Injectable()
class NeedsMissingInterceptor:
    def __init__(self, dep: Missing) -> None:
        self.dep = dep

    async def intercept(self, context: Any, call_next: Any) -> Any:
        return await call_next()


@UseGuards(NeedsMissingGuard)
@WebSocketGateway(namespace="g")
class GuardedGateway:
    @SubscribeMessage("x")
    def x(self) -> None: ...


@WebSocketGateway(namespace="i")
class InterceptedGateway:
    @UseInterceptors(NeedsMissingInterceptor)
    @SubscribeMessage("x")
    def x(self) -> None: ...


@pytest.mark.parametrize(
    ("gateway", "dependent"),
    [(GuardedGateway, "NeedsMissingGuard"), (InterceptedGateway, "NeedsMissingInterceptor")],
)
async def test_missing_enhancer_dependencies_fail_in_create_and_compile(
    gateway: type, dependent: str
) -> None:
    with pytest.raises(UnknownDependencyError, match=f"Missing needed by {dependent}"):
        await NestFactory.create(gateway_module(gateway))
    with pytest.raises(UnknownDependencyError, match=f"Missing needed by {dependent}"):
        await Test.create_testing_module(providers=[gateway]).compile()


async def test_a_global_enhancer_with_missing_dependencies_fails_where_registered() -> None:
    app = await NestFactory.create(gateway_module(MarkerLessButRight))
    with pytest.raises(UnknownDependencyError, match="Missing needed by NeedsMissingGuard"):
        app.use_global_guards(NeedsMissingGuard)
    await app.close()


@WebSocketGateway(namespace="rawc")
class RawConnect(OnGatewayInit):
    def after_init(self, server: Server) -> None:
        server.raw.on("connect", lambda sid, environ: None, namespace="/rawc")


async def test_raw_connect_handlers_are_refused_at_start() -> None:
    app = await NestFactory.create(gateway_module(RawConnect))
    with pytest.raises(BootstrapError, match=r"server.raw.on\('connect'\).*server.use"):
        await app.init()
    await app.close()
