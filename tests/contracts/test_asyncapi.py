"""``nestpy asyncapi``: AsyncAPI 3.0 documents that the official parser accepts, for every
example app and for a gateway using every shape nestpy describes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from contract_tools import EXAMPLES, HERE, load_file, validate

from nestpy import _metadata as md
from nestpy.contracts import build_asyncapi

pytestmark = pytest.mark.interop  # needs Node (skipped locally without it; required in CI)

_SUBSCRIBE = re.compile(r"@SubscribeMessage\(\s*[\"']([^\"']+)[\"']")


def _python_files(example: Path) -> list[Path]:
    skip = {"node_modules", "tests", "__pycache__", ".venv"}
    return sorted(
        p for p in example.rglob("*.py")
        if not skip & set(p.relative_to(example).parts) and not p.name.startswith("test_")
    )


def _dotted(path: Path) -> tuple[Path, str]:
    """The import root and dotted name of *path* (walking up through packages)."""
    parts = [path.stem]
    parent = path.parent
    while (parent / "__init__.py").exists():
        parts.insert(0, parent.name)
        parent = parent.parent
    return parent, ".".join(parts)


def example_targets(example: Path) -> tuple[list[Any], set[str]]:
    """The example's root modules (or its gateways when it has no module-level root
    module) and the events its source subscribes to, read from the text itself."""
    modules: list[type] = []
    gateways: list[type] = []
    events: set[str] = set()
    for path in _python_files(example):
        text = path.read_text(encoding="utf-8")
        if "@WebSocketGateway" not in text and "@Module" not in text:
            continue
        events.update(_SUBSCRIBE.findall(text))
        root, dotted = _dotted(path)
        name = dotted if root != path.parent else f"_contract_example_{example.name}_{dotted}"
        if root != path.parent and str(root) not in sys.path:
            sys.path.insert(0, str(root))
        module = load_file(path, name)
        for value in vars(module).values():
            if not isinstance(value, type) or value.__module__ != module.__name__:
                continue
            if md.has_meta(value, md.MODULE):
                modules.append(value)
            elif any(md.has_meta(k, md.GATEWAY) for k in value.__mro__):
                gateways.append(value)
    imported = {
        getattr(i, "module", i)
        for m in modules
        for i in md.get_meta(m, md.MODULE).imports
    }
    roots = [m for m in modules if m not in imported]
    return (roots or gateways), events


EXAMPLE_DIRS = sorted(
    p for p in EXAMPLES.iterdir()
    if p.is_dir() and p.name != "node_modules" and not p.name.startswith((".", "_"))
    and _python_files(p)
)


def test_the_known_examples_are_found() -> None:
    names = {p.name for p in EXAMPLE_DIRS}
    assert {"channels", "rooms", "scaleout"} <= names


def test_every_example_app_is_a_valid_asyncapi_document(node_tools: Path, tmp_path: Path) -> None:
    files: dict[str, tuple[Path, set[str]]] = {}
    for example in EXAMPLE_DIRS:
        targets, events = example_targets(example)
        if not targets:
            continue  # a helper script directory without gateways
        doc = build_asyncapi(targets, title=example.name)
        # YAML for half of them, JSON for the other half: the parser reads both
        suffix = ".yaml" if len(files) % 2 else ".json"
        out = tmp_path / f"{example.name}{suffix}"
        out.write_text(
            yaml.safe_dump(doc, sort_keys=False) if suffix == ".yaml" else json.dumps(doc),
            encoding="utf-8",
        )
        files[example.name] = (out, events)
    assert {"channels", "rooms", "scaleout"} <= set(files)
    results = validate(node_tools, *(f for f, _ in files.values()))
    for (name, (_path, events)), result in zip(files.items(), results, strict=True):
        assert result["valid"], (name, result["errors"])
        assert result["version"] == "3.0.0"
        # every event the source subscribes to is a message the parser resolved
        assert events <= set(result["messages"]), (name, events, result["messages"])
        received = [o for o in result["operations"] if o.startswith("receive:")]
        assert len(received) >= len(events), (name, result["operations"])


def test_the_parser_rejects_a_broken_document(node_tools: Path, tmp_path: Path) -> None:
    """The check above can fail: a reply pointing at a message that does not exist."""
    rooms = load_file(EXAMPLES / "rooms" / "app.py", "_contract_example_rooms_app")
    doc = build_asyncapi(rooms.AppModule)
    doc["operations"]["rooms_recv_join"]["reply"]["messages"] = [
        {"$ref": "#/channels/rooms/messages/no_such_message"}
    ]
    del doc["info"]["version"]
    out = tmp_path / "broken.json"
    out.write_text(json.dumps(doc), encoding="utf-8")
    (result,) = validate(node_tools, out)
    assert not result["valid"]
    assert result["errors"]


def test_rooms_document_says_what_the_code_says() -> None:
    rooms = load_file(EXAMPLES / "rooms" / "app.py", "_contract_example_rooms_app")
    doc = build_asyncapi(rooms.AppModule, servers=["ws://localhost:3000"])
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"] == {"title": "AppModule", "version": "1.0.0"}  # no docstring, none
    assert doc["servers"]["default"] == {"host": "localhost:3000", "protocol": "ws"}
    channel = doc["channels"]["rooms"]
    assert channel["address"] == "/rooms"
    schemas = doc["components"]["schemas"]
    # validation constraints come through the JSON schema
    assert schemas["JoinRoom"]["properties"]["room"] == {
        "maxLength": 64, "minLength": 1, "title": "Room", "type": "string"
    }
    assert channel["messages"]["recv_join"]["payload"] == {"$ref": "#/components/schemas/JoinRoom"}
    ack = channel["messages"]["recv_join_ack"]["payload"]
    assert ack == {"oneOf": [{"$ref": "#/components/schemas/Membership"},
                             {"$ref": "#/components/schemas/WsError"}]}
    assert schemas["Membership"]["required"] == ["room", "members"]
    # send operations from the RoomEvents protocol
    ops = doc["operations"]
    assert ops["rooms_send_joined"]["action"] == "send"
    assert channel["messages"]["send_joined"]["payload"] == {"$ref": "#/components/schemas/Joined"}
    assert set(schemas["RoomText"]["properties"]) == {"room", "from", "text"}
    # `message` goes both ways under one name: two messages, two operations
    assert channel["messages"]["recv_message"]["name"] == "message"
    assert channel["messages"]["send_message"]["name"] == "message"
    assert "reply" not in ops["rooms_recv_message"]  # returns None: nothing to describe
    assert ops["rooms_recv_join"]["reply"]["messages"] == [
        {"$ref": "#/channels/rooms/messages/recv_join_ack"}
    ]


def test_every_shape_is_described(node_tools: Path, tmp_path: Path) -> None:
    sample = load_file(HERE / "sample_app.py", "_contract_sample_app")
    doc = build_asyncapi(sample.SampleModule)
    out = tmp_path / "sample.json"
    out.write_text(json.dumps(doc), encoding="utf-8")
    (result,) = validate(node_tools, out)
    assert result["valid"], result["errors"]
    assert set(result["channels"]) == {"board", "dynamic_team-_w", "events"}

    assert doc["info"] == {
        "title": "SampleModule", "version": "1.0.0", "description": "Contract test application."
    }
    schemas = doc["components"]["schemas"]
    ops = doc["operations"]
    board = doc["channels"]["board"]["messages"]
    # pydantic model with constraints and an enum
    assert schemas["Paint"]["properties"]["x"] == {
        "maximum": 99, "minimum": 0, "title": "X", "type": "integer"
    }
    assert schemas["Colour"]["enum"] == ["red", "blue"]
    # a dataclass, nested in a reply
    assert schemas["Painted"]["properties"]["cell"] == {"$ref": "#/components/schemas/Point"}
    assert schemas["Point"]["required"] == ["x", "y"]
    # MessageBody("key") picks: one object with those properties
    assert board["recv_move"]["payload"] == {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
        "required": ["x", "y"],
    }
    # plain types; a manual Ack() carries its callable's argument type
    assert board["recv_countdown"]["payload"] == {"type": "integer"}
    assert board["recv_manual_ack"]["payload"]["oneOf"][0] == {
        "type": "array", "items": {"type": "string"}
    }
    # async generator of WsResponse[Tick] and WsResponse[Painted]: the events they send
    assert ops["board_recv_countdown"]["reply"]["messages"] == [
        {"$ref": "#/channels/board/messages/send_tick"}
    ]
    assert ops["board_recv_peek"]["reply"]["messages"] == [
        {"$ref": "#/channels/board/messages/send_painted"}
    ]
    # server events: two arguments → a tuple; an ack return → the client's reply
    assert board["send_moved"]["payload"]["items"] == [
        {"type": "string"}, {"$ref": "#/components/schemas/Point"}
    ]
    assert ops["board_send_confirm"]["reply"]["messages"] == [
        {"$ref": "#/channels/board/messages/send_confirm_ack"}
    ]
    assert board["send_confirm_ack"]["payload"] == {"$ref": "#/components/schemas/Answer"}
    # a handshake guard that declares a scheme: AsyncAPI security on the gateway's operations
    assert doc["components"]["securitySchemes"]["TokenGuard"]["type"] == "httpApiKey"
    assert ops["board_recv_paint"]["security"] == [
        {"$ref": "#/components/securitySchemes/TokenGuard"}
    ]
    assert "security" not in ops["dynamic_team-_w_recv_hello"]
    # a regex namespace has no fixed address; a plain WebSocket gateway is a path
    assert doc["channels"]["dynamic_team-_w"]["address"] is None
    assert doc["channels"]["events"]["address"] == "/events"
    echo = doc["channels"]["events"]["messages"]["recv_echo"]["payload"]
    assert echo["properties"]["event"] == {"type": "string", "const": "echo"}
    assert echo["properties"]["data"] == {
        "type": "object", "additionalProperties": {"type": "integer"}
    }
    # its reply is the value itself (errors come as `exception` frames)
    assert doc["channels"]["events"]["messages"]["recv_echo_ack"]["payload"] == {
        "type": "object", "additionalProperties": {"type": "integer"}
    }


def _nestpy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nestpy.cli", *args], cwd=cwd, capture_output=True, text=True,
        timeout=120,
    )


def test_cli_writes_yaml_or_json_by_extension(tmp_path: Path) -> None:
    rooms_dir = EXAMPLES / "rooms"
    as_yaml = _nestpy("asyncapi", "app:AppModule", "-o", str(tmp_path / "a.yaml"), cwd=rooms_dir)
    assert as_yaml.returncode == 0, as_yaml.stderr
    as_json = _nestpy("asyncapi", "app:AppModule", "-o", str(tmp_path / "a.json"), cwd=rooms_dir)
    assert as_json.returncode == 0, as_json.stderr
    from_yaml = yaml.safe_load((tmp_path / "a.yaml").read_text())
    from_json = json.loads((tmp_path / "a.json").read_text())
    assert from_yaml == from_json
    assert from_json["channels"]["rooms"]["address"] == "/rooms"
    stdout = _nestpy("asyncapi", "app:AppModule", cwd=rooms_dir)
    assert yaml.safe_load(stdout.stdout) == from_json
    # a gateway class is a target too (the scale-out example builds its module at run time)
    gateway = _nestpy("asyncapi", "app:ChatGateway", "--format", "json",
                      cwd=EXAMPLES / "scaleout")
    assert gateway.returncode == 0, gateway.stderr
    assert json.loads(gateway.stdout)["channels"]["chat"]["address"] == "/chat"


def test_cli_reports_a_bad_target(tmp_path: Path) -> None:
    result = _nestpy("asyncapi", "app:NoSuchThing", cwd=EXAMPLES / "rooms")
    assert result.returncode == 1
    assert "has no attribute 'NoSuchThing'" in result.stderr
