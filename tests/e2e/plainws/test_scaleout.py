"""Plain-WebSocket rooms across processes over the scale-out adapters' brokers: two
applications in one process, on a channel unique to the test."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import pytest
from plainws_helpers import Open, Start

from nestpy import Module, NestFactory
from nestpy.websockets import (
    AmqpIoAdapter,
    BrokerUnavailableError,
    ConnectedSocket,
    MessageBody,
    RedisIoAdapter,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsAdapter,
    WsClient,
    WsServer,
)

pytestmark = pytest.mark.e2e


@WebSocketGateway(path="/rooms", adapter=WsAdapter)
class RoomsGateway:
    server: WsServer = WebSocketServer()

    @SubscribeMessage("join")
    async def join(self, room: Annotated[str, MessageBody()],
                   client: Annotated[WsClient, ConnectedSocket()]) -> str:
        await client.join(room)
        return room

    @SubscribeMessage("say")
    async def say(self, body: Annotated[dict[str, Any], MessageBody()]) -> bool:
        target = self.server.to(body["room"]) if body.get("room") else self.server
        await target.broadcast("said", body["text"])
        return True


@Module(providers=[RoomsGateway])
class RoomsModule:
    pass


async def _two_nodes(start: Start, ws: Open, adapter: Any, app_wide: bool) -> None:
    apps = []
    for _ in range(2):
        if app_wide:
            apps.append(await start(RoomsModule, adapter=WsAdapter(scale_out=adapter())))
        else:
            apps.append(await start(RoomsModule, adapter=adapter()))
    a, b = apps
    on_a = await ws(a, "/rooms")
    on_b = await ws(b, "/rooms")
    outside_b = await ws(b, "/rooms")
    assert await on_b.call("join", "red") == "red"
    assert await on_a.call("join", "red") == "red"
    assert await on_a.call("say", {"room": "red", "text": "across"}) is True
    assert await on_b.receive("said") == "across"  # delivered by node B
    assert await on_a.receive("said") == "across"  # and locally, once
    assert await outside_b.call("say", {"text": "all"}) is True
    for c in (on_a, on_b, outside_b):
        assert await c.receive("said") == "all"
    assert outside_b.received() == [] and on_a.received() == []


@pytest.mark.redis
async def test_rooms_across_processes_over_redis(start: Start, ws: Open) -> None:
    channel = f"nestpy-test-{uuid.uuid4().hex}"
    await _two_nodes(start, ws, lambda: RedisIoAdapter("redis://127.0.0.1:6379/0",
                                                       channel=channel), app_wide=False)


@pytest.mark.redis
async def test_app_wide_ws_adapter_scales_out_over_redis(start: Start, ws: Open) -> None:
    channel = f"nestpy-test-{uuid.uuid4().hex}"
    await _two_nodes(start, ws, lambda: RedisIoAdapter("redis://127.0.0.1:6379/0",
                                                       channel=channel), app_wide=True)


@pytest.mark.amqp
async def test_rooms_across_processes_over_amqp(start: Start, ws: Open) -> None:
    channel = f"nestpy-test-{uuid.uuid4().hex}"
    await _two_nodes(start, ws, lambda: AmqpIoAdapter("amqp://guest:guest@127.0.0.1:5672/",
                                                      channel=channel), app_wide=False)


async def test_unreachable_broker_is_a_clear_startup_error() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = await NestFactory.create(RoomsModule)
    app.use_websocket_adapter(RedisIoAdapter(f"redis://:hunter2@127.0.0.1:{port}/0",
                                             channel="unused", startup_timeout=2))
    try:
        with pytest.raises(BrokerUnavailableError) as err:
            await app.listen(0, "127.0.0.1")
        assert "Redis" in str(err.value) and "hunter2" not in str(err.value)
    finally:
        await app.close()
