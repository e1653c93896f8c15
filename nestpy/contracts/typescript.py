"""TypeScript event maps for socket.io-client's typed ``Socket<ListenEvents, EmitEvents>``.

Per Socket.IO namespace: ``<Ns>ServerToClientEvents`` (the gateway's events ``Protocol``
plus ``exception``) and ``<Ns>ClientToServerEvents`` (one entry per ``@SubscribeMessage``);
``ServerToClientEvents`` / ``ClientToServerEvents`` name the namespace's maps when the app
has one namespace (or one is chosen). Acknowledgements are socket.io's callback parameters:
a handler with a return value takes ``callback: (response: Reply | WsError) => void``, so
``socket.emitWithAck`` resolves to the reply type. Types come from the same JSON schemas as
the AsyncAPI document (pydantic), so constraints the TS type system cannot say (minLength…)
stay in that document.
"""

from __future__ import annotations

import json
import re
from typing import Any

from nestpy.contracts._model import Channel, Received, collect_channels
from nestpy.contracts._schema import REF_PREFIX, SchemaRegistry
from nestpy.contracts.asyncapi import WS_ERROR_SCHEMA, keyed_schema

__all__ = ["build_typescript"]

_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def _type_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_$]", "_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else "_" + cleaned


def _pascal(key: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", key)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return out if out and not out[0].isdigit() else "Ns" + out


def _prop(name: str) -> str:
    return name if _IDENT.match(name) else json.dumps(name)


def _doc(text: str | None, indent: str) -> str:
    if not text:
        return ""
    lines = text.replace("*/", "*\\/").strip().splitlines()
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    body = "".join(f"{indent} * {line}".rstrip() + "\n" for line in lines)
    return f"{indent}/**\n{body}{indent} */\n"


def ts_type(schema: Any, indent: str = "") -> str:
    """The TypeScript type of JSON schema *schema* (``$ref`` → the component's name)."""
    if schema is True or schema == {}:
        return "unknown"
    if schema is False:
        return "never"
    if not isinstance(schema, dict):
        return "unknown"
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF_PREFIX):
        return _type_name(ref[len(REF_PREFIX):])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"]) or "never"
    for key, sep in (("anyOf", " | "), ("oneOf", " | "), ("allOf", " & ")):
        if key in schema:
            parts = [ts_type(s, indent) for s in schema[key]]
            return sep.join(f"({p})" if (" | " in p or " & " in p) else p for p in parts)
    t = schema.get("type")
    if isinstance(t, list):
        return " | ".join(ts_type({**schema, "type": one}, indent) for one in t)
    if t == "string":
        return "string"
    if t in ("integer", "number"):
        return "number"
    if t == "boolean":
        return "boolean"
    if t == "null":
        return "null"
    if t == "array":
        items = schema.get("items")
        if isinstance(items, list):
            return "[" + ", ".join(ts_type(s, indent) for s in items) + "]"
        inner = ts_type(items, indent) if items is not None else "unknown"
        return f"({inner})[]" if (" " in inner) else f"{inner}[]"
    if t == "object" or "properties" in schema:
        props: dict[str, Any] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        if not props:
            value = ts_type(extra, indent) if isinstance(extra, dict) else "unknown"
            return f"Record<string, {value}>"
        required = set(schema.get("required") or ())
        inner = indent + "  "
        lines = []
        for name, sub in props.items():
            opt = "" if name in required else "?"
            desc = sub.get("description") if isinstance(sub, dict) else None
            lines.append(f"{_doc(desc, inner)}{inner}{_prop(name)}{opt}: {ts_type(sub, inner)};")
        if extra is True or isinstance(extra, dict):
            lines.append(f"{inner}[key: string]: unknown;")
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    return "unknown"


