"""examples/chat in headless Chromium: its own page, the official browser client, real sockets."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest
import pytest_asyncio
from browser_helpers import ARTIFACTS, EXAMPLES, LOOP, NewPage, keep_screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser, LOOP]


def load_chat() -> ModuleType:
    name = "_example_chat_app"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / "chat" / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


TOKEN = f"token-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(loop_scope="module")
async def chat_url() -> AsyncIterator[str]:
    """The chat example listening on an ephemeral port, with a token unique to the test."""
    app = await load_chat().create_app(token=TOKEN)
    await app.listen(0, "127.0.0.1")
    try:
        yield app.get_url()
    finally:
        await app.close()


async def sign_in(new_page: NewPage, url: str, nick: str, room: str = "lobby",
                  token: str = TOKEN) -> Any:
    page = await new_page(url)
    await page.fill("#nick", nick)
    await page.fill("#token", token)
    await page.fill("#room", room)
    await page.click("#connect")
    return page


async def test_two_pages_chat_through_a_room(chat_url: str, new_page: NewPage) -> None:
    from playwright.async_api import expect

    alice = await sign_in(new_page, chat_url, "alice")
    await expect(alice.locator("#chat")).to_be_visible()
    await expect(alice.locator("#room-name")).to_have_text("lobby")
    await expect(alice.locator("#status")).to_have_text("online")
    await expect(alice.locator("#login")).to_be_hidden()

    bob = await sign_in(new_page, chat_url, "bob")
    await expect(bob.locator("#chat")).to_be_visible()
    # join notices reach the room
    await expect(alice.locator("#messages .notice").last).to_have_text("bob joined")

    # typing indicator: bob sees alice typing, then it clears when her message arrives
    await alice.locator("#text").press_sequentially("hello bob")
    await expect(bob.locator("#typing")).to_have_text("alice is typing…")
    await alice.click("#send")
    await expect(bob.locator("#messages .message").last).to_have_text("alicehello bob")
    await expect(alice.locator("#messages .message").last).to_have_text("alicehello bob")
    await expect(bob.locator("#typing")).to_have_text("")

    await bob.fill("#text", "hi alice")
    await bob.click("#send")
    await expect(alice.locator("#messages .message").last).to_have_text("bobhi alice")

    # a page joining later gets the room's history from the injected HistoryService
    carol = await sign_in(new_page, chat_url, "carol")
    await expect(carol.locator("#messages .message.history")).to_have_text(
        ["alicehello bob", "bobhi alice"]
    )
    await expect(bob.locator("#messages .notice").last).to_have_text("carol joined")

    # a page in another room hears nothing of lobby
    dave = await sign_in(new_page, chat_url, "dave", room="elsewhere")
    await expect(dave.locator("#room-name")).to_have_text("elsewhere")
    await bob.click("#leave")
    await expect(alice.locator("#messages .notice").last).to_have_text("bob left")
    await expect(dave.locator("#messages li")).to_have_text(["dave joined"])

    shot = ARTIFACTS / "chat-screenshot.png"
    ARTIFACTS.mkdir(exist_ok=True)
    await alice.screenshot(path=str(shot))
    keep_screenshot(shot, "chat")


async def test_validation_errors_and_the_rate_limit_show_in_the_page(
    chat_url: str, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    page = await sign_in(new_page, chat_url, "erin")
    await expect(page.locator("#chat")).to_be_visible()

    # an empty message: no client-side check, the server's pydantic validation answers
    await page.click("#send")
    await expect(page.locator("#errors li")).to_have_text(
        ["text: String should have at least 1 character"]
    )
    # @Throttle(limit=5, ttl=10) counts every `say` (the refused one too): 4 more pass...
    for n in range(1, 5):
        await page.fill("#text", f"message {n}")
        await page.click("#send")
        await expect(page.locator("#messages .message").last).to_have_text(f"erinmessage {n}")
    await expect(page.locator("#errors li")).to_have_count(0)
    # ...and the sixth within ten seconds is refused, in the page too
    await page.fill("#text", "one too many")
    await page.click("#send")
    await expect(page.locator("#errors li")).to_have_text(["Too many requests"])
    await expect(page.locator("#messages .message")).to_have_count(4)


async def test_a_wrong_token_is_refused_on_the_handshake(chat_url: str, new_page: NewPage) -> None:
    from playwright.async_api import expect

    page = await sign_in(new_page, chat_url, "mallory", token="guessed")
    await expect(page.locator("#errors li")).to_have_text(["invalid token"])
    await expect(page.locator("#status")).to_have_text("refused")
    await expect(page.locator("#chat")).to_be_hidden()

    nameless = await sign_in(new_page, chat_url, "   ")
    await expect(nameless.locator("#errors li")).to_have_text(
        ["choose a nickname of 1 to 20 characters"]
    )
