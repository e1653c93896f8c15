"""The code of docs/guards.md, pipes.md, interceptors.md and filters.md (included from
docs/examples/*.py) against a real server."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from conftest import Harness, Refused

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).parents[3] / "docs" / "examples"


def load(name: str) -> ModuleType:
    """Import docs/examples/<name>.py as a module (once)."""
    key = f"nestpy_docs_examples_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- guards


async def test_guards_example_authenticates_the_handshake(harness: Harness) -> None:
    ex = load("guards")
    app = await harness.start(ex.AdminModule)
    with pytest.raises(Refused) as refused:
        await harness.connect(app, "/admin", auth={"token": "nope"})
    assert refused.value.data == {"message": "Forbidden resource"}
    with pytest.raises(Refused):
        await harness.connect(app, "/admin")
    bob = await harness.connect(app, "/admin", auth={"token": "bob-token"})
    assert await bob.call("whoami") == "bob"


async def test_guards_example_roles_from_metadata(harness: Harness) -> None:
    ex = load("guards")
    app = await harness.start(ex.AdminModule)
    alice = await harness.connect(app, "/admin", auth={"token": "alice-token"})
    bob = await harness.connect(app, "/admin", auth={"token": "bob-token"})
    assert await alice.call("ban", {"user": "mallory"}) == ["mallory"]
    assert await bob.call("ban", {"user": "alice"}) == {
        "status": "error",
        "message": "Forbidden resource",
        "cause": {"pattern": "ban", "data": {"user": "alice"}},
    }
    assert app.get(ex.AdminGateway).banned == ["mallory"]


# ---------------------------------------------------------------------------- pipes


async def test_pipes_example_validates_models_and_dataclasses(harness: Harness) -> None:
    ex = load("pipes")
    app = await harness.start(ex.ChatModule)
    c = await harness.connect(app, "/chat")
    good = {"room": "general", "text": "hi", "author": {"name": "ann"}}
    assert await c.call("message", good) == {"room": "general", "by": "ann"}
    bad = {"room": "", "text": "x" * 201, "author": {"name": ""}}
    expected = {
        "status": "error",
        "message": [
            {"field": "room", "error": "String should have at least 1 character"},
            {"field": "text", "error": "String should have at most 200 characters"},
            {"field": "author.name", "error": "String should have at least 1 character"},
        ],
        "cause": {"pattern": "message", "data": bad},
    }
    assert await c.call("message", bad) == expected
    assert await c.receive("exception") == expected
    assert await c.call("move", {"x": 1, "y": "2"}) == [2, 4]
    assert (await c.call("move", {"x": 1}))["message"] == [
        {"field": "y", "error": "Field required"}
    ]


async def test_pipes_example_parse_and_default_pipes(harness: Harness) -> None:
    ex = load("pipes")
    app = await harness.start(ex.ChatModule)
    c = await harness.connect(app, "/chat")
    assert await c.call("history", {"room": "  general "}) == {
        "room": "general", "page": 1, "newest": True,
    }
    assert await c.call("history", {"room": "a", "page": "3", "newest": "false"}) == {
        "room": "a", "page": 3, "newest": False,
    }
    reply = await c.call("history", {"room": "a", "page": "three"})
    assert reply == {
        "status": "error",
        "message": "Validation failed (numeric string is expected)",
        "cause": {"pattern": "history", "data": {"room": "a", "page": "three"}},
    }
    reply = await c.call("history", {"room": "a", "newest": "yes"})
    assert reply["message"] == "Validation failed (boolean string is expected)"
    an_id = str(uuid.uuid4())
    assert await c.call("message.get", {"id": an_id}) == an_id
    reply = await c.call("message.get", {"id": str(uuid.uuid1())})
    assert reply["message"] == "Validation failed (uuid v4 is expected)"


async def test_pipes_example_validation_pipe_forbids_unknown_fields(harness: Harness) -> None:
    ex = load("pipes")
    app = await harness.start(ex.ChatModule)
    c = await harness.connect(app, "/chat")
    body = {"room": "r", "text": "t", "author": {"name": "a"}, "admin": True}
    assert await c.call("message", body) == {"room": "r", "by": "a"}  # ignored by default
    assert (await c.call("message.strict", body))["message"] == [
        {"field": "admin", "error": "Extra inputs are not permitted"}
    ]


# ---------------------------------------------------------------------------- interceptors


async def test_interceptors_example(harness: Harness) -> None:
    ex = load("interceptors")
    app = await harness.start(ex.ItemsModule)
    c = await harness.connect(app, "/items")
    assert await c.call("stock", "apple") == {"data": 3}
    assert (await c.call("stock", "kiwi"))["message"] == "unknown item 'kiwi'"
    assert await c.call("slow", 0) == "done"
    assert (await c.call("slow", 1.0))["message"] == "Request timed out"
    assert await c.call("countdown", 3) is None  # acked once the stream ends
    ticks = [await c.receive("tick") for _ in range(3)]
    assert ticks == [{"n": 1, "data": 3}, {"n": 2, "data": 2}, {"n": 3, "data": 1}]
    timings = app.get(ex.Metrics).timings
    assert [event for event, _ in timings] == [
        "stock", "stock", "slow", "slow", "countdown"
    ]
    assert all(ms >= 0 for _, ms in timings)
    slow_ms = [ms for event, ms in timings if event == "slow"]
    assert slow_ms[1] >= 150  # the timed-out call took ~200 ms


# ---------------------------------------------------------------------------- filters


@pytest.mark.allow_errors  # provokes server errors on purpose
async def test_filters_example(harness: Harness) -> None:
    ex = load("filters")
    app = await harness.start(ex.WalletModule)
    c = await harness.connect(app, "/wallet")
    assert await c.call("pay", 4) == 6
    failed = {"status": "error", "message": "insufficient funds", "missing": 4}
    assert await c.call("pay", 10) == failed
    assert await c.receive("payment_failed") == failed
    # Not an InsufficientFunds: falls through to the class's CountingFilter.
    assert await c.call("pay", "ten") == {
        "status": "error",
        "message": [{"field": "body", "error": "Input should be a valid integer, unable to "
                     "parse string as an integer"}],
    }
    assert await c.call("crash") == {"status": "error", "message": "Internal server error"}
    assert await c.receive("exception") == {
        "status": "error",
        "message": [{"field": "body", "error": "Input should be a valid integer, unable to "
                     "parse string as an integer"}],
    }
    assert await c.receive("exception") == {"status": "error", "message": "Internal server error"}
    assert app.get(ex.ErrorCounter).count == 2
    await asyncio.sleep(0)
    assert c.pending("exception") == 0


# ---------------------------------------------------------------------------- pages

PAGES = ("guards", "pipes", "interceptors", "filters")
# Code is inlined by scripts/inline_docs.py (tests/unit/test_docs_inline.py keeps it current).
INCLUDE = re.compile(r"^<!-- inline: ([^ #]+)(?:#([\w-]+))? -->$", re.M)


@pytest.mark.parametrize("page", PAGES)
def test_every_snippet_the_page_includes_exists(page: str) -> None:
    text = (EXAMPLES.parent / f"{page}.md").read_text()
    includes = INCLUDE.findall(text)
    assert includes, f"docs/{page}.md includes no example"
    for path, section in includes:
        source = (EXAMPLES.parents[1] / path).read_text()
        if section:
            assert f"# --8<-- [start:{section}]" in source, (path, section)
            assert f"# --8<-- [end:{section}]" in source, (path, section)