class _Writer:
    def __init__(self) -> None:
        self.schemas = SchemaRegistry()

    def body(self, r: Received) -> str | None:
        if r.keyed is not None:
            return ts_type(keyed_schema(self.schemas, r.keyed), "  ")
        if r.body is None:
            return None
        return ts_type(self.schemas.schema_for(r.body, "validation"), "  ")

    def out(self, tp: Any) -> str:
        return ts_type(self.schemas.schema_for(tp, "serialization"), "  ")

    def client_to_server(self, ch: Channel, name: str) -> str:
        lines = []
        for r in ch.received:
            params = []
            body = self.body(r)
            if body is not None:
                params.append(f"payload: {body}")
            if r.reply.kind == "ack":
                params.append(f"callback: (response: {self.out(r.reply.type)} | WsError) => void")
            doc = r.doc or f"Handled by {r.handler}."
            lines.append(f"{_doc(doc, '  ')}  {_prop(r.event)}: ({', '.join(params)}) => void;")
        return _interface(name, f"What clients emit on {_where(ch)}.", lines)

    def server_to_client(self, ch: Channel, name: str) -> str:
        lines = [
            "  /** A handler failed: NestJS's error payload. */\n"
            "  exception: (error: WsError) => void;"
        ]
        for ev in ch.emitted.values():
            params = [f"{_ident(arg)}: {self.out(tp)}" for arg, tp in ev.args]
            if ev.ack is not None:
                params.append(f"callback: (response: {self.out(ev.ack)}) => void")
            lines.append(f"{_doc(ev.doc, '  ')}  {_prop(ev.event)}: ({', '.join(params)}) => void;")
        return _interface(name, f"What the server emits on {_where(ch)}.", lines)


def _ident(name: str) -> str:
    return name if _IDENT.match(name) else "arg"


def _where(ch: Channel) -> str:
    ns = ch.namespace.pattern if isinstance(ch.namespace, re.Pattern) else ch.namespace
    return f"namespace {ns}"


def _interface(name: str, doc: str, lines: list[str]) -> str:
    return f"/** {doc} */\nexport interface {name} {{\n" + "\n".join(lines) + "\n}\n"


def _component(name: str, schema: dict[str, Any]) -> str:
    doc = _doc(schema.get("description") or None, "")
    body = ts_type(schema)
    if body.startswith("{\n"):
        return f"{doc}export interface {_type_name(name)} {body}\n"
    return f"{doc}export type {_type_name(name)} = {body};\n"


def build_typescript(target: Any, *, namespace: str | None = None) -> str:
    """TypeScript declarations of *target*'s Socket.IO events (see the module docstring).

    Args:
        target: a root ``@Module``, a gateway class, or a list of them.
        namespace: the namespace whose maps are also exported as ``ServerToClientEvents``
            / ``ClientToServerEvents`` (default: the only one, when there is one).

    Raises:
        ValueError: *namespace* is not served by any gateway.
    """
    w = _Writer()
    channels = [c for c in collect_channels(target) if c.transport == "socket.io"]
    blocks: list[str] = []
    names: dict[str, tuple[str, str]] = {}
    for ch in channels:
        prefix = _pascal(ch.key)
        s2c, c2s = f"{prefix}ServerToClientEvents", f"{prefix}ClientToServerEvents"
        blocks.append(w.server_to_client(ch, s2c))
        blocks.append(w.client_to_server(ch, c2s))
        ns = ch.namespace.pattern if isinstance(ch.namespace, re.Pattern) else ch.namespace
        names[ns] = (s2c, c2s)
    chosen: tuple[str, str] | None = None
    if namespace is not None:
        ns = namespace if namespace.startswith("/") else "/" + namespace
        if ns not in names:
            raise ValueError(
                f"no Socket.IO gateway serves namespace {ns!r}; namespaces: {sorted(names)}"
            )
        chosen = names[ns]
    elif len(names) == 1:
        chosen = next(iter(names.values()))
    if chosen is not None:
        blocks.append(
            f"export type ServerToClientEvents = {chosen[0]};\n"
            f"export type ClientToServerEvents = {chosen[1]};\n"
        )
    components = {"WsError": WS_ERROR_SCHEMA, **w.schemas.components}
    header = (
        "// Generated by `nestpy client --lang ts` from the application's gateways. Do not edit.\n"
        "// Use with socket.io-client: Socket<ServerToClientEvents, ClientToServerEvents>.\n\n"
    )
    types = "\n".join(_component(n, s) for n, s in sorted(components.items()))
    return header + types + "\n" + "\n".join(blocks)
