"""One encoder for every value nestpy puts on the wire (DESIGN.md "What a handler returns").

Acks, ``WsResponse``, ``Socket.emit``, ``emit_with_ack``, broadcasts and manual ``Ack()``
calls all pass their arguments through :func:`to_wire` before python-socketio sees them, so
the packet codec below (orjson with the ``speed`` extra, the stdlib ``json`` without it)
only ever meets JSON types and ``bytes``. Conversions, the same with and without orjson:

* pydantic models → ``model_dump(mode="json", by_alias=True)``
* dataclasses → dicts (fields converted in turn)
* ``datetime`` / ``date`` / ``time`` → ISO 8601 strings
* ``UUID`` / ``Decimal`` → strings; ``Enum`` → its value
* ``set`` / ``frozenset`` / ``tuple`` nested in data → lists
* ``bytes`` stay binary attachments

A value with no conversion raises :class:`EncodeError` (a ``TypeError``) naming its type.

Two layers keep plain JSON data free of cost: the wrappers convert only top-level values
that are not JSON types (one type lookup per argument), and the packet codec (orjson or the
stdlib, ``nestpy._speed``) calls :func:`json_default` for anything nested it cannot carry,
which plain data never triggers. Both raise ``EncodeError`` before anything is written, so
the sender answers the caller's ack with the error payload. A handler whose return
annotation is a pydantic model (or a list of them) gets a serializer built once at bootstrap
(:func:`encoder_for`).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import typing
import uuid
from collections.abc import Callable
from typing import Any

__all__ = [
    "NATIVE_TYPES", "EncodeError", "Encoder", "encoder_for", "event_data", "json_default",
    "to_wire", "to_wire_args",
]

Encoder = Callable[[Any], Any]

_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None), bytes})
#: What the codec carries natively at the top level (containers are not walked).
_NATIVE: frozenset[type] = _PLAIN | {dict, list}
NATIVE_TYPES = _NATIVE


class EncodeError(TypeError):
    """A value nestpy cannot put on the wire; names the offending type."""

    def __init__(self, value: Any) -> None:
        self.type = type(value)
        super().__init__(
            f"cannot encode a value of type {self.type.__module__}.{self.type.__qualname__} "
            "for Socket.IO: return JSON types, pydantic models, dataclasses, datetime/UUID/"
            "Decimal/Enum values, or bytes"
        )


def _convert(value: Any) -> Any:
    t = type(value)
    if t in _PLAIN:
        return value
    if t is list or t is tuple or isinstance(value, list | tuple | set | frozenset):
        return [_convert(item) for item in value]
    if isinstance(value, dict):
        return {_key(k): _convert(v) for k, v in value.items()}
    dump = getattr(value, "model_dump", None)
    if dump is not None and hasattr(type(value), "model_fields"):  # a pydantic model
        return dump(mode="json", by_alias=True)
    if isinstance(value, enum.Enum):
        return _convert(value.value)
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, str | int | float | bytes | bytearray):  # subclasses (IntEnum done)
        if isinstance(value, bytearray):
            return bytes(value)
        return value
    raise EncodeError(value)


def _key(key: Any) -> str:
    # JSON keys are strings: converted as the stdlib json module does (orjson refuses them).
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, str):
        return str(key)
    if key is True or key is False or key is None:
        return "true" if key is True else ("false" if key is False else "null")
    if isinstance(key, int | float):
        return str(key)
    return str(_convert(key))


def to_wire(value: Any) -> Any:
    """*value* ready for the packet codec (itself when it is a JSON type or bytes).

    Only the top level is checked here (one type lookup, no walk over dicts and lists):
    values nested in plain containers are converted by the codec's ``default`` hook
    (:func:`json_default`), which costs nothing for plain JSON data.

    Raises:
        EncodeError: a top-level value of a type nestpy cannot encode.
    """
    if type(value) in _NATIVE:
        return value
    return _convert(value)


def to_wire_args(args: tuple[Any, ...]) -> list[Any]:
    """Emit/ack arguments as a list of wire values (see :func:`to_wire`)."""
    out = list(args)
    for i, item in enumerate(out):
        if type(item) not in _NATIVE:
            out[i] = _convert(item)
    return out


def event_data(event: str, args: tuple[Any, ...]) -> list[Any]:
    """An EVENT packet's data: ``[event, *args]`` with each argument converted."""
    out = [event, *args]
    for i in range(1, len(out)):
        item = out[i]
        if type(item) not in _NATIVE:
            out[i] = _convert(item)
    return out


def json_default(value: Any) -> Any:
    """The packet codec's ``default`` hook: a value JSON cannot carry, converted.

    Raises:
        EncodeError: no conversion exists (the send fails; the caller answers the ack).
    """
    converted = _convert(value)
    if converted is value:  # e.g. bytes nested where JSON cannot hold them
        raise EncodeError(value)
    return converted


def _model_list_type(annotation: Any) -> type | None:
    origin = typing.get_origin(annotation)
    if origin not in (list, typing.List):  # noqa: UP006 - matching the alias too
        return None
    args = typing.get_args(annotation)
    if len(args) == 1 and _is_model_type(args[0]):
        return args[0]  # type: ignore[no-any-return]
    return None


def _is_model_type(annotation: Any) -> bool:
    return isinstance(annotation, type) and hasattr(annotation, "model_fields") and hasattr(
        annotation, "model_dump"
    )


def encoder_for(annotation: Any) -> Encoder:
    """The encoder for a handler whose return annotation is *annotation* (bootstrap only).

    A pydantic model or ``list[Model]`` gets a prebuilt ``TypeAdapter`` serializer (used
    when the value really is of that type; anything else takes the general path), which
    needs no walk over the result. Every other annotation, or none, gets :func:`to_wire`.
    """
    if _is_model_type(annotation):
        model = annotation

        def encode_model(value: Any) -> Any:
            if type(value) is model:
                return value.model_dump(mode="json", by_alias=True)
            return to_wire(value)

        return encode_model
    item = _model_list_type(annotation)
    if item is not None:
        import pydantic

        adapter: Any = pydantic.TypeAdapter(list[item])  # type: ignore[valid-type]

        def encode_models(value: Any) -> Any:
            if type(value) is list and all(type(v) is item for v in value):
                return adapter.dump_python(value, mode="json", by_alias=True)
            return to_wire(value)

        return encode_models
    return to_wire
