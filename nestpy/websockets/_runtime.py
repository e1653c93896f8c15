"""What a server needs from a bound gateway: its compiled handlers and its connect and
disconnect hooks (``GatewayRuntime``, built by ``_binding`` and ``_ws``)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from nestpy._pipeline.compiler import Handler
from nestpy.exceptions import BootstrapError

__all__ = ["GatewayRuntime", "Handler", "merge_runtimes"]


class GatewayRuntime:
    """What the server needs from a bound gateway (built by ``_binding``)."""

    __slots__ = ("accept", "handlers", "name", "namespace", "on_disconnect", "unknown_event")

    def __init__(
        self,
        name: str,
        namespace: str | re.Pattern[str],
        handlers: dict[str, Handler],
        accept: Callable[[Any], Awaitable[dict[str, Any] | None]],
        on_disconnect: Callable[[Any, str | None], Awaitable[None]],
        unknown_event: Callable[[Any, list[Any], int | None], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.handlers = handlers
        self.accept = accept
        self.on_disconnect = on_disconnect
        #: an event no handler subscribes to: (socket, packet data, ack id); see _binding
        self.unknown_event = unknown_event or _ignore_event


async def _ignore_event(sock: Any, data: list[Any], ack_id: int | None) -> None:
    return None


def merge_runtimes(first: GatewayRuntime, second: GatewayRuntime) -> GatewayRuntime:
    """One runtime for two gateways on one namespace: handlers united, hooks in order
    (the first refusal wins). Duplicate events are refused at bootstrap (``_explorer``)."""
    clash = sorted(set(first.handlers) & set(second.handlers))
    if clash:
        raise BootstrapError(
            f"[gateways={first.name}, {second.name}] both handle {clash} on namespace "
            f"{first.namespace!r}; keep one handler per event and namespace"
        )

    async def accept(sock: Any) -> dict[str, Any] | None:
        refusal = await first.accept(sock)
        return refusal if refusal is not None else await second.accept(sock)

    async def on_disconnect(sock: Any, reason: str | None) -> None:
        await first.on_disconnect(sock, reason)
        await second.on_disconnect(sock, reason)

    return GatewayRuntime(
        f"{first.name}+{second.name}", first.namespace, {**first.handlers, **second.handlers},
        accept, on_disconnect, first.unknown_event,
    )
