"""docs/examples/messages.py behaves as docs/messages.md says, over real sockets."""

from __future__ import annotations

from typing import Any

import pytest
import socketio
from test_docs_lifecycle import load

from nestpy import NestFactory

pytestmark = pytest.mark.e2e


async def test_acks_arguments_responses_and_streams() -> None:
    ex = load("messages")
    app = await NestFactory.create(ex.AppModule)
    async with app:
        async with app.test_client("/shop") as client:
            assert await client.call("order", {"item": "tea", "quantity": 2}) == {
                "item": "tea", "quantity": 4,
            }
            assert await client.call("pair") == ("a", 1)
            assert await client.call("forget") is None
            assert await client.call("sum", 1, 2, 3) == 6
            assert await client.call("pick", {"item": "tea"}) == "TEA"
            bad = await client.call("order", {"item": "tea", "quantity": "many"})
            assert bad["message"] == [
                {"field": "quantity",
                 "error": "Input should be a valid integer, unable to parse string as an integer"}
            ]

            await client.emit("status")
            assert await client.receive("status", timeout=5) == {"state": "open"}

            await client.emit("export", {"rows": 3})
            assert [await client.receive("progress", timeout=5) for _ in range(3)] == [
                {"done": 1, "of": 3}, {"done": 2, "of": 3}, {"done": 3, "of": 3},
            ]
            assert await client.receive("exported", timeout=5) == {"rows": 3}

            assert await client.call("slow") == "accepted"


async def test_the_server_waits_for_the_clients_ack() -> None:
    ex = load("messages")
    app = await NestFactory.create(ex.AppModule)
    async with app:
        sio = socketio.AsyncClient()
        asked: list[Any] = []

        @sio.on("sure?", namespace="/shop")
        def sure(data: Any) -> str:
            asked.append(data)
            return "yes"

        await sio.connect(app.get_url(), namespaces=["/shop"])
        try:
            reply = await sio.call("confirm", None, namespace="/shop", timeout=5)
        finally:
            await sio.disconnect()
        assert asked == [{"question": "delete everything"}]
        assert reply == "client said yes"
