"""docs/examples/broadcasting.py behaves as docs/rooms.md says, over real sockets."""

from __future__ import annotations

import asyncio

import pytest
from test_docs_lifecycle import load

from nestpy import NestFactory

pytestmark = pytest.mark.e2e


async def test_rooms_and_every_kind_of_broadcast() -> None:
    ex = load("broadcasting")
    app = await NestFactory.create(ex.AppModule)
    async with app:
        async with (
            app.test_client("/game", auth={"name": "ann"}) as ann,
            app.test_client("/game", auth={"name": "ben"}) as ben,
            app.test_client("/game", auth={"name": "cy"}) as cy,
        ):
            assert await ann.call("join", {"room": "lobby"}) == ["lobby"]
            assert await ben.call("join", {"room": "lobby"}) == ["lobby"]
            assert await ann.receive("joined", timeout=5) == "ben"
            assert await cy.call("join", {"room": "hall"}) == ["hall"]

            await ann.emit("shout", {"text": "hey"})
            assert await ben.receive("shout", timeout=5) == "hey"
            assert await cy.receive("shout", timeout=5) == "hey"
            await ann.emit("announce", {"text": "all"})
            for client in (ann, ben, cy):
                assert await client.receive("announce", timeout=5) == "all"
            await cy.emit("say", {"room": "lobby", "text": "psst"})
            assert await ann.receive("said", timeout=5) == "psst"
            assert await ben.receive("said", timeout=5) == "psst"

            assert await ann.call("who", {"room": "lobby"}) == ["ann", "ben"]
            await ann.call("start", {"room": "lobby"})
            assert await ann.receive("started", timeout=5) == "lobby"
            assert await ben.receive("started", timeout=5) == "lobby"
            await cy.emit("spectators", {"text": "watching"})
            assert await cy.receive("spectators", timeout=5) == "watching"
            await ann.call("leave", {"room": "lobby"})
            assert await ben.call("who", {"room": "lobby"}) == ["ben"]

            # a round trip through each client proves what they did not receive
            for client in (ann, ben):
                await client.call("who", {"room": "x"})
            assert ann.received("shout") == [] and ann.received("spectators") == []
            assert ben.received("spectators") == [] and cy.received("joined") == []
            assert cy.received("said") == []  # say went to the room only; cy is not in it

            await ann.call("close", {"room": "hall"})
            for _ in range(200):
                if not cy.connected:
                    break
                await asyncio.sleep(0.01)
            assert not cy.connected and ann.connected and ben.connected
