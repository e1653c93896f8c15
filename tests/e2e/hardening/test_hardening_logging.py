"""Logging: a user's own ``event=`` field, one JSON stream for nestpy and the libraries
under it, and bootstrap errors in one line under ``nestpy start`` (issue 10, defects 2, 9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]

APP = textwrap.dedent(
    """
    import asyncio
    from typing import Any

    import aiohttp
    import socketio

    from nestpy import Logger, Module, NestFactory
    from nestpy.websockets import SubscribeMessage, WebSocketGateway

    log = Logger("ChatGateway")


    @WebSocketGateway(namespace="chat")
    class ChatGateway:
        @SubscribeMessage("join")
        def join(self, client: Any, room: Any) -> str:
            log.info("joined", event="join", room=room)  # a field named event
            return room

        @SubscribeMessage("boom")
        def boom(self, client: Any, data: Any) -> None:
            raise RuntimeError("kaboom")


    @Module(providers=[ChatGateway])
    class AppModule: ...


    async def main() -> None:
        Logger("startup").info("user line", event="custom")
        app = await NestFactory.create(AppModule)
        await app.listen(0, "127.0.0.1")
        url = app.get_url()
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(url, namespaces=["/chat"], transports=["websocket"])
        assert await client.call("join", "r1", namespace="/chat", timeout=5) == "r1"
        reply = await client.call("nowhere", 1, namespace="/chat", timeout=5)
        assert reply["message"] == "Unknown event 'nowhere'", reply
        await client.call("boom", 1, namespace="/chat", timeout=5)
        await client.disconnect()
        # What python-engineio logs with a traceback ("message async handler error").
        import logging
        try:
            raise ValueError("inside the engine")
        except ValueError:
            logging.getLogger("engineio.server").exception("message async handler error")
        # A browser page from another origin: CORS is closed by default.
        async with aiohttp.ClientSession() as http:
            async with http.get(
                url + "/socket.io/?EIO=4&transport=polling",
                headers={"Origin": "https://evil.example"},
            ) as response:
                assert response.status == 400, response.status
        await app.close()


    asyncio.run(main())
    """
)


def test_every_line_is_json_and_says_what_it_should(tmp_path: Path) -> None:
    (tmp_path / "logapp.py").write_text(APP)
    env = {**os.environ, "NESTPY_LOG_FORMAT": "json", "NESTPY_LOG_LEVEL": "info"}
    done = subprocess.run(
        [sys.executable, "logapp.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    by_message = {r.get("message"): r for r in records}
    assert by_message["user line"]["event"] == "custom"
    joined = by_message["joined"]
    assert joined["event"] == "join" and joined["room"] == "r1" and joined["namespace"] == "/chat"
    crash = by_message["unhandled error in handler"]
    assert crash["handler"] == "ChatGateway.boom" and "kaboom" in crash["exception"]
    cors = [r for r in records if "evil.example" in str(r.get("message"))]
    assert len(cors) == 1 and cors[0]["level"] == "warning"
    assert "cors=" in cors[0]["message"]
    engine = by_message["message async handler error"]
    assert engine["context"] == "engineio.server" and "inside the engine" in engine["exception"]
    errors = [r["message"] for r in records if r.get("level") == "error"]
    # Unknown events log no error; the two errors are the handler's and the engine's.
    assert errors == ["unhandled error in handler", "message async handler error"]


BROKEN = textwrap.dedent(
    """
    from typing import Annotated

    from nestpy import Module
    from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway


    @WebSocketGateway(namespace="chat")
    class ChatGateway:
        @SubscribeMessage("send")
        def send(self, data: Annotated[str, MessageBody]) -> None: ...


    @Module(providers=[ChatGateway])
    class AppModule: ...
    """
)


def test_nestpy_start_prints_a_bootstrap_error_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "brokenapp.py").write_text(BROKEN)
    done = subprocess.run(
        [sys.executable, "-m", "nestpy.cli", "start", "brokenapp:AppModule", "--port", "0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "NESTPY_LOG_FORMAT": "json"},
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: HandlerContextError: [gateway=ChatGateway, handler=send] parameter 'data' uses "
        "the marker MessageBody without calling it; write Annotated[str, MessageBody()]"
    ], done.stderr
