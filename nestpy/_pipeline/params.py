"""Parse a handler's signature once, at bootstrap, into ``ParamSpec`` records (each body
parameter with its validator built once)."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from nestpy._di.decorators import Inject
from nestpy._pipeline.markers import Ack, ConnectedSocket, Marker, MessageBody
from nestpy._pipeline.validation import build_validator
from nestpy.exceptions import BootstrapError

__all__ = [
    "HandlerContextError",
    "HandlerDefinition",
    "HandlerSignature",
    "ParamKind",
    "ParamSpec",
    "parse_handler",
]


class ParamKind(enum.Enum):
    """Where a handler parameter's value comes from."""

    BODY = "body"
    SOCKET = "socket"
    ACK = "ack"
    #: a provider from the DI container (``Annotated[T, Inject()]``)
    INJECT = "inject"


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One handler parameter, resolved at bootstrap."""

    index: int
    name: str
    kind: ParamKind
    key: str | None = None
    annotation: Any = Any
    pipes: tuple[Any, ...] = ()
    #: the DI token of an INJECT parameter
    token: Any = None
    #: a BODY parameter's type validation (``build_validator``), built once; None: none
    validator: Callable[[Any], Any] | None = None


@dataclass(frozen=True, slots=True)
class HandlerSignature:
    """A handler's parameters and calling convention."""

    params: tuple[ParamSpec, ...]
    #: True for NestJS's marker-less ``(client, data)`` form.
    no_marker: bool
    is_async: bool
    is_async_gen: bool
    uses_ack: bool
    #: the return annotation (``None`` when there is none): chooses the wire encoder
    returns: Any = None
    #: the ``Inject()`` parameters
    injects: tuple[ParamSpec, ...] = ()


class HandlerContextError(BootstrapError):
    """A handler signature nestpy cannot bind; names the gateway, handler and fix."""

    def __init__(self, gateway: type, handler: Callable[..., Any], problem: str) -> None:
        self.gateway = gateway
        self.handler = handler
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        name = getattr(self.handler, "__name__", repr(self.handler))
        return f"[gateway={self.gateway.__qualname__}, handler={name}] {self.problem}"


def _is_marker(obj: Any) -> bool:
    return isinstance(obj, Marker | Inject)


def _is_marker_class(obj: type) -> bool:
    return issubclass(obj, Marker | Inject)


def _name(annotation: Any) -> str:
    if annotation is Any or annotation is inspect.Parameter.empty:
        return "<type>"
    return getattr(annotation, "__name__", None) or repr(annotation)


def _socket_like(annotation: Any, client_types: tuple[type, ...]) -> bool:
    if annotation in (Any, object, inspect.Parameter.empty):
        return True
    # get_origin: on Python 3.10 ``list[int]`` is an instance of ``type`` (issubclass raises)
    return (
        isinstance(annotation, type)
        and get_origin(annotation) is None
        and issubclass(annotation, client_types)
    )


def _check_marker_less(
    gateway: type, fn: Callable[..., Any], specs: list[ParamSpec], client_types: tuple[type, ...]
) -> None:
    """In the (client, data) form the first parameter is the Socket: an annotation that says
    otherwise (a model, ``str``...) would hand the handler a Socket it does not expect."""
    first = specs[0]
    second = specs[1].annotation if len(specs) == 2 else None
    if second is not None and _socket_like(second, client_types) and second not in (
        Any, object, inspect.Parameter.empty
    ):
        raise HandlerContextError(
            gateway, fn,
            f"parameter {specs[1].name!r} is annotated Socket, but a handler without markers "
            "is called as (client, data); put the Socket first or use ConnectedSocket()",
        )
    if not _socket_like(first.annotation, client_types):
        also = "" if len(specs) == 1 else " and mark the other parameter too"
        raise HandlerContextError(
            gateway, fn,
            f"parameter {first.name!r} is annotated {_name(first.annotation)}, but a handler "
            "without markers is called as (client, data), so it would receive the Socket; "
            f"write {first.name}: Annotated[{_name(first.annotation)}, MessageBody()]{also} "
            "(or annotate it as Socket)",
        )


