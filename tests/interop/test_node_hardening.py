"""Issue 10 with Node's official ``socket.io-client``: models encoded as acks and events,
the unknown-event ack, and broadcast acks (``server.timeout(s).emit_with_ack``) answered by
Node clients, one of them silent. ``hardening_client.mjs`` drives it and prints JSON."""

from __future__ import annotations

import asyncio
import datetime
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pydantic
import pytest
import pytest_asyncio
from test_node_client import ensure_node_client

from nestpy import Module, NestFactory
from nestpy.websockets import (
    AckTimeoutError,
    ConnectedSocket,
    MessageBody,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)

pytestmark = [pytest.mark.interop, pytest.mark.e2e]

HERE = Path(__file__).resolve().parent
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime.datetime(2026, 11, 26, 15, 30, tzinfo=datetime.timezone.utc)


class Room(pydantic.BaseModel):
    room_id: uuid.UUID = pydantic.Field(alias="roomId")
    opened: datetime.datetime
    tags: frozenset[str]


ROOM = Room(roomId=ID, opened=WHEN, tags=frozenset({"x"}))
ROOM_JSON = {"roomId": str(ID), "opened": "2026-11-26T15:30:00Z", "tags": ["x"]}


@WebSocketGateway(namespace="hardening")
class HardeningGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("model")
    def model(self) -> Room:
        return ROOM

    @SubscribeMessage("models")
    def models(self) -> list[Room]:
        return [ROOM, ROOM]

    @SubscribeMessage("push")
    async def push(self, client: Annotated[Socket, ConnectedSocket()]) -> None:
        await client.emit("pushed", ROOM, {"when": WHEN})

    @SubscribeMessage("join")
    async def join(
        self, client: Annotated[Socket, ConnectedSocket()], room: Annotated[str, MessageBody()]
    ) -> bool:
        await client.join(room)
        return True

    @SubscribeMessage("poll")
    async def poll(self, room: Annotated[str | None, MessageBody()]) -> Any:
        target = self.server.timeout(1) if room is None else self.server.to(room).timeout(1)
        try:
            replies = await target.emit_with_ack("vote", {"q": "lunch?"})
        except AckTimeoutError as exc:
            return {"timeout": True, "responses": exc.responses, "expected": exc.expected}
        return {"timeout": False, "responses": replies}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def results() -> AsyncIterator[dict[str, Any]]:
    node = ensure_node_client()

    @Module(providers=[HardeningGateway])
    class HardeningModule: ...

    app = await NestFactory.create(HardeningModule)
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    try:
        proc = await asyncio.create_subprocess_exec(
            node, str(HERE / "hardening_client.mjs"), app.url_for("/hardening") + "/hardening",
            cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        yield json.loads(out.decode().strip().splitlines()[-1])
    finally:
        await app.close()


def test_models_arrive_as_json_in_node(results: dict[str, Any]) -> None:
    assert results["model"] == ROOM_JSON
    assert results["models"] == [ROOM_JSON, ROOM_JSON]
    assert results["pushed"] == [ROOM_JSON, {"when": "2026-11-26T15:30:00+00:00"}]


def test_unknown_event_ack_is_answered_for_node(results: dict[str, Any]) -> None:
    assert results["unknown"] == {
        "status": "error", "message": "Unknown event 'nowhere'",
        "cause": {"pattern": "nowhere", "data": {"x": 1}},
    }


def _sorted(replies: list[Any]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in replies)


def test_broadcast_acks_from_node_clients(results: dict[str, Any]) -> None:
    every = results["allAnswer"]
    assert every["timeout"] is False
    # One reply per client in the room; several ack arguments arrive as a list (a tuple).
    assert _sorted(every["responses"]) == _sorted([{"from": "a", "q": "lunch?"}, ["b", 2]])
    partial = results["oneSilent"]
    assert partial["timeout"] is True and partial["expected"] == 3
    assert _sorted(partial["responses"]) == _sorted([{"from": "a", "q": "lunch?"}, ["b", 2]])
