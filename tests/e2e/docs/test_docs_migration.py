"""docs/examples/migration.py: the nestpy side of docs/migration.md works as the page says."""

from __future__ import annotations

import pytest
from test_docs_lifecycle import load

from nestpy import NestFactory
from nestpy.testing import ConnectionRefused

pytestmark = pytest.mark.e2e


async def test_the_migrated_gateway() -> None:
    ex = load("migration")
    app = await NestFactory.create(ex.ChatModule)
    async with app:
        with pytest.raises(ConnectionRefused, match="Forbidden resource"):
            async with app.test_client("/chat", auth={"token": "wrong"}):
                pass
        auth = {"token": "secret", "user": "ada"}
        async with app.test_client("/chat", auth=auth) as client:
            refused = await client.call("message", {"room": "r", "text": "hi"})
            assert refused["message"] == "join the room first"
            assert await client.call("join", {"room": "r"}) == "r"
            await client.emit("message", {"room": "r", "text": "hi"})
            assert await client.receive("message", timeout=5) == {"from": "ada", "text": "hi"}
            assert await client.receive("saved", timeout=5) == {"id": 1}
            bad = await client.call("message", {"room": "r", "text": ""})
            assert bad["message"] == [
                {"field": "text", "error": "String should have at least 1 character"}
            ]
    assert app.get(ex.MessagesService).count == 1

