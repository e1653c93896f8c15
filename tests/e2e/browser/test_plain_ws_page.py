"""examples/plain-ws in headless Chromium: the page's native ``WebSocket``, no Socket.IO client."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest
import pytest_asyncio
from browser_helpers import ARTIFACTS, EXAMPLES, LOOP, NewPage, keep_screenshot

from nestpy import NestFactory

pytestmark = [pytest.mark.e2e, pytest.mark.browser, LOOP]


def load_plain_ws() -> ModuleType:
    name = "_example_plain_ws_app"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / "plain-ws" / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest_asyncio.fixture(loop_scope="module")
async def plain_url() -> AsyncIterator[str]:
    """The plain-ws example (page + gateways) listening on an ephemeral port."""
    example = load_plain_ws()
    app = await NestFactory.create(example.AppModule)
    app.http_app.router.add_get("/", example.page)
    await app.listen(0, "127.0.0.1")
    try:
        yield app.get_url()
    finally:
        await app.close()


async def open_page(new_page: NewPage, url: str) -> Any:
    from playwright.async_api import expect

    page = await new_page(url)
    await expect(page.locator("#state")).to_have_text("connected")
    return page


async def join(page: Any, name: str, room: str) -> None:
    from playwright.async_api import expect

    await page.fill("#join [name=name]", name)
    await page.fill("#join [name=room]", room)
    await page.click("#join button")
    await expect(page.locator("#log p").last).to_have_text(f"* you are in {room}")


async def say(page: Any, text: str) -> None:
    await page.fill("#say [name=text]", text)
    await page.click("#say button")


async def test_two_pages_talk_through_a_room(plain_url: str, new_page: NewPage) -> None:
    from playwright.async_api import expect

    ann = await open_page(new_page, plain_url)
    await join(ann, "ann", "lobby")
    bob = await open_page(new_page, plain_url)
    await join(bob, "bob", "lobby")
    await expect(ann.locator("#log p").last).to_have_text("* bob joined")

    await say(ann, "hello bob")
    await expect(bob.locator("#log p").last).to_have_text("ann: hello bob")
    await expect(ann.locator("#log p").last).to_have_text("ann: hello bob")
    await say(bob, "hi ann")
    await expect(ann.locator("#log p").last).to_have_text("bob: hi ann")

    # a page in another room hears nothing of lobby
    cy = await open_page(new_page, plain_url)
    await join(cy, "cy", "elsewhere")
    await say(ann, "lobby only")
    await expect(bob.locator("#log p").last).to_have_text("ann: lobby only")
    await expect(cy.locator("#log p")).to_have_text(["* you are in elsewhere"])

    # a page closing its socket tells the room
    await bob.evaluate("ws.close()")
    await expect(bob.locator("#state")).to_have_text("closed (1000)")
    await expect(ann.locator("#log p").last).to_have_text("* bob left")

    shot = ARTIFACTS / "plain-ws-screenshot.png"
    ARTIFACTS.mkdir(exist_ok=True)
    await ann.screenshot(path=str(shot))
    keep_screenshot(shot, "plain-ws")


async def test_error_frames_show_in_the_page(plain_url: str, new_page: NewPage) -> None:
    from playwright.async_api import expect

    page = await open_page(new_page, plain_url)
    # `say` before `join`: the gateway answers with an `exception` frame
    await say(page, "too early")
    await expect(page.locator("#log p")).to_have_text(['! "join a room first"'])

    # a request that fails validation: the reply (same id) is the pipeline's exception frame
    await page.evaluate("document.querySelector('#join [name=room]').value = 'x'.repeat(65)")
    await page.evaluate("document.querySelector('#join [name=room]').removeAttribute('required')")
    await page.click("#join button")
    await expect(page.locator("#log p")).to_have_text([
        '! "join a room first"',
        '! [{"field":"room","error":"String should have at most 64 characters"}]',
    ])
    await expect(page.locator("#state")).to_have_text("connected")
