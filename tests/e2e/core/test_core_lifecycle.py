"""NestApplication start and stop: hook order, close() with clients connected, listen()."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from core_client import Client, Connect, Start

from nestpy import BootstrapError, DynamicModule, Module, NestApplication, NestFactory, Provider
from nestpy.common import Reflector
from nestpy.exceptions import LateRegistrationError
from nestpy.websockets import (
    OnGatewayDisconnect,
    OnGatewayInit,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
)

pytestmark = pytest.mark.e2e

events: list[str] = []


class Service:
    async def on_module_init(self) -> None:
        events.append("service.on_module_init")

    def on_application_bootstrap(self) -> None:
        events.append("service.on_application_bootstrap")

    async def on_module_destroy(self) -> None:
        events.append("service.on_module_destroy")

    def before_application_shutdown(self, signal: Any = None) -> None:
        events.append(f"service.before_application_shutdown:{signal}")

    async def on_application_shutdown(self, signal: Any = None) -> None:
        events.append(f"service.on_application_shutdown:{signal}")


@WebSocketGateway(namespace="life")
class LifeGateway(OnGatewayInit, OnGatewayDisconnect):
    def __init__(self, service: Service) -> None:
        self.service = service

    def after_init(self, server: Server) -> None:
        events.append("gateway.after_init")

    def on_module_init(self) -> None:
        events.append("gateway.on_module_init")

    def handle_disconnect(self, client: Socket) -> None:
        events.append("gateway.handle_disconnect")

    def on_application_shutdown(self, signal: Any = None) -> None:
        events.append("gateway.on_application_shutdown")

    @SubscribeMessage("ping")
    def ping(self) -> str:
        return "pong"


@Module(providers=[Service, LifeGateway])
class LifeModule: ...


async def test_hooks_run_in_order_around_listen_and_close(connect: Connect) -> None:
    events.clear()
    app = await NestFactory.create(LifeModule)
    assert events == []  # create() builds; hooks run when the app starts
    await app.listen(0, "127.0.0.1")
    assert events == [
        "gateway.after_init",  # NestJS: afterInit while the gateways are bound
        "service.on_module_init",
        "gateway.on_module_init",
        "service.on_application_bootstrap",
    ]
    events.clear()
    ws = await connect(app, "/life", ["websocket"])
    poll = await connect(app, "/life", ["polling"])
    assert await ws.call("ping") == await poll.call("ping") == "pong"
    started = time.monotonic()
    await app.close()
    assert time.monotonic() - started < 1.0  # promptly, with a long-poll pending
    assert events == [
        "service.on_module_destroy",
        "service.before_application_shutdown:None",
        "gateway.handle_disconnect",
        "gateway.handle_disconnect",
        "service.on_application_shutdown:None",
        "gateway.on_application_shutdown",
    ]
    for c in (ws, poll):
        await asyncio.wait_for(c.disconnects.get(), 1)
    await app.close()  # idempotent
    assert events.count("gateway.on_application_shutdown") == 1


async def test_async_with_listens_on_ephemeral_ports_and_closes() -> None:
    events.clear()
    async with await NestFactory.create(LifeModule) as app:
        client = await Client("/life").connect(app.url_for("/life"))
        assert await client.call("ping") == "pong"
    assert events[-1] == "gateway.on_application_shutdown"
    await asyncio.wait_for(client.disconnects.get(), 1)
    await client.close()


async def test_listen_twice_is_an_error(start: Start) -> None:
    app = await start(LifeModule)
    with pytest.raises(LateRegistrationError, match=r"listen\(\) was called twice"):
        await app.listen(0, "127.0.0.1")


@WebSocketGateway(4020, namespace="own")
class OwnPortGateway: ...


@Module(providers=[OwnPortGateway])
class OwnPortModule: ...


async def test_no_app_port_is_bound_when_nothing_shares_it() -> None:
    app = await NestFactory.create(OwnPortModule)
    await app.listen(None, "127.0.0.1", ephemeral_gateways=True)
    try:
        assert set(app.ports) == {4020}
        with pytest.raises(RuntimeError, match="not listening"):
            app.url_for(None)
    finally:
        await app.close()


async def test_gateway_ports_remap() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    free = probe.getsockname()[1]
    probe.close()
    app = await NestFactory.create(OwnPortModule)
    await app.listen(None, "127.0.0.1", gateway_ports={4020: free})
    try:
        assert app.ports == {4020: free}
        assert app.url_for("/own") == f"http://127.0.0.1:{free}"
    finally:
        await app.close()


async def test_a_port_in_use_is_a_clear_bootstrap_error() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        app = await NestFactory.create(LifeModule)
        with pytest.raises(BootstrapError, match=f"cannot listen on 127.0.0.1:{port}"):
            await app.listen(port, "127.0.0.1")
        await app.close()
    finally:
        taken.close()


async def test_url_for_a_class_or_namespace_no_gateway_declares(start: Start) -> None:
    app = await start(LifeModule)
    assert app.url_for(LifeGateway) == app.url_for("life") == app.url_for(None)
    with pytest.raises(ValueError, match="Service is not a gateway"):
        app.url_for(Service)
    with pytest.raises(ValueError, match="no gateway serves namespace '/elsewhere'"):
        app.url_for("elsewhere")


class Settings:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting


@Module(providers=[LifeGateway])
class ConfiguredModule:
    """A root module configured at import time, with an async ``configure_app`` hook."""

    configured: list[Any] = []

    @classmethod
    def for_root(cls, greeting: str) -> DynamicModule:
        settings = Provider(Settings, use_value=Settings(greeting))
        return DynamicModule(cls, providers=[Service, settings])

    async def configure_app(self, app: NestApplication) -> None:
        await asyncio.sleep(0)
        ConfiguredModule.configured.append(app)


async def test_a_dynamic_root_module_and_an_async_configure_app_hook(
    start: Start, connect: Connect
) -> None:
    ConfiguredModule.configured.clear()
    app = await start(ConfiguredModule.for_root("hi"))
    assert ConfiguredModule.configured == [app]
    assert app.container.get(Settings).greeting == "hi"
    assert app.container.get(Reflector) is app.get(Reflector)  # the core module came along
    client = await connect(app, "/life")
    assert await client.call("ping") == "pong"
