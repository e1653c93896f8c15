"""What an application declares, read from its classes without running it.

Gateways are found through the module graph (``scan``: no provider is built, no user code
runs), explored with the same explorer the bootstrapper uses, and grouped into channels:
one per Socket.IO namespace (or plain-WebSocket path). Each channel lists what clients send
(one entry per ``@SubscribeMessage``) and what the server emits (the events ``Protocol`` the
gateway's ``Server[...]`` / ``Socket[...]`` annotations name).
"""

from __future__ import annotations

import collections.abc
import inspect
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin

from nestpy import _metadata as md
from nestpy._di.providers import MISSING, DynamicModule
from nestpy._pipeline.enhancers import class_meta
from nestpy._pipeline.params import ParamKind
from nestpy.exceptions import BootstrapError
from nestpy.websockets._explorer import GatewayDefinition, HandlerDefinition, explore_gateway
from nestpy.websockets.responses import WsResponse

__all__ = [
    "Channel", "Emitted", "Received", "Reply", "collect_channels", "find_gateways",
]

#: Stands for "no annotation": the payload or reply is described as any JSON value.
UNKNOWN: Any = Any


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler sends back.

    ``kind``: ``"none"`` (an empty ack when asked), ``"ack"`` (the ack carries ``type``),
    ``"events"`` (``WsResponse`` / async generator: events carrying ``type`` are emitted).
    """

    kind: str
    type: Any = None
    stream: bool = False


@dataclass(frozen=True, slots=True)
class Received:
    """One ``@SubscribeMessage`` handler: what the client sends."""

    event: str
    handler: str
    doc: str | None
    #: ``None``: no body; a type for the whole body; or key → type for ``MessageBody("key")``
    body: Any
    keyed: dict[str, Any] | None
    reply: Reply
    security: tuple[tuple[str, dict[str, Any]], ...] = ()


@dataclass(frozen=True, slots=True)
class Emitted:
    """One server-to-client event of an events ``Protocol``."""

    event: str
    doc: str | None
    args: tuple[tuple[str, Any], ...]
    ack: Any = None  # None: no acknowledgement expected


@dataclass(slots=True)
class Channel:
    """One namespace (Socket.IO) or path (plain WebSocket) and its messages."""

    key: str
    transport: str  # "socket.io" | "ws"
    namespace: str | re.Pattern[str]
    path: str
    port: int | None
    gateways: list[str] = field(default_factory=list)
    docs: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    emitted: dict[str, Emitted] = field(default_factory=dict)
    security: dict[str, dict[str, Any]] = field(default_factory=dict)


# --------------------------------------------------------------------------- discovery


def _is_gateway(obj: Any) -> bool:
    return isinstance(obj, type) and any(md.has_meta(k, md.GATEWAY) for k in obj.__mro__)


def _provider_classes(provider: Any) -> Iterable[Any]:
    if provider.use_class is not None:
        yield provider.use_class
    if provider.use_value is not MISSING:
        yield type(provider.use_value)
    yield provider.token


def find_gateways(target: Any) -> list[type]:
    """Gateway classes of *target*: a root ``@Module`` (or ``DynamicModule``), a gateway
    class, or a list of those. The module graph is scanned, nothing is instantiated.

    Raises:
        BootstrapError: the module graph is invalid, or *target* holds no gateway.
    """
    from nestpy._di.scanner import is_module_definition, scan

    targets = list(target) if isinstance(target, list | tuple) else [target]
    found: list[type] = []
    for item in targets:
        if _is_gateway(item):
            candidates: list[Any] = [item]
        elif is_module_definition(item):
            candidates = [
                cls
                for node in scan(item)
                for provider in node.providers.values()
                for cls in _provider_classes(provider)
            ]
        else:
            raise BootstrapError(
                f"{item!r} is neither a @Module class nor a @WebSocketGateway class; pass the "
                "application's root module (or a gateway class)"
            )
        for cls in candidates:
            if _is_gateway(cls) and cls not in found:
                found.append(cls)
    if not found:
        raise BootstrapError(f"no @WebSocketGateway found in {target!r}")
    return found


# --------------------------------------------------------------------------- reading


def _transport(options: Any) -> str:
    # Plain-WebSocket gateways name their adapter (``adapter=WsAdapter``); read generically
    # so that any gateway option spelling of it is understood.
    adapter = getattr(options, "adapter", None) or options.server_options.get("adapter")
    if adapter is None:
        return "socket.io"
    cls = adapter if isinstance(adapter, type) else type(adapter)
    if getattr(cls, "transport", None) == "ws" or cls.__name__.startswith("Ws"):
        return "ws"
    return "socket.io"


def _channel_key(transport: str, namespace: str | re.Pattern[str], path: str) -> str:
    if transport == "ws":
        base = path
    elif isinstance(namespace, re.Pattern):
        base = "dynamic " + namespace.pattern
    else:
        base = namespace
    key = re.sub(r"[^A-Za-z0-9_\-]+", "_", base).strip("_")
    return key or "root"


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as exc:
        raise BootstrapError(
            f"cannot resolve the type hints of {getattr(obj, '__qualname__', obj)!r} ({exc}); "
            "import the names used in annotations at module level"
        ) from exc


def _strip(tp: Any) -> Any:
    return get_args(tp)[0] if get_origin(tp) is Annotated else tp


def _events_protocols(cls: type, definition: GatewayDefinition) -> list[type]:
    """The type arguments of ``Server[...]`` attributes and ``Socket[...]`` parameters."""
    from nestpy.websockets.server import Server
    from nestpy.websockets.socket import Socket

    found: list[type] = []

    def add(tp: Any) -> None:
        tp = _strip(tp)
        if get_origin(tp) in (Server, Socket):
            args = get_args(tp)
            if args and isinstance(args[0], type) and args[0] not in found:
                found.append(args[0])

    hints = _hints(cls)
    for attr in definition.server_attrs:
        if attr in hints:
            add(hints[attr])
    for h in definition.handlers:
        for spec in h.signature.params:
            if spec.kind is ParamKind.SOCKET:
                add(spec.annotation)
    return found


def _emitted(protocol: type) -> list[Emitted]:
    out: list[Emitted] = []
    for name, fn in inspect.getmembers(protocol, inspect.isfunction):
        if name.startswith("_"):
            continue
        hints = _hints(fn)
        params = list(inspect.signature(fn).parameters.values())[1:]  # after self
        args = tuple((p.name, _strip(hints.get(p.name, UNKNOWN))) for p in params
                     if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
        ret = hints.get("return", None)
        ack = None if ret is None or ret is type(None) else _strip(ret)
        out.append(Emitted(name, inspect.getdoc(fn), args, ack))
    return out


def _reply(hdef: HandlerDefinition) -> Reply:
    sig = hdef.signature
    for spec in sig.params:
        if spec.kind is ParamKind.ACK:
            # Annotated[Callable[[T], Any], Ack()]: the manual ack carries T
            args = get_args(spec.annotation)
            if args and isinstance(args[0], list) and len(args[0]) == 1:
                return Reply("ack", args[0][0])
            return Reply("ack", UNKNOWN)
    hints = _hints(hdef.function)
    if "return" not in hints:
        return Reply("ack", UNKNOWN)
    ret = _strip(hints["return"])
    if sig.is_async_gen:
        origin = get_origin(ret)
        item = get_args(ret)[0] if origin in (
            collections.abc.AsyncGenerator, collections.abc.AsyncIterator,
            collections.abc.AsyncIterable,
        ) and get_args(ret) else UNKNOWN
        return _events_reply(item, stream=True)
    if ret is None or ret is type(None):
        return Reply("none")
    if ret is WsResponse or get_origin(ret) is WsResponse:
        return _events_reply(ret, stream=False)
    return Reply("ack", ret)


def _events_reply(tp: Any, stream: bool) -> Reply:
    if tp is WsResponse:
        return Reply("events", UNKNOWN, stream)
    if get_origin(tp) is WsResponse:
        return Reply("events", get_args(tp)[0], stream)
    # an async generator yielding plain values: the first one acknowledges (NestJS)
    return Reply("ack", tp, stream)


def _security(guards: Iterable[Any]) -> tuple[tuple[str, dict[str, Any]], ...]:
    out: list[tuple[str, dict[str, Any]]] = []
    for guard in guards:
        scheme = getattr(guard, "security_scheme", None)
        if isinstance(scheme, dict):
            cls = guard if isinstance(guard, type) else type(guard)
            out.append((cls.__name__, dict(scheme)))
    return tuple(out)


def _received(cls: type, hdef: HandlerDefinition, class_security: Any) -> Received:
    body: Any = None
    keyed: dict[str, Any] | None = None
    for spec in hdef.signature.params:
        if spec.kind is not ParamKind.BODY:
            continue
        if spec.key is None:
            body = spec.annotation
        else:
            keyed = keyed or {}
            keyed[spec.key] = spec.annotation
    method_security = _security(md.get_meta(hdef.function, md.GUARDS, ()))
    return Received(
        event=hdef.event,
        handler=f"{cls.__qualname__}.{hdef.name}",
        doc=inspect.getdoc(hdef.function),
        body=body,
        keyed=keyed,
        reply=_reply(hdef),
        security=(*class_security, *method_security),
    )


def collect_channels(target: Any) -> list[Channel]:
    """Explore *target*'s gateways into channels (see the module docstring).

    Raises:
        BootstrapError: no gateway, an invalid handler signature, or two events protocols
            of one channel that declare one event differently.
    """
    channels: dict[tuple[Any, ...], Channel] = {}
    keys: set[str] = set()
    for cls in find_gateways(target):
        definition = explore_gateway(cls)
        o = definition.options
        transport = _transport(o)
        ident = (transport, o.port, o.path, o.namespace if transport != "ws" else None)
        channel = channels.get(ident)
        if channel is None:
            key = base = _channel_key(transport, o.namespace, o.path)
            n = 1
            while key in keys:
                n += 1
                key = f"{base}_{n}"
            keys.add(key)
            channel = channels[ident] = Channel(key, transport, o.namespace, o.path, o.port)
        channel.gateways.append(cls.__qualname__)
        doc = inspect.getdoc(cls)
        if doc and cls.__doc__ is not None:
            channel.docs.append(doc)
        class_security = _security(class_meta(cls, md.GUARDS))
        for name, scheme in class_security:
            channel.security[name] = scheme
        for hdef in definition.handlers:
            received = _received(cls, hdef, class_security)
            channel.received.append(received)
            for name, scheme in received.security:
                channel.security[name] = scheme
        for protocol in _events_protocols(cls, definition):
            for ev in _emitted(protocol):
                known = channel.emitted.get(ev.event)
                if known is not None and (known.args, known.ack) != (ev.args, ev.ack):
                    raise BootstrapError(
                        f"[gateway={cls.__qualname__}] event {ev.event!r} is declared twice on "
                        f"channel {channel.key!r} with different arguments; declare it once"
                    )
                channel.emitted[ev.event] = ev
    return list(channels.values())


def describe_target(target: Any) -> str:
    """A title for *target* (the root module's or gateway's name)."""
    if isinstance(target, DynamicModule):
        return target.module.__name__
    if isinstance(target, list | tuple):
        return ", ".join(describe_target(t) for t in target)
    name = getattr(target, "__name__", None)
    return name if isinstance(name, str) else "nestpy application"

