"""Where observability attaches to a server, once, at bootstrap.

Every hook replaces a value built at bootstrap (a compiled handler in a ``GatewayRuntime``'s
table, a runtime's ``accept`` / ``on_disconnect``, the server's ``send_to`` / ``emit``
methods) with a wrapper calling the original: nothing is looked up per message, and an
application that enables nothing runs exactly the code it ran before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from nestpy.websockets._engine import NestAsyncServer
from nestpy.websockets._runtime import GatewayRuntime, Handler
from nestpy.websockets.socket import Socket

__all__ = ["Run", "namespace_label", "runtimes", "wrap_emits", "wrap_runtime"]

Run = Callable[[Socket, Any, "int | None"], Awaitable[None]]
Accept = Callable[[Socket], Awaitable["dict[str, Any] | None"]]
Disconnect = Callable[[Socket, "str | None"], Awaitable[None]]


def runtimes(sio: NestAsyncServer) -> Iterator[GatewayRuntime]:
    """The runtimes *sio* dispatches to (merged ones once), exact namespaces first."""
    # python-socketio-level registry of NestAsyncServer (see _engine.add_gateway)
    yield from list(sio._exact.values())
    for _pattern, runtime in list(sio._patterns):
        yield runtime


def namespace_label(runtime: GatewayRuntime) -> str:
    """The declared namespace: a regex gateway is one label, not one per matched name."""
    ns = runtime.namespace
    return ns if isinstance(ns, str) else ns.pattern


def wrap_runtime(
    runtime: GatewayRuntime,
    *,
    handler: Callable[[str, str, Handler], Run] | None = None,
    accept: Callable[[str, Accept], Accept] | None = None,
    disconnect: Callable[[str, Disconnect], Disconnect] | None = None,
) -> None:
    """Replace *runtime*'s compiled handlers and hooks with the wrappers' results.

    Each wrapper receives the namespace label (and the event), and the original.
    """
    label = namespace_label(runtime)
    if handler is not None:
        for event, h in list(runtime.handlers.items()):
            runtime.handlers[event] = Handler(handler(label, event, h), h.inline)
    if accept is not None:
        runtime.accept = accept(label, runtime.accept)
    if disconnect is not None:
        runtime.on_disconnect = disconnect(label, runtime.on_disconnect)


def label_resolver(sio: NestAsyncServer) -> Callable[[str], str]:
    """Concrete namespace → its gateway's label (bounded: regex namespaces collapse)."""

    def resolve(namespace: str) -> str:
        runtime = sio.gateway_for(namespace)
        return namespace if runtime is None else namespace_label(runtime)

    return resolve


Observe = Callable[[str, str, str], None]  # (namespace, event, kind)


def wrap_emits(sio: NestAsyncServer, observe: Observe) -> None:
    """Call ``observe(namespace, event, kind)`` for every event *sio* sends.

    ``kind``: ``"emit"`` (to one socket: ``Socket.emit``, ``emit_with_ack``) or
    ``"broadcast"`` (``Server.emit``, ``to(room).emit``: counted once, not per recipient).
    """
    send_to = sio.send_to
    emit = sio.emit

    async def observed_send_to(eio_sid: str, pkt: Any) -> None:
        data = pkt.data
        if type(data) is list and data:
            observe(pkt.namespace or "/", data[0], "emit")
        await send_to(eio_sid, pkt)

    async def observed_emit(event: str, *args: Any, **kwargs: Any) -> Any:
        ns = kwargs.get("namespace") or "/"
        observe(ns, event, "emit" if kwargs.get("to") is not None else "broadcast")
        return await emit(event, *args, **kwargs)

    # Instance attributes shadow the methods: Socket.emit and BroadcastOperator.emit look
    # them up on the server at call time.
    sio.send_to = observed_send_to  # type: ignore[method-assign]
    sio.emit = observed_emit


