"""Read a gateway class's metadata into a ``GatewayDefinition`` (bootstrap only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nestpy import _metadata as md
from nestpy._pipeline.params import HandlerDefinition, parse_handler
from nestpy.exceptions import BootstrapError
from nestpy.websockets.decorators import GatewayOptions, _ServerSlot
from nestpy.websockets.interfaces import OnGatewayConnection, OnGatewayDisconnect, OnGatewayInit
from nestpy.websockets.socket import Socket

__all__ = [
    "GatewayDefinition", "HandlerDefinition", "check_shared_namespaces", "explore_gateway",
]

#: What the first parameter of a marker-less ``(client, data)`` handler may be annotated as.
_CLIENT_TYPES: tuple[type, ...] = (Socket,)


@dataclass(frozen=True, slots=True)
class GatewayDefinition:
    """Everything the binder needs to know about a gateway class."""

    cls: type
    options: GatewayOptions
    handlers: tuple[HandlerDefinition, ...]
    server_attrs: tuple[str, ...]
    has_init: bool
    has_connection: bool
    has_disconnect: bool


def _overrides(cls: type, base: type, name: str) -> bool:
    fn = getattr(cls, name, None)
    return fn is not None and fn is not getattr(base, name, None)


def explore_gateway(cls: type) -> GatewayDefinition:
    """Collect handlers (including inherited ones), server slots and hooks of *cls*.

    Raises:
        BootstrapError: two handlers claim one event, or a handler signature is invalid.
    """
    options: GatewayOptions | None = None
    for klass in cls.__mro__:
        options = md.get_meta(klass, md.GATEWAY)
        if options is not None:
            break
    if options is None:
        raise BootstrapError(f"{cls.__qualname__} is not decorated with @WebSocketGateway")
    handlers: dict[str, HandlerDefinition] = {}
    seen_names: set[str] = set()
    server_attrs: list[str] = []
    # Walk the MRO so a subclass's method overrides its base's handler of the same name.
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if isinstance(value, _ServerSlot) and name not in server_attrs:
                server_attrs.append(name)
            if name in seen_names:
                continue
            fn = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if not callable(fn):
                continue
            seen_names.add(name)
            event = md.get_meta(fn, md.MESSAGE)
            if event is None:
                continue
            if event in handlers:
                raise BootstrapError(
                    f"[gateway={cls.__qualname__}] event {event!r} has two handlers: "
                    f"{handlers[event].name} and {name}; keep one @SubscribeMessage({event!r})"
                )
            signature = parse_handler(cls, fn, _CLIENT_TYPES)
            handlers[event] = HandlerDefinition(event, name, fn, signature)
    return GatewayDefinition(
        cls=cls,
        options=options,
        handlers=tuple(handlers.values()),
        server_attrs=tuple(server_attrs),
        has_init=_overrides(cls, OnGatewayInit, "after_init"),
        has_connection=_overrides(cls, OnGatewayConnection, "handle_connection"),
        has_disconnect=_overrides(cls, OnGatewayDisconnect, "handle_disconnect"),
    )


def check_shared_namespaces(definitions: list[GatewayDefinition]) -> None:
    """Gateways may share a namespace (their handlers are merged), not an event in it.

    Raises:
        BootstrapError: two gateways on one port, path and namespace handle one event.
    """
    owners: dict[tuple[Any, ...], dict[str, type]] = {}
    for d in definitions:
        o = d.options
        events = owners.setdefault((o.port, o.path, o.namespace), {})
        for h in d.handlers:
            other = events.get(h.event)
            if other is not None:
                raise BootstrapError(
                    f"[gateway={d.cls.__qualname__}] handles {h.event!r} on namespace "
                    f"{o.namespace!r}, which {other.__qualname__} also handles there; keep "
                    "one handler per event and namespace"
                )
            events[h.event] = d.cls
