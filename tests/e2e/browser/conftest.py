"""Headless Chromium for the example pages: Debian's ``chromium`` driven by Playwright.

Playwright's own browser download is never used (``playwright install`` needs the internet):
the tests launch ``/usr/bin/chromium`` (``NESTPY_CHROMIUM`` overrides the path). Without it
they skip with the reason, unless ``NESTPY_REQUIRE_SERVICES=1`` (CI), where they fail.
Each test saves a screenshot of every page it opened under ``tests/e2e/browser/artifacts/``
(git-ignored); ``NESTPY_UPDATE_SCREENSHOTS=1`` also refreshes the examples' committed
``screenshot.png`` from the tests that take them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from browser_helpers import ARTIFACTS, EXAMPLES, NewPage

CLIENT_BUNDLE = EXAMPLES / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
CHROMIUM = os.environ.get("NESTPY_CHROMIUM", "/usr/bin/chromium")
#: The flags the issue asks for: no sandbox (root in CI), nothing that reaches the internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Generous for a loaded 2-core machine; waits return as soon as the page is right.
TIMEOUT_MS = 10_000

def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package (pip install -e '.[test]')"
    return None


def _require_browser() -> None:
    missing = _missing()
    if missing is None:
        return
    if os.environ.get("NESTPY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{missing} is required (NESTPY_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"needs {missing}; see README (NESTPY_REQUIRE_SERVICES=1 in CI)")


def _ensure_client_bundle() -> None:
    if CLIENT_BUNDLE.is_file():
        return
    done = subprocess.run(
        ["bash", str(EXAMPLES / "setup.sh")], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0 or not CLIENT_BUNDLE.is_file():
        pytest.fail(f"examples/setup.sh failed:\n{done.stdout}\n{done.stderr}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium for the module's tests (each test gets its own contexts)."""
    _require_browser()
    _ensure_client_bundle()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


@pytest_asyncio.fixture(loop_scope="module")
async def new_page(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[NewPage]:
    """``await new_page(url)`` → a page (own context, so own cookies) showing *url*.

    After the test each page is screenshotted into ``artifacts/<test>-<n>.png``, whatever
    the outcome, so a failure can be looked at.
    """
    pages: list[Any] = []
    errors: list[str] = []

    async def _new_page(url: str) -> Any:
        context = await browser.new_context(viewport={"width": 900, "height": 640})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(url)
        pages.append(page)
        return page

    yield _new_page
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w-]+", "_", request.node.name)
    for n, page in enumerate(pages, 1):
        await page.screenshot(path=str(ARTIFACTS / f"{name}-{n}.png"))
    for page in pages:
        await page.context.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"
