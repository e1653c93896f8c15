"""OpenTelemetry spans (``app.enable_tracing()``; needs ``opentelemetry-api``).

One span per handled message (``"<namespace> <event>"``, kind SERVER), one per connection
attempt (``"<namespace> connect"``) and one per disconnection; attributes name the
namespace, the event and the socket id. A handler that fails (an ``exception`` is sent to
the client) marks its span ``ERROR``. Plain WebSocket gateways get the same spans, named by
their path (``"/ws join"``), with ``websocket.*`` attributes. Export is the application's
choice: configure an SDK ``TracerProvider`` (or pass one); without an SDK the API's no-op
tracer records nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from nestpy.observability._hooks import (
    Accept,
    Disconnect,
    Run,
    runtimes,
    wrap_emits,
    wrap_runtime,
)
from nestpy.observability._plain import Admit, PlainRun, wrap_host
from nestpy.observability._plain import Disconnect as PlainDisconnect
from nestpy.websockets._engine import NestAsyncServer
from nestpy.websockets._runtime import Handler

if TYPE_CHECKING:
    from nestpy.websockets._ws.client import WsClient
    from nestpy.websockets._ws.host import WsHost
    from nestpy.websockets.socket import Socket

__all__ = ["instrument_plain_tracing", "instrument_tracing"]

SYSTEM = "socket.io"


def instrument_tracing(sio: NestAsyncServer, tracer: Tracer) -> None:
    """Wrap *sio*'s compiled handlers and connection hooks in spans (bootstrap)."""
    start = tracer.start_as_current_span

    def handler(ns: str, event: str, h: Handler) -> Run:
        run = h.run
        name = f"{ns} {event}"

        async def traced(sock: Socket, body: Any, ack_id: int | None) -> None:
            with start(name, kind=SpanKind.SERVER, attributes={
                "messaging.system": SYSTEM,
                "messaging.operation.type": "process",
                "messaging.destination.name": sock.namespace,
                "socketio.namespace": sock.namespace,
                "socketio.event": event,
                "socketio.sid": sock.id,
                "socketio.ack": ack_id is not None,
            }):
                await run(sock, body, ack_id)

        return traced

    def accept(ns: str, original: Accept) -> Accept:
        name = f"{ns} connect"

        async def traced(sock: Socket) -> dict[str, Any] | None:
            with start(name, kind=SpanKind.SERVER, attributes={
                "messaging.system": SYSTEM,
                "socketio.namespace": sock.namespace,
                "socketio.sid": sock.id,
            }) as span:
                refusal = await original(sock)
                if refusal is not None:
                    span.set_status(Status(StatusCode.ERROR, str(refusal.get("message"))))
                return refusal

        return traced

    def disconnect(ns: str, original: Disconnect) -> Disconnect:
        name = f"{ns} disconnect"

        async def traced(sock: Socket, reason: str | None) -> None:
            with start(name, kind=SpanKind.SERVER, attributes={
                "messaging.system": SYSTEM,
                "socketio.namespace": sock.namespace,
                "socketio.sid": sock.id,
                "socketio.disconnect_reason": str(reason or "unknown"),
            }):
                await original(sock, reason)

        return traced

    for runtime in runtimes(sio):
        wrap_runtime(runtime, handler=handler, accept=accept, disconnect=disconnect)

    def on_send(namespace: str, event: str, kind: str) -> None:
        if event == "exception":  # the handler failed; its span is the current one
            trace.get_current_span().set_status(
                Status(StatusCode.ERROR, "the handler failed (exception sent)")
            )

    wrap_emits(sio, on_send)


PLAIN_SYSTEM = "websocket"


def instrument_plain_tracing(host: WsHost, tracer: Tracer) -> None:
    """Wrap a plain WebSocket endpoint's handlers and connection hooks in spans (bootstrap)."""
    from nestpy.websockets._ws.host import NO_ID

    start = tracer.start_as_current_span
    path = host.path

    def handler(ns: str, event: str, h: Handler) -> PlainRun:
        run = h.run
        name = f"{ns} {event}"

        async def traced(client: Any, body: Any, reply: Any) -> None:
            with start(name, kind=SpanKind.SERVER, attributes={
                "messaging.system": PLAIN_SYSTEM,
                "messaging.operation.type": "process",
                "messaging.destination.name": path,
                "websocket.path": path,
                "websocket.event": event,
                "websocket.client_id": client.id,
                "websocket.request": reply is not NO_ID,
            }):
                await run(client, body, reply)

        return traced

    def admit(ns: str, original: Admit) -> Admit:
        name = f"{ns} connect"

        async def traced(client: WsClient) -> str | None:
            with start(name, kind=SpanKind.SERVER, attributes={
                "messaging.system": PLAIN_SYSTEM,
                "websocket.path": path,
                "websocket.client_id": client.id,
            }) as span:
                refusal = await original(client)
                if refusal is not None:
                    span.set_status(Status(StatusCode.ERROR, refusal))
                return refusal

        return traced

    def disconnect(ns: str, original: PlainDisconnect) -> PlainDisconnect:
        name = f"{ns} disconnect"

        async def traced(client: Any, reason: str | None) -> None:
            with start(name, kind=SpanKind.SERVER, attributes={
                "messaging.system": PLAIN_SYSTEM,
                "websocket.path": path,
                "websocket.client_id": client.id,
                "websocket.disconnect_reason": str(reason or "unknown"),
            }):
                await original(client, reason)

        return traced

    def on_error(reply: bool) -> None:  # the handler failed; its span is the current one
        trace.get_current_span().set_status(
            Status(StatusCode.ERROR, "the handler failed (exception sent)")
        )

    wrap_host(host, handler=handler, admit=admit, disconnect=disconnect, error=on_error)
