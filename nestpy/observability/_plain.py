"""Where observability attaches to a plain WebSocket endpoint (``WsHost``), once, at
bootstrap: the same rule as ``_hooks`` for Socket.IO servers. Each hook replaces something
the host looks up per call (a compiled handler in its runtime, its ``_admit`` /
``send_event`` / ``broadcast_event`` / ``write_error`` methods, the runtime's
``on_disconnect``) with a wrapper calling the original; the namespace label is the path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nestpy.websockets._runtime import Handler

if TYPE_CHECKING:
    from nestpy.websockets._ws.client import WsClient
    from nestpy.websockets._ws.host import WsHost

__all__ = ["PlainRun", "plain_hosts", "wrap_host"]

#: A compiled handler of a plain gateway: ``run(client, data, reply_key)``.
PlainRun = Callable[[Any, Any, Any], Awaitable[None]]
Admit = Callable[["WsClient"], Awaitable["str | None"]]
Disconnect = Callable[[Any, "str | None"], Awaitable[None]]
#: ``observe(event, kind)`` for each event sent: kind ``"emit"`` or ``"broadcast"``.
ObserveSend = Callable[[str, str], None]
#: ``observe(reply)`` for each ``exception`` frame sent (inside the failing handler's
#: context); *reply*: it answers a request, which the handler wrapper counts as an ack.
ObserveError = Callable[[bool], None]


def plain_hosts(app: Any) -> list[WsHost]:
    """The plain endpoints of *app* (none when it declares no plain gateway)."""
    registry = getattr(app, "_plain", None)
    return [] if registry is None else list(registry.ordered)


def wrap_host(
    host: WsHost,
    *,
    handler: Callable[[str, str, Handler], PlainRun] | None = None,
    admit: Callable[[str, Admit], Admit] | None = None,
    disconnect: Callable[[str, Disconnect], Disconnect] | None = None,
    send: ObserveSend | None = None,
    error: ObserveError | None = None,
) -> None:
    """Replace *host*'s handlers and hooks with the wrappers' results (label: its path)."""
    label = host.path
    runtime = host.runtime
    if runtime is None:
        return
    if handler is not None:
        for event, h in list(runtime.handlers.items()):
            runtime.handlers[event] = Handler(handler(label, event, h), h.inline)
        host.refresh_handlers()
    if admit is not None:
        host._admit = admit(label, host._admit)  # type: ignore[method-assign,assignment]
    if disconnect is not None:
        runtime.on_disconnect = disconnect(label, runtime.on_disconnect)
    if send is not None:
        _wrap_sends(host, send)
    if error is not None:
        write_error = host.write_error

        async def observed_error(client: WsClient, frame: bytes, reply: bool = False) -> None:
            error(reply)
            await write_error(client, frame, reply)

        host.write_error = observed_error  # type: ignore[method-assign]


def _wrap_sends(host: WsHost, observe: ObserveSend) -> None:
    send_event = host.send_event
    broadcast_event = host.broadcast_event

    async def observed_send(client: WsClient, event: str, data: Any) -> None:
        observe(event, "emit")
        await send_event(client, event, data)

    async def observed_broadcast(
        event: str, data: Any, rooms: tuple[str, ...] | None, exclude: Any
    ) -> None:
        observe(event, "broadcast")
        await broadcast_event(event, data, rooms, exclude)

    # Instance attributes shadow the methods: WsClient.send and the WsServer broadcasts
    # look them up on the host at call time.
    host.send_event = observed_send  # type: ignore[method-assign]
    host.broadcast_event = observed_broadcast  # type: ignore[method-assign]
