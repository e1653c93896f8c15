"""Gateway decorators and parameter markers. They only record metadata (STYLE.md rule 1);
the explorer reads it at bootstrap."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nestpy import _metadata as md
from nestpy._pipeline.markers import Ack as Ack
from nestpy._pipeline.markers import ConnectedSocket as ConnectedSocket
from nestpy._pipeline.markers import MessageBody as MessageBody

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """What ``@WebSocketGateway`` recorded; validated by the bootstrapper."""

    port: int | None
    namespace: str | re.Pattern[str]
    path: str
    cors: Any
    transports: tuple[str, ...] | None
    server_options: dict[str, Any] = field(default_factory=dict)


def normalize_namespace(namespace: str | re.Pattern[str]) -> str | re.Pattern[str]:
    """``"channels"`` → ``"/channels"``; a compiled regex is kept as is."""
    if isinstance(namespace, re.Pattern):
        return namespace
    if not namespace:
        return "/"
    return namespace if namespace.startswith("/") else "/" + namespace


def WebSocketGateway(
    port: int | None = None,
    *,
    namespace: str | re.Pattern[str] = "/",
    path: str = "/socket.io",
    cors: Any = None,
    transports: list[str] | tuple[str, ...] | None = None,
    **server_options: Any,
) -> Callable[[C], C]:
    """Declare a class as a Socket.IO gateway.

    Args:
        port: ``None`` or ``0`` shares the application's HTTP server; another number gets
            its own aiohttp site. Gateways on one port share one ``AsyncServer``.
        namespace: a name (``"channels"`` means ``"/channels"``) or a compiled regex
            (every matching namespace is served).
        path: the Engine.IO path.
        cors: allowed origins (``"*"``, a string or a list). Closed when ``None``.
        transports: allowed transports (``["polling", "websocket"]`` by default).
        **server_options: python-socketio / python-engineio server options plus nestpy's
            ``connect_timeout`` and ``per_message_deflate``. Unknown names are a
            bootstrap error.

    .. versionadded:: 0.1
    """
    if port is not None and not isinstance(port, int):
        raise TypeError(f"@WebSocketGateway port must be an int or None, got {port!r}")
    opts = GatewayOptions(
        port=port or None,
        namespace=normalize_namespace(namespace),
        path=path,
        cors=cors,
        transports=tuple(transports) if transports is not None else None,
        server_options=dict(server_options),
    )

    def decorate(cls: C) -> C:
        md.set_meta(cls, md.GATEWAY, opts)
        return cls

    return decorate


def SubscribeMessage(event: str) -> Callable[[F], F]:
    """Mark a gateway method as the handler for *event* (sync or async).

    .. versionadded:: 0.1
    """
    if not isinstance(event, str) or not event:
        raise TypeError(f"@SubscribeMessage needs a non-empty event name, got {event!r}")

    def decorate(fn: F) -> F:
        md.set_meta(fn, md.MESSAGE, event)
        return fn

    return decorate


class _ServerSlot:
    """Descriptor behind ``WebSocketServer()``.

    Non-data descriptor on purpose: the bootstrapper stores the ``Server`` in the
    instance ``__dict__``, after which attribute access never calls back here.
    """

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = "server"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        raise RuntimeError(
            f"{type(instance).__qualname__}.{self.name} is not set yet: the Server is "
            "injected when the application is created (NestFactory.create); use it in "
            "after_init() or later, not in __init__."
        )


def WebSocketServer() -> Any:
    """Declare the attribute that receives the gateway's namespace-scoped ``Server``.

    ``server: Server = WebSocketServer()``

    .. versionadded:: 0.1
    """
    return _ServerSlot()