def parse_handler(
    gateway: type, fn: Callable[..., Any], client_types: tuple[type, ...] = ()
) -> HandlerSignature:
    """Read *fn*'s parameters (after ``self``) into a ``HandlerSignature``.

    *client_types*: the transport's client classes, the annotations the first parameter of
    the marker-less ``(client, data)`` form may carry (besides none, ``Any`` or ``object``).

    Raises:
        HandlerContextError: a parameter has no marker while others do, a marker is
            misused, a type hint cannot be resolved, or a body type cannot be validated.
    """

    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # NameError for an unresolvable forward reference
        raise HandlerContextError(
            gateway, fn, f"cannot resolve type hints ({exc}); import the names used in "
            "annotations at module level"
        ) from exc
    sig = inspect.signature(fn)
    raw = list(sig.parameters.values())
    if raw and raw[0].name in ("self", "cls"):
        raw = raw[1:]
    is_async_gen = inspect.isasyncgenfunction(fn)
    is_async = inspect.iscoroutinefunction(fn)
    specs: list[ParamSpec] = []
    unmarked: list[str] = []
    for i, p in enumerate(raw):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = hints.get(p.name, Any)
        markers: list[Any] = []
        base = ann
        if get_origin(ann) is Annotated:
            base, *extras = get_args(ann)
            markers = [m for m in extras if _is_marker(m)]
            for m in extras:
                if isinstance(m, type) and _is_marker_class(m):
                    raise HandlerContextError(
                        gateway, fn, f"parameter {p.name!r} uses the marker {m.__name__} "
                        f"without calling it; write Annotated[{_name(base)}, {m.__name__}()]",
                    )
        if _is_marker(p.default) or (
            isinstance(p.default, type) and _is_marker_class(p.default)
        ):
            marker = p.default if not isinstance(p.default, type) else p.default()
            raise HandlerContextError(
                gateway, fn, f"parameter {p.name!r} has the marker {marker!r} as its default "
                f"value (FastAPI style); nestpy reads markers from the annotation: write "
                f"{p.name}: Annotated[{_name(base)}, {marker!r}]",
            )
        if len(markers) > 1:
            raise HandlerContextError(
                gateway, fn, f"parameter {p.name!r} has several markers {markers}; use one"
            )
        if not markers:
            unmarked.append(p.name)
            specs.append(ParamSpec(i, p.name, ParamKind.BODY, None, base))
            continue
        m = markers[0]
        if isinstance(m, MessageBody):
            specs.append(ParamSpec(i, p.name, ParamKind.BODY, m.key, base, tuple(m.pipes)))
        elif isinstance(m, ConnectedSocket):
            specs.append(ParamSpec(i, p.name, ParamKind.SOCKET, annotation=base))
        elif isinstance(m, Ack):
            specs.append(ParamSpec(i, p.name, ParamKind.ACK, annotation=base))
        else:  # Inject(): a provider, resolved per connected socket (DESIGN "Scopes")
            token = m.token if m.token is not None else base
            if token is Any or token is inspect.Parameter.empty:
                raise HandlerContextError(
                    gateway, fn, f"parameter {p.name!r} uses Inject() without a token or a "
                    "class annotation; write Annotated[MyService, Inject()] or Inject('TOKEN')",
                )
            specs.append(ParamSpec(i, p.name, ParamKind.INJECT, annotation=base, token=token))
    if unmarked and len(unmarked) != len(specs):
        raise HandlerContextError(
            gateway, fn,
            f"parameter {unmarked[0]!r} has no marker; use Annotated[<type>, MessageBody()] "
            "(or MessageBody('key'), ConnectedSocket(), Ack()), or drop every marker to use "
            "the (client, data) form",
        )
    no_marker = bool(unmarked)
    if no_marker:
        if len(specs) > 2:
            raise HandlerContextError(
                gateway, fn,
                "a handler without markers takes at most (client, data); mark the "
                "parameters with Annotated[..., MessageBody()] / ConnectedSocket()",
            )
        # NestJS's marker-less form: (client, data)
        kinds = (ParamKind.SOCKET, ParamKind.BODY)
        _check_marker_less(gateway, fn, specs, client_types)
        specs = [
            dataclasses.replace(s, kind=kinds[j]) for j, s in enumerate(specs)
        ]
    if not (is_async or is_async_gen) and inspect.isgeneratorfunction(fn):
        raise HandlerContextError(
            gateway, fn, "plain generators are not supported; use an async generator that "
            "yields WsResponse objects"
        )
    specs = [_with_validator(gateway, fn, s) for s in specs]
    return HandlerSignature(
        params=tuple(specs),
        no_marker=no_marker,
        is_async=is_async,
        is_async_gen=is_async_gen,
        uses_ack=any(s.kind is ParamKind.ACK for s in specs),
        returns=hints.get("return"),
        injects=tuple(s for s in specs if s.kind is ParamKind.INJECT),
    )


def _with_validator(gateway: type, fn: Callable[..., Any], spec: ParamSpec) -> ParamSpec:
    """*spec* with its validator: fails at bootstrap, not on the first message, when a body
    type cannot be validated."""
    if spec.kind is not ParamKind.BODY:
        return spec
    try:
        validator = build_validator(spec.annotation)
    except Exception as exc:
        raise HandlerContextError(
            gateway, fn,
            f"parameter {spec.name!r}: cannot validate a message body as "
            f"{spec.annotation!r} ({type(exc).__name__}); annotate it with a pydantic model, "
            "a dataclass, a JSON type (str, int, dict, list[...]) or Any",
        ) from exc
    return dataclasses.replace(spec, validator=validator)


@dataclass(frozen=True, slots=True)
class HandlerDefinition:
    """One ``@SubscribeMessage`` method."""

    event: str
    name: str
    function: Callable[..., Any]
    signature: HandlerSignature
