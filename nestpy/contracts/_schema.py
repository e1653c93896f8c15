"""JSON schemas of Python types through pydantic, shaped for AsyncAPI 3.0.

pydantic writes JSON Schema 2020-12 with local ``$defs``; AsyncAPI's default schema format
is a superset of draft-07. ``SchemaRegistry`` hoists every ``$defs`` entry into one
``components/schemas`` table (``$ref: '#/components/schemas/Name'``) and rewrites the few
2020-12 keywords draft-07 lacks (``prefixItems`` → the array form of ``items``; pydantic's
OpenAPI-style ``discriminator`` object is dropped: AsyncAPI's is a plain property name).
"""

from __future__ import annotations

import copy
import sys
import types
import typing
from typing import Annotated, Any, Literal, get_args, get_origin

import typing_extensions
from pydantic import TypeAdapter

__all__ = ["REF_PREFIX", "SchemaRegistry"]

REF_PREFIX = "#/components/schemas/"
Mode = Literal["validation", "serialization"]


class SchemaRegistry:
    """Builds schemas for types and collects their shared definitions.

    Attributes:
        components: name → schema of every model referenced so far.
    """

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}
        self._renamed: dict[str, str] = {}

    def schema_for(self, tp: Any, mode: Mode = "validation") -> dict[str, Any]:
        """The schema of *tp* (models become ``$ref`` entries of :attr:`components`).

        Raises:
            TypeError: pydantic cannot describe *tp* (the message names the type).
        """
        try:
            # json_schemas (not json_schema): a model at the top is a $ref too, so every
            # model lands in components/schemas under its own name.
            by_key, top = TypeAdapter.json_schemas(
                [("it", mode, TypeAdapter(_compat(tp)))], ref_template=REF_PREFIX + "{model}"
            )
        except Exception as exc:  # PydanticSchemaGenerationError, PydanticInvalidForJsonSchema
            raise TypeError(f"cannot describe {tp!r} as a JSON schema: {exc}") from exc
        raw = dict(by_key[("it", mode)])
        defs = {name: _draft07(schema) for name, schema in top.get("$defs", {}).items()}
        renames = self._register(defs)
        out: dict[str, Any] = _draft07(raw)
        if any(k != v for k, v in renames.items()):
            out = _rename_refs(out, renames)
        return out

    def _register(self, defs: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Add one schema's *defs* to :attr:`components`; returns old name → registered name.

        Two different types with one name (two modules' ``Message``) get Message, Message2…
        A definition is compared with a registered one after its own references are renamed,
        so a type that refers to a renamed one is renamed in turn (an unchanged registered
        schema is never rewritten). Repeated until no name moves; numbers only grow, so it
        ends.
        """
        number = dict.fromkeys(defs, 1)
        while True:
            renames = {name: _numbered(name, n) for name, n in number.items()}
            final = {name: _rename_refs(schema, renames) for name, schema in defs.items()}
            claimed: set[str] = set()
            moved = False
            for name, schema in final.items():
                n = number[name]
                while (candidate := _numbered(name, n)) in claimed or (
                    self.components.get(candidate, schema) != schema
                ):
                    n += 1
                claimed.add(candidate)
                if n != number[name]:
                    number[name], moved = n, True
            if not moved:
                for name, schema in final.items():
                    self.components[renames[name]] = schema
                return renames


def _numbered(name: str, n: int) -> str:
    return name if n == 1 else f"{name}{n}"


def _draft07(node: Any) -> Any:
    if isinstance(node, list):
        return [_draft07(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "discriminator" and isinstance(value, dict):
            continue
        if key == "prefixItems":
            out["items"] = _draft07(value)
            if node.get("items") is False:
                out["additionalItems"] = False
            continue
        if key == "items" and "prefixItems" in node:
            if value is not False:
                out["additionalItems"] = _draft07(value)
            continue
        out[key] = _draft07(value)
    return out


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    if not isinstance(node, dict):
        return node
    out = copy.copy(node)
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF_PREFIX):
        name = ref[len(REF_PREFIX):]
        out["$ref"] = REF_PREFIX + renames.get(name, name)
    return {k: (v if k == "$ref" else _rename_refs(v, renames)) for k, v in out.items()}


_compat_cache: dict[Any, Any] = {}


def _compat(tp: Any) -> Any:
    """*tp* with every ``typing.TypedDict`` rebuilt as ``typing_extensions.TypedDict``.

    pydantic refuses ``typing.TypedDict`` before Python 3.12 (it lacks the data pydantic
    needs); users should not have to know, so the contract tools convert (name, doc,
    required keys and field types kept).
    """
    if sys.version_info >= (3, 12):
        return tp
    if typing_extensions.is_typeddict(tp):
        if type(tp) is not typing._TypedDictMeta:  # type: ignore[attr-defined]
            return tp  # already typing_extensions'
        if tp in _compat_cache:
            return _compat_cache[tp]
        hints = typing.get_type_hints(tp, include_extras=True)
        required = getattr(tp, "__required_keys__", frozenset(hints))
        fields = {
            k: _compat(v) if k in required else typing_extensions.NotRequired[_compat(v)]
            for k, v in hints.items()
        }
        make: Any = typing_extensions.TypedDict
        clone: Any = make(tp.__name__, fields)
        clone.__doc__ = tp.__doc__
        clone.__module__ = tp.__module__
        clone.__qualname__ = tp.__qualname__
        _compat_cache[tp] = clone
        return clone
    origin, args = get_origin(tp), get_args(tp)
    if origin is None or not args:
        return tp
    new = tuple(_compat(a) if not isinstance(a, list) else [_compat(x) for x in a] for a in args)
    if new == args:
        return tp
    if origin is Annotated:
        return tp.copy_with((new[0],))  # keeps the metadata
    if origin is typing.Union or origin is types.UnionType:
        return typing.Union[new]  # noqa: UP007 - rebuilt from a tuple of arguments
    try:
        return origin[new] if len(new) > 1 else origin[new[0]]
    except TypeError:
        return tp
