"""The code of docs/gateways.md, di.md and middleware-and-http.md (included from
docs/examples/returns.py and middleware_http.py) against a real server and real clients."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from hardening_support import Serve

from nestpy.testing import ConnectionRefused

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[3]
EXAMPLES = ROOT / "docs" / "examples"


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


@pytest.mark.parametrize(
    ("page", "sections"),
    [
        ("gateways.md", ["returns.py:models"]),
        ("di.md", ["returns.py:scopes"]),
        ("middleware-and-http.md", ["middleware_http.py:use", "middleware_http.py:acks",
                                    "middleware_http.py:http"]),
    ],
)
def test_the_pages_include_these_snippets(page: str, sections: list[str]) -> None:
    text = (ROOT / "docs" / page).read_text()
    for section in sections:
        name, tag = section.split(":")
        # scripts/inline_docs.py keeps the code inline (read on GitHub too); its --check
        # (CI and tests/unit/test_docs_inline.py) proves the inlined text is current.
        assert f"<!-- inline: docs/examples/{name}#{tag} -->" in text
        source = (EXAMPLES / name).read_text()
        assert f"[start:{tag}]" in source and f"[end:{tag}]" in source


#: The user-facing pages of gateways, DI, the pipeline and testing (fanout.md documents
#: internals on purpose).
USER_PAGES = ("gateways", "di", "testing", "guards", "pipes", "interceptors", "filters",
              "middleware-and-http")


def test_docs_import_only_public_modules() -> None:
    for page in [ROOT / "docs" / f"{name}.md" for name in USER_PAGES]:
        private = re.findall(
            r"^\s*(?:from|import) nestpy(?:\.\w+)*\._\w+", page.read_text(), re.M
        )
        assert private == [], f"{page.name} imports private modules: {private}"


async def test_returning_models(serve_app: Serve) -> None:
    ex = load("returns")
    app = await serve_app(ex.AppModule)
    async with app.test_client("/chat") as client:
        sent = await client.call("send", "hello")
        assert sent["text"] == "hello" and re.fullmatch(r"[0-9a-f-]{36}", sent["id"])
        assert sent["sent_at"].startswith("20") and sent["sent_at"].endswith("Z")
        assert await client.call("history") == [sent]
        await client.emit("latest")
        assert await client.receive("latest") == sent


async def test_scopes_per_socket_and_per_message(serve_app: Serve) -> None:
    ex = load("returns")
    app = await serve_app(ex.AppModule)
    async with app.test_client("/session") as a, app.test_client("/session") as b:
        assert await a.call("note", "x") == {"seen": ["x"], "draft": ["X"]}
        assert await a.call("note", "y") == {"seen": ["x", "y"], "draft": ["Y"]}
        assert await b.call("note", "z") == {"seen": ["z"], "draft": ["Z"]}


async def test_middleware_and_broadcast_acks(serve_app: Serve) -> None:
    ex = load("middleware_http")
    app = await serve_app(ex.AppModule)
    with pytest.raises(ConnectionRefused, match="invalid token"):
        await app.test_client("/chat", auth={"token": "wrong"}).connect()
    async with (
        app.test_client("/chat", auth={"token": "s3cret"}) as a,
        app.test_client("/chat", auth={"token": "s3cret"}) as b,
    ):
        assert await a.call("whoami") == "ada"
        a.on("vote", lambda question: "yes")
        b.on("vote", lambda question: "no")
        await a.call("join", "team")
        await b.call("join", "team")
        reply: dict[str, Any] = await a.call("poll", "team", timeout=10)
        assert reply["complete"] is True and sorted(reply["votes"]) == ["no", "yes"]


async def test_health_route_beside_the_gateways(serve_app: Serve) -> None:
    ex = load("middleware_http")
    app = await serve_app(ex.AppModule)
    async with aiohttp.ClientSession() as http, http.get(app.get_url() + "/health") as r:
        assert r.status == 200 and await r.json() == {"status": "ok"}
