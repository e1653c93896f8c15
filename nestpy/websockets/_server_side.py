"""Server-side emits (Socket.IO's ``serverSideEmit``) and cluster-wide broadcast acks, for
``Server``: they reach the other nodes through a Node-protocol cluster manager.

.. versionadded:: 0.2
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nestpy.websockets._cluster_errors import AdapterError

if TYPE_CHECKING:
    from nestpy.websockets._engine import NestAsyncServer

__all__ = ["listen", "server_side_emit", "server_side_emit_with_ack"]

#: Event names Socket.IO reserves (``RESERVED_EVENTS`` of socket.io's namespace.ts).
RESERVED_EVENTS = frozenset({"connect", "connection", "disconnect", "disconnecting",
                             "newListener", "removeListener"})


def _manager(server: NestAsyncServer) -> Any:
    manager = server.manager
    if hasattr(manager, "on_server_side"):
        return manager
    if getattr(manager, "nest_cluster", False):
        raise AdapterError(
            "server-side emits need SocketIoRedisAdapter or SocketIoRedisStreamsAdapter "
            "(Socket.IO's own cluster protocol); RedisIoAdapter/AmqpIoAdapter do not carry them"
        )
    return None  # one process: there is no other node to reach


def _check(event: str) -> None:
    if event in RESERVED_EVENTS:
        raise ValueError(f"{event!r} is a reserved event name")


def listen(server: NestAsyncServer, namespaces: str | re.Pattern[str], event: str,
           handler: Callable[..., Any]) -> None:
    """Register *handler* for server-side *event* on a namespace or every namespace a
    pattern matches (including those that become active later)."""
    _check(event)
    manager = _manager(server)
    if manager is not None:
        manager.on_server_side(namespaces, event, handler)


async def server_side_emit(server: NestAsyncServer, namespaces: tuple[str, ...], event: str,
                           args: list[Any]) -> None:
    """Send *event* to the other nodes' listeners (no reply)."""
    _check(event)
    manager = _manager(server)
    if manager is not None:
        for ns in namespaces:
            await manager.server_side_emit(ns, event, args)


async def server_side_emit_with_ack(
    server: NestAsyncServer, namespaces: tuple[str, ...], event: str, args: list[Any],
    timeout: float | None,
) -> list[Any]:
    """Send *event* to the other nodes' listeners; one reply per node."""
    _check(event)
    manager = _manager(server)
    out: list[Any] = []
    if manager is not None:
        for ns in namespaces:
            out.extend(await manager.server_side_emit_with_ack(ns, event, args, timeout))
    return out
