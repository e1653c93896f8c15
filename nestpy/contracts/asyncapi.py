"""An AsyncAPI 3.0 document of an application, from what its code declares.

One channel per Socket.IO namespace (or plain-WebSocket path); per ``@SubscribeMessage``
a ``receive`` operation whose message payload is the ``MessageBody`` schema and whose
``reply`` is the acknowledgement (the return annotation, or the error payload) or the events
a ``WsResponse`` / async generator sends; per event of the gateway's events ``Protocol``
(``Server[Events]``) a ``send`` operation. Message keys are prefixed ``recv_`` (client to
server) and ``send_`` (server to client): a namespace may use one name both ways.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, get_args
from urllib.parse import urlsplit

from nestpy._di.providers import DynamicModule
from nestpy.contracts._model import Channel, Emitted, Received, collect_channels, describe_target
from nestpy.contracts._schema import REF_PREFIX, SchemaRegistry

__all__ = ["WS_ERROR_SCHEMA", "build_asyncapi", "keyed_schema"]

ASYNCAPI_VERSION = "3.0.0"

#: The error payload of ``exception`` events and failed acks (NestJS 11's
#: ``BaseWsExceptionFilter``; ``WsException({...})`` sends its dict verbatim instead).
WS_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "WsError",
    "description": "What a failed handler sends: the `exception` event, and the ack when "
    "the client asked for one.",
    "properties": {
        "status": {"type": "string", "const": "error"},
        "message": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "description": "validation errors, one per failing field",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "error": {"type": "string"}},
                        "required": ["field", "error"],
                    },
                },
            ]
        },
        "cause": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "data": {}},
        },
    },
    "required": ["status", "message"],
}


def keyed_schema(schemas: SchemaRegistry, keyed: dict[str, Any]) -> dict[str, Any]:
    """The body of ``MessageBody("key")`` picks: an object with those properties (required
    unless the annotation accepts ``None``: a missing key arrives as ``None``)."""
    out: dict[str, Any] = {
        "type": "object",
        "properties": {k: schemas.schema_for(t, "validation") for k, t in keyed.items()},
    }
    required = [k for k, t in keyed.items() if t is not Any and not _accepts_none(t)]
    if required:
        out["required"] = required
    return out


def _accepts_none(tp: Any) -> bool:
    return tp is None or tp is type(None) or type(None) in get_args(tp)


def _key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", text).strip("_") or "event"


class _Builder:
    def __init__(self) -> None:
        self.schemas = SchemaRegistry()
        self.schemas.components["WsError"] = WS_ERROR_SCHEMA
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.security: dict[str, Any] = {}

    # -- payloads ---------------------------------------------------------------------

    def body(self, r: Received) -> dict[str, Any] | None:
        whole = None if r.body is None else self.schemas.schema_for(r.body, "validation")
        if r.keyed is None:
            return whole
        picked = keyed_schema(self.schemas, r.keyed)
        return picked if whole is None else {"allOf": [whole, picked]}

    def out(self, tp: Any) -> dict[str, Any]:
        return self.schemas.schema_for(tp, "serialization")

    def args(self, ev: Emitted) -> dict[str, Any] | None:
        if not ev.args:
            return None
        if len(ev.args) == 1:
            return self.out(ev.args[0][1])
        return {
            "type": "array",
            "description": "emitted arguments: " + ", ".join(name for name, _ in ev.args),
            "items": [self.out(tp) for _, tp in ev.args],
            "minItems": len(ev.args),
            "maxItems": len(ev.args),
        }

    # -- channel ----------------------------------------------------------------------

    def channel(self, ch: Channel) -> None:
        ws = ch.transport == "ws"
        messages: dict[str, Any] = {}
        ref = f"#/channels/{ch.key}"

        def frame(event: str, payload: dict[str, Any] | None) -> dict[str, Any] | None:
            if not ws:
                return payload
            props: dict[str, Any] = {"event": {"type": "string", "const": event}}
            if payload is not None:
                props["data"] = payload
            props["id"] = {"description": "optional request id, echoed in the reply"}
            return {"type": "object", "properties": props, "required": ["event"]}

        def message(key: str, name: str, payload: Any, summary: str | None) -> str:
            msg: dict[str, Any] = {"name": name, "contentType": "application/json"}
            if summary:
                msg["summary"] = summary.splitlines()[0]
                if "\n" in summary:
                    msg["description"] = summary
            if payload is not None:
                msg["payload"] = payload
            messages[key] = msg
            return f"{ref}/messages/{key}"

        error = {"$ref": REF_PREFIX + "WsError"}
        exc_key = message("send_exception", "exception", frame("exception", error),
                          "A handler failed (NestJS's error payload).")
        security = [
            {"$ref": f"#/components/securitySchemes/{name}"} for name in ch.security
        ]
        for name, scheme in ch.security.items():
            self.security[name] = scheme

        # server → client first: WsResponse replies refer to these messages
        by_type: dict[Any, list[str]] = {}
        for ev in ch.emitted.values():
            key = f"send_{_key(ev.event)}"
            msg_ref = message(key, ev.event, frame(ev.event, self.args(ev)), ev.doc)
            if len(ev.args) == 1:
                by_type.setdefault(ev.args[0][1], []).append(msg_ref)
            op: dict[str, Any] = {
                "action": "send",
                "channel": {"$ref": ref},
                "messages": [{"$ref": msg_ref}],
                "summary": f"The server emits {ev.event!r}.",
            }
            if ev.ack is not None:
                ack_ref = message(f"{key}_ack", f"{ev.event} (ack)", self.out(ev.ack),
                                  f"The client's acknowledgement of {ev.event!r}.")
                op["reply"] = {"channel": {"$ref": ref}, "messages": [{"$ref": ack_ref}]}
            self.operations[f"{ch.key}_send_{_key(ev.event)}"] = op
        self.operations[f"{ch.key}_send_exception"] = {
            "action": "send",
            "channel": {"$ref": ref},
            "messages": [{"$ref": exc_key}],
            "summary": "The server reports a failed handler.",
        }

        for r in ch.received:
            key = f"recv_{_key(r.event)}"
            msg_ref = message(key, r.event, frame(r.event, self.body(r)), r.doc)
            op = {
                "action": "receive",
                "channel": {"$ref": ref},
                "messages": [{"$ref": msg_ref}],
                "summary": f"Handled by {r.handler}.",
            }
            op_security = [
                {"$ref": f"#/components/securitySchemes/{name}"} for name, _ in r.security
            ]
            if op_security or security:
                op["security"] = op_security or security
            reply = self.reply(r, key, message, by_type, error, ws)
            if reply is not None:
                op["reply"] = {"channel": {"$ref": ref}, "messages": reply}
            self.operations[f"{ch.key}_recv_{_key(r.event)}"] = op

        address: str | None
        if ws:
            address = ch.path
        elif isinstance(ch.namespace, re.Pattern):
            address = None  # a dynamic namespace: every name the pattern matches
        else:
            address = ch.namespace
        desc = [*ch.docs]
        if ws:
            desc.append(f"Plain WebSocket at path `{ch.path}`; frames are JSON "
                        '`{"event": name, "data": payload}`.')
        else:
            ns = ch.namespace.pattern if isinstance(ch.namespace, re.Pattern) else ch.namespace
            kind = "namespaces matching the pattern" if address is None else "namespace"
            desc.append(f"Socket.IO {kind} `{ns}` (Engine.IO path `{ch.path}`).")
        desc.append("Gateways: " + ", ".join(ch.gateways) + ".")
        self.channels[ch.key] = {
            "address": address,
            "title": ch.key,
            "description": "\n\n".join(desc),
            "messages": messages,
        }

    def reply(
        self, r: Received, key: str, message: Any, by_type: dict[Any, list[str]],
        error: dict[str, Any], ws: bool,
    ) -> list[dict[str, str]] | None:
        rep = r.reply
        if rep.kind == "none":
            return None
        if rep.kind == "ack":
            if ws:
                # NestJS's WsAdapter sends the value itself (framed with the request's id when
                # it had one); errors arrive as `exception` frames instead.
                ack_ref = message(f"{key}_ack", f"{r.event} (reply)", self.out(rep.type),
                                  f"The reply to {r.event!r}: the value as JSON, or "
                                  '{"event", "id", "data"} when the request carried an id.')
                return [{"$ref": ack_ref}]
            payload = {"oneOf": [self.out(rep.type), error]}
            ack_ref = message(f"{key}_ack", f"{r.event} (ack)", payload,
                              f"The acknowledgement of {r.event!r} (or the error payload).")
            return [{"$ref": ack_ref}]
        refs = by_type.get(rep.type)
        if not refs:
            data = self.out(rep.type)
            note = "Yields" if rep.stream else "Returns"
            refs = [message(f"{key}_response", f"{r.event} (WsResponse)", data,
                            f"{note} WsResponse: emitted to the caller under the event "
                            "name the handler chooses.")]
        return [{"$ref": ref} for ref in refs]


def _servers(urls: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, url in enumerate(urls):
        parts = urlsplit(url)
        if not parts.scheme or not parts.netloc:
            raise ValueError(f"server URL {url!r} needs a scheme and a host, e.g. "
                             "ws://localhost:3000")
        server: dict[str, Any] = {"host": parts.netloc, "protocol": parts.scheme}
        if parts.path and parts.path != "/":
            server["pathname"] = parts.path
        out["default" if i == 0 else f"server{i + 1}"] = server
    return out


def build_asyncapi(
    target: Any,
    *,
    title: str | None = None,
    version: str = "1.0.0",
    description: str | None = None,
    servers: list[str] | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of *target* (a root ``@Module``, a gateway class, or a
    list of them) as a dict ready for JSON or YAML. Nothing is instantiated or served.

    Args:
        title: ``info.title`` (default: the target's name).
        version: ``info.version``, the version of *your* API.
        description: ``info.description`` (default: the root module's or gateway's
            docstring).
        servers: URLs (``ws://host:port``) listed under ``servers``.

    Raises:
        BootstrapError: the target holds no gateway or a handler signature is invalid.
        TypeError: a payload type cannot be described as a JSON schema.
    """
    b = _Builder()
    for ch in collect_channels(target):
        b.channel(ch)
    info: dict[str, Any] = {"title": title or describe_target(target), "version": version}
    root = target.module if isinstance(target, DynamicModule) else target
    own_doc = getattr(root, "__doc__", None) if isinstance(root, type) else None
    description = description or (inspect.cleandoc(own_doc) if own_doc else None)
    if description:
        info["description"] = description
    doc: dict[str, Any] = {"asyncapi": ASYNCAPI_VERSION, "info": info}
    if servers:
        doc["servers"] = _servers(servers)
    doc["defaultContentType"] = "application/json"
    doc["channels"] = b.channels
    doc["operations"] = b.operations
    components: dict[str, Any] = {"schemas": dict(sorted(b.schemas.components.items()))}
    if b.security:
        components["securitySchemes"] = b.security
    doc["components"] = components
    return doc
