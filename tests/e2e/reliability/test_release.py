"""Sessions and requests are released at once: when the client leaves, or when the server
refuses what it sent (issue 11). Both were strict xfails for transport defects of
python-engineio's server; nestpy's own Engine.IO server (the transport rewrite) fixed them."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import pytest
import socketio
from reliability_support import WAIT, ChatModule, eventually

from nestpy import NestFactory

pytestmark = pytest.mark.e2e


async def test_a_disconnected_session_leaves_no_task_behind() -> None:
    app = await NestFactory.create(ChatModule)
    await app.listen(0, "127.0.0.1")
    clients: list[socketio.AsyncClient] = []
    try:
        url = app.url_for("/chat")
        warm = socketio.AsyncClient(reconnection=False)  # starts engineio's service task
        clients.append(warm)
        await warm.connect(url, namespaces=["/chat"], transports=["websocket"],
                           wait_timeout=WAIT)
        await asyncio.sleep(0.1)
        baseline = len(asyncio.all_tasks())
        for _ in range(5):
            client = socketio.AsyncClient(reconnection=False)
            clients.append(client)
            await client.connect(url, namespaces=["/chat"], transports=["websocket"],
                                 wait_timeout=WAIT)
            assert await client.call("echo", 1, namespace="/chat", timeout=WAIT) == 1
            await client.disconnect()
        # Well under the 25 s ping interval: every task of the five sessions has ended.
        await eventually(lambda: len(asyncio.all_tasks()) <= baseline, timeout=3)
    finally:
        for c in clients:
            if c.connected:
                await c.disconnect()
        await app.close()


async def test_an_oversized_polling_post_is_answered_and_leaves_nothing_behind() -> None:
    app = await NestFactory.create(ChatModule)
    await app.listen(0, "127.0.0.1")
    try:
        base = app.url_for("/chat") + "/socket.io/?EIO=4&transport=polling"
        async with aiohttp.ClientSession() as http:
            async with http.get(base) as resp:  # a session, so the service task is running
                sid = json.loads((await resp.text())[1:])["sid"]
            await asyncio.sleep(0.1)
            before = len(asyncio.all_tasks())
            status: int | None = None
            huge = "4" + json.dumps(["echo", "x" * (2 * 1024 * 1024)])  # over the 1 MB limit
            with contextlib.suppress(asyncio.TimeoutError, aiohttp.ClientError):
                async with http.post(
                    f"{base}&sid={sid}", data=huge.encode(),
                    timeout=aiohttp.ClientTimeout(total=3),
                ) as resp:
                    status = resp.status
        assert status is not None and 400 <= status < 500
        await eventually(lambda: len(asyncio.all_tasks()) <= before, timeout=3)
    finally:
        await app.close()
