"""docs/examples/lifecycle.py: the hook order docs/lifecycle.md states, over a real socket."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from nestpy import NestFactory

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[3] / "docs" / "examples"


def load(name: str) -> ModuleType:
    mod_name = f"_docs_example_{name}"
    if mod_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(mod_name, DOCS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
    return sys.modules[mod_name]


async def test_hooks_run_in_the_documented_order() -> None:
    ex = load("lifecycle")
    app = await NestFactory.create(ex.AppModule)
    journal = app.get(ex.Journal)
    assert journal.entries == ["EventsGateway.__init__"]  # create() builds, runs no hook
    await app.listen(0, "127.0.0.1")
    assert journal.entries[1:] == [
        "EventsGateway.after_init",
        "Journal.on_module_init",
        "EventsGateway.on_module_init",
        "AppModule.on_module_init",
        "EventsGateway.on_application_bootstrap",
    ]
    async with app.test_client("/events") as client:
        assert await client.receive("welcome", timeout=5) == {"id": client.id}
        assert journal.entries[-1] == "EventsGateway.handle_connection"
    for _ in range(200):  # the server sees the disconnect a moment later
        if journal.entries[-1].startswith("EventsGateway.handle_disconnect"):
            break
        await asyncio.sleep(0.01)
    # the test client closes its connection: Socket.IO's reason for that
    assert journal.entries[-1] in (
        "EventsGateway.handle_disconnect(transport close)",
        "EventsGateway.handle_disconnect(client namespace disconnect)",
    )
    gateway = app.get(ex.EventsGateway)
    await app.close("SIGTERM")
    assert journal.entries[-3:] == [
        "EventsGateway.on_module_destroy",
        "EventsGateway.before_application_shutdown(SIGTERM)",
        "Journal.on_application_shutdown(SIGTERM)",
    ]
    await asyncio.sleep(0)
    assert gateway.ticker.cancelled()
