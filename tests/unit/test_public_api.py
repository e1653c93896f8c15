"""The public surface: ``__all__`` equals the documented API (DESIGN.md), sorted, and the
layers import downward only (STYLE.md "Dependency direction")."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: DESIGN.md "Core (nestpy)" plus the exception root and its bootstrap errors.
NESTPY = {
    "BootstrapError",
    "DynamicModule",
    "Global",
    "Inject",
    "Injectable",
    "Logger",
    "Module",
    "NestApplication",
    "NestFactory",
    "NestpyError",
    "Provider",
    "Scope",
    "UnknownDependencyError",
    "__version__",
    "request_context",
}

#: DESIGN.md "Gateways" and "Errors": decorators, markers, hooks, wrappers.
WEBSOCKETS_CORE = {
    "Ack",
    "AckTimeoutError",
    "BaseWsExceptionFilter",
    "BroadcastOperator",
    "ConnectedSocket",
    "Handshake",
    "MessageBody",
    "OnGatewayConnection",
    "OnGatewayDisconnect",
    "OnGatewayInit",
    "Server",
    "Socket",
    "SubscribeMessage",
    "WebSocketGateway",
    "WebSocketServer",
    "WsException",
    "WsResponse",
}
#: DESIGN.md "Plain WebSocket gateways": NestJS's WsAdapter and its client and server.
WEBSOCKETS_PLAIN = {"WsAdapter", "WsBroadcastOperator", "WsClient", "WsHandshake", "WsServer"}
#: DESIGN.md "Scale-out" ("both in `nestpy.websockets`") and docs/scale-out.md: adapters,
#: the emitter, the remote sockets fetch_sockets() returns, and the errors they raise.
WEBSOCKETS_SCALE_OUT = {
    "AdapterError",
    "AmqpIoAdapter",
    "BrokerUnavailableError",
    "ClusterTimeoutError",
    "Emitter",
    "EmitterOperator",
    "IoAdapter",
    "RedisIoAdapter",
    "RemoteSocket",
    "SocketIoRedisAdapter",
    "SocketIoRedisStreamsAdapter",
}


def public(module_name: str) -> list[str]:
    return list(importlib.import_module(module_name).__all__)


@pytest.mark.parametrize("module_name", ["nestpy", "nestpy.websockets", "nestpy.common"])
def test_all_is_sorted_and_importable(module_name: str) -> None:
    names = public(module_name)
    assert names == sorted(names)
    assert len(names) == len(set(names))
    module = importlib.import_module(module_name)
    for name in names:
        assert hasattr(module, name), f"{module_name}.{name} is in __all__ but missing"


def test_nestpy_all_is_the_documented_core() -> None:
    assert set(public("nestpy")) == NESTPY


def test_websockets_all_has_the_documented_gateway_api() -> None:
    assert (
        set(public("nestpy.websockets")) - WEBSOCKETS_SCALE_OUT - WEBSOCKETS_PLAIN
        == WEBSOCKETS_CORE
    )


def test_websockets_all_has_the_documented_scale_out_api() -> None:
    assert set(public("nestpy.websockets")) == (
        WEBSOCKETS_CORE | WEBSOCKETS_SCALE_OUT | WEBSOCKETS_PLAIN
    )


@pytest.mark.parametrize("module_name", ["nestpy", "nestpy.websockets", "nestpy.common"])
def test_every_public_name_has_a_docstring(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [
        name
        for name in public(module_name)
        if (inspect.isclass(obj := getattr(module, name)) or inspect.isfunction(obj))
        # a type alias (``Callable[[], ...]``) passes isclass() on Python 3.10; not a class
        and typing.get_origin(obj) is None
        and not (obj.__doc__ or "").strip()
    ]
    assert missing == []


def imported_after(statement: str) -> set[str]:
    """Top-level module names in ``sys.modules`` after *statement*, in a fresh process."""
    code = (
        f"import sys, json\n{statement}\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        timeout=60,
    ).stdout
    return set(json.loads(out))


PLATFORM = {"socketio", "engineio", "aiohttp"}


def test_common_does_not_import_the_platform() -> None:
    """`common` never imports `websockets` (nor socketio/aiohttp underneath it)."""
    loaded = imported_after("import nestpy.common")
    assert loaded & PLATFORM == set()
    assert "nestpy.websockets" not in loaded


def test_import_nestpy_reaches_the_platform_lazily() -> None:
    """`NestFactory` reaches the platform lazily, as Nest's SocketModule loads its adapter."""
    loaded = imported_after("import nestpy")
    assert loaded & PLATFORM == set()
    assert "nestpy.websockets" not in loaded


def test_di_and_the_leaves_import_downward_only() -> None:
    # (`import nestpy.<anything>` runs nestpy/__init__ first, so this checks the package
    # as a whole: nothing below `websockets` pulls the platform in.)
    loaded = imported_after("import nestpy._di, nestpy.logger, nestpy._metadata, nestpy.exceptions")
    assert loaded & PLATFORM == set()
    assert "nestpy.websockets" not in loaded


def test_the_cli_does_not_import_socketio() -> None:
    """`nestpy g …` never imports socketio (STYLE.md)."""
    loaded = imported_after("import nestpy.cli.main")
    assert loaded & PLATFORM == set()


def test_websockets_is_where_the_platform_comes_in() -> None:
    assert imported_after("import nestpy.websockets") >= PLATFORM
