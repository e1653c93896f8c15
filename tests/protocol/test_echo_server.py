"""The Engine.IO echo server the maintainers' suite runs against starts as documented."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

import aiohttp

ECHO = Path(__file__).with_name("engineio_echo_server.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_echo_server_runs_as_a_script() -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ECHO), "--port", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/engine.io/"
        async with aiohttp.ClientSession() as http:
            for _ in range(200):  # bounded: ~10 s for the interpreter to start
                try:
                    async with http.get(url, params={"EIO": "4", "transport": "polling"}) as r:
                        body = await r.text()
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("echo server did not start")
            handshake = json.loads(body[1:])
            assert (handshake["pingInterval"], handshake["pingTimeout"]) == (300, 200)
            assert handshake["maxPayload"] == 1_000_000
            ws = await http.ws_connect(url, params={"EIO": "4", "transport": "websocket"})
            await ws.receive_str(timeout=5)
            await ws.send_str("4echo me")
            assert await ws.receive_str(timeout=5) == "4echo me"
            await ws.close()
    finally:
        proc.terminate()
        await proc.wait()
