"""``enable_metrics()`` / ``enable_tracing()`` on plain WebSocket gateways: real traffic from
aiohttp's websocket client, the exposition parsed with prometheus-client's parser."""

from __future__ import annotations

import json
from typing import Annotated, Any

import aiohttp
import pytest
from obs_app import eventually
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel, Field
from test_metrics import scrape, value

from nestpy import Module, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayInit,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsAdapter,
    WsClient,
    WsException,
    WsServer,
)

pytestmark = pytest.mark.e2e


class Note(BaseModel):
    text: str = Field(min_length=1)


@WebSocketGateway(path="/live", adapter=WsAdapter)
class LiveGateway(OnGatewayInit):
    server: WsServer = WebSocketServer()

    def after_init(self, server: WsServer) -> None:
        async def named_only(client: WsClient) -> None:
            if "name" not in client.handshake.query:
                raise WsException("name required")

        server.use(named_only)

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("note")
    async def note(self, note: Annotated[Note, MessageBody()]) -> str:
        return note.text

    @SubscribeMessage("fail")
    async def fail(self) -> None:
        raise RuntimeError("deliberate")

    @SubscribeMessage("shout")
    async def shout(self, text: Annotated[str, MessageBody()]) -> None:
        await self.server.broadcast("shouted", text)

    @SubscribeMessage("poke")
    async def poke(self, client: Annotated[WsClient, ConnectedSocket()]) -> None:
        await client.send("poked", 1)


@Module(providers=[LiveGateway])
class LiveModule: ...


async def call(ws: aiohttp.ClientWebSocketResponse, event: str, data: Any = None,
               rid: int | None = None) -> dict[str, Any]:
    """Send a frame (with *rid*: a request) and return the next frame received."""
    frame: dict[str, Any] = {"event": event, "data": data}
    if rid is not None:
        frame["id"] = rid
    await ws.send_str(json.dumps(frame))
    msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    reply: dict[str, Any] = json.loads(msg.data)
    return reply


@pytest.mark.allow_errors  # a handler fails on purpose (handler_errors)
async def test_plain_gateway_metrics_after_real_traffic() -> None:
    app = await NestFactory.create(LiveModule)
    app.enable_metrics()
    await app.listen(0, "127.0.0.1")
    base = app.get_url()
    ws_url = base.replace("http", "ws") + "/live"
    try:
        async with aiohttp.ClientSession() as http:
            a = await http.ws_connect(ws_url + "?name=a")
            b = await http.ws_connect(ws_url + "?name=b")
            for i in range(3):
                assert await call(a, "echo", i, rid=i) == {"event": "echo", "id": i, "data": i}
            bad = await call(b, "note", {"text": ""}, rid=7)
            assert bad["event"] == "exception" and bad["id"] == 7
            assert (await call(b, "fail"))["event"] == "exception"
            assert await call(a, "shout", "hey") == {"event": "shouted", "data": "hey"}
            assert (await b.receive_json(timeout=10)) == {"event": "shouted", "data": "hey"}
            assert await call(a, "poke") == {"event": "poked", "data": 1}
            unknown = await call(a, "nope", rid=9)  # no handler: answered, not dispatched
            assert unknown["event"] == "exception" and unknown["id"] == 9
            # refused by the middleware: counted as a refused connection
            nameless = await http.ws_connect(ws_url)
            closed = await nameless.receive(timeout=10)
            assert closed.type is aiohttp.WSMsgType.CLOSE and nameless.close_code == 1008

            samples = await scrape(base + "/metrics")
            assert value(samples, "nestpy_connected_sockets", namespace="/live") == 2
            assert value(samples, "nestpy_connections_total", namespace="/live",
                         result="accepted") == 2
            assert value(samples, "nestpy_connections_total", namespace="/live",
                         result="refused") == 1
            received = {e: value(samples, "nestpy_messages_received_total", namespace="/live",
                                 event=e) for e in ("echo", "note", "fail", "shout", "poke")}
            assert received == {"echo": 3, "note": 1, "fail": 1, "shout": 1, "poke": 1}
            # replies to requests (frames with an id) count as acks
            assert value(samples, "nestpy_messages_sent_total", namespace="/live",
                         event="echo", kind="ack") == 3
            assert value(samples, "nestpy_messages_sent_total", namespace="/live",
                         event="note", kind="ack") == 1
            assert value(samples, "nestpy_messages_sent_total", namespace="/live",
                         event="shouted", kind="broadcast") == 1
            assert value(samples, "nestpy_messages_sent_total", namespace="/live",
                         event="poked", kind="emit") == 1
            # `fail` (no id) and `nope` (unknown) got exception frames; `note`'s error
            # reply is its ack
            assert value(samples, "nestpy_messages_sent_total", namespace="/live",
                         event="exception", kind="emit") == 2
            errors = {e: value(samples, "nestpy_handler_errors_total", namespace="/live",
                               event=e) for e in ("echo", "note", "fail")}
            assert errors == {"echo": 0, "note": 1, "fail": 1}
            assert value(samples, "nestpy_handler_duration_seconds_count", namespace="/live",
                         event="echo") == 3
            assert value(samples, "nestpy_handler_duration_seconds_bucket", namespace="/live",
                         event="echo", le="+Inf") == 3

            await a.close()

            async def one_left() -> None:
                after = await scrape(base + "/metrics")
                assert value(after, "nestpy_connected_sockets", namespace="/live") == 1
                assert value(after, "nestpy_disconnections_total", namespace="/live",
                             reason="client disconnect") == 1

            await eventually(one_left)
            await b.close()
    finally:
        await app.close()


@pytest.mark.allow_errors  # a handler fails on purpose (ERROR span status)
async def test_plain_gateway_spans() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = await NestFactory.create(LiveModule)
    app.enable_tracing(tracer_provider=provider)
    await app.listen(0, "127.0.0.1")
    ws_url = app.get_url().replace("http", "ws") + "/live"
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(ws_url + "?name=t")
            assert (await call(ws, "echo", "x", rid=1))["data"] == "x"
            assert (await call(ws, "fail"))["event"] == "exception"
            await ws.close()
            nameless = await http.ws_connect(ws_url)
            assert (await nameless.receive(timeout=10)).type is aiohttp.WSMsgType.CLOSE

        async def finished() -> list[Any]:
            spans = exporter.get_finished_spans()
            assert sum(s.name == "/live disconnect" for s in spans) == 1
            assert sum(s.name == "/live connect" for s in spans) == 2
            return list(spans)

        spans = await eventually(finished)
    finally:
        await app.close()
    by_name = {s.name: s for s in spans if s.name != "/live connect"}
    echo = by_name["/live echo"]
    assert echo.kind is SpanKind.SERVER
    client_id = echo.attributes["websocket.client_id"]
    assert dict(echo.attributes or {}) == {
        "messaging.system": "websocket",
        "messaging.operation.type": "process",
        "messaging.destination.name": "/live",
        "websocket.path": "/live",
        "websocket.event": "echo",
        "websocket.client_id": client_id,
        "websocket.request": True,
    }
    assert echo.status.status_code is StatusCode.UNSET
    assert by_name["/live fail"].status.status_code is StatusCode.ERROR
    assert by_name["/live fail"].attributes["websocket.request"] is False
    assert by_name["/live disconnect"].attributes["websocket.client_id"] == client_id
    connects = [s for s in spans if s.name == "/live connect"]
    assert [s.status.status_code for s in connects] == [StatusCode.UNSET, StatusCode.ERROR]
    assert connects[1].status.description == "name required"
