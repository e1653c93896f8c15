"""``app.enable_tracing()``: spans per message and per connection, recorded with the
OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import sys

import pytest
from obs_app import ObsModule, eventually
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from nestpy.exceptions import BootstrapError
from nestpy.testing import ConnectionRefused, Test

pytestmark = pytest.mark.e2e


@pytest.mark.allow_errors  # a handler fails on purpose (ERROR span status)
async def test_a_span_per_message_and_connection() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    app = module.create_nest_application()
    app.enable_tracing(tracer_provider=provider)
    async with app:
        async with app.test_client("/obs") as client:
            assert await client.call("echo", "x") == "x"
            assert (await client.call("fail"))["status"] == "error"
            sid = client.id
        with pytest.raises(ConnectionRefused):
            async with app.test_client("/obs", auth={"bad": True}):
                pass

        async def finished() -> list[object]:
            spans = exporter.get_finished_spans()
            assert sum(s.name == "/obs disconnect" for s in spans) == 1
            return list(spans)

        await eventually(finished)
    spans = {s.name: s for s in exporter.get_finished_spans() if s.name != "/obs connect"}
    echo = spans["/obs echo"]
    assert echo.kind is SpanKind.SERVER
    assert dict(echo.attributes or {}) == {
        "messaging.system": "socket.io",
        "messaging.operation.type": "process",
        "messaging.destination.name": "/obs",
        "socketio.namespace": "/obs",
        "socketio.event": "echo",
        "socketio.sid": sid,
        "socketio.ack": True,
    }
    assert echo.status.status_code is StatusCode.UNSET
    assert spans["/obs fail"].status.status_code is StatusCode.ERROR
    assert spans["/obs disconnect"].attributes["socketio.sid"] == sid
    connects = [s for s in exporter.get_finished_spans() if s.name == "/obs connect"]
    assert [s.status.status_code for s in connects] == [StatusCode.UNSET, StatusCode.ERROR]
    assert connects[1].status.description == "Forbidden resource"
    # the handler's log context and the span agree on the socket
    assert {s.attributes["socketio.sid"] for s in connects[:1]} == {sid}


async def test_without_opentelemetry_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    app = module.create_nest_application()
    with pytest.raises(BootstrapError, match=r"pip install 'nestpy-io\[tracing\]'"):
        app.enable_tracing()
