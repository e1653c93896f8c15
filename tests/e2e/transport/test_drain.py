"""Graceful shutdown over real processes: SIGTERM with acknowledged requests in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from throwaway_redis import free_port

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]



class Proc:
    """``drain_app.py`` in a subprocess: its URL and the lines it printed."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url
        self.lines: list[str] = []
        self.changed = asyncio.Event()

    async def read_stdout(self) -> None:
        assert self.proc.stdout is not None
        while raw := await self.proc.stdout.readline():
            self.lines.append(raw.decode().strip())
            self.changed.set()

    async def wait_line(self, line: str, timeout: float = 15) -> None:
        async def wait() -> None:
            while line not in self.lines:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)


@pytest.fixture
async def start_app() -> AsyncIterator[Any]:
    procs: list[Proc] = []
    readers: list[asyncio.Task[None]] = []

    async def _start(handler_seconds: float, drain_timeout: float) -> Proc:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "drain_app.py"), str(port), str(handler_seconds),
            str(drain_timeout), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        p = Proc(proc, f"http://127.0.0.1:{port}")
        procs.append(p)
        readers.append(asyncio.ensure_future(p.read_stdout()))
        for _ in range(300):  # bounded: ~15 s for the interpreter to start
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        return p

    yield _start
    for p in procs:
        if p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()
    for r in readers:
        await asyncio.wait_for(r, 5)


async def _clients(url: str, n: int, transports: list[str]) -> tuple[list[Any], list[Any]]:
    """*n* connected clients and, per client, the reasons its disconnect handler got."""
    clients, reasons = [], []
    for _ in range(n):
        c = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        got: list[Any] = []
        c.on("disconnect", lambda reason=None, got=got: got.append(reason), namespace="/drain")
        await c.connect(url, namespaces=["/drain"], transports=transports, wait_timeout=10)
        clients.append(c)
        reasons.append(got)
    return clients, reasons


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_sigterm_answers_every_in_flight_ack(start_app: Any, transports: list[str]) -> None:
    app = await start_app(handler_seconds=0.5, drain_timeout=10)
    clients, reasons = await _clients(app.url, 20, transports)
    calls = [
        asyncio.ensure_future(c.call("slow", [i, j], namespace="/drain", timeout=20))
        for i, c in enumerate(clients) for j in range(10)
    ]
    await app.wait_line("inflight 200")  # all 200 handlers are running
    loop = asyncio.get_running_loop()
    app.proc.send_signal(signal.SIGTERM)
    results = await asyncio.gather(*calls)
    assert results == [{"done": [i, j]} for i in range(20) for j in range(10)]
    signalled = loop.time()
    # then every client hears a server disconnect, promptly
    for got in reasons:
        while not got and loop.time() - signalled < 5:  # noqa: ASYNC110 - client-side list
            await asyncio.sleep(0.01)
        assert got == ["server disconnect"]
    assert loop.time() - signalled < 3
    assert await asyncio.wait_for(app.proc.wait(), 10) == 0
    assert app.lines[-2:] == ["on_module_destroy", "on_application_shutdown SIGTERM"]


async def test_acks_past_the_drain_timeout_are_answered_with_an_error(start_app: Any) -> None:
    app = await start_app(handler_seconds=30, drain_timeout=0.3)
    clients, _reasons = await _clients(app.url, 5, ["websocket"])
    calls = [
        asyncio.ensure_future(c.call("slow", i, namespace="/drain", timeout=20))
        for i, c in enumerate(clients) for _ in range(10)
    ]
    await app.wait_line("inflight 50")
    app.proc.send_signal(signal.SIGTERM)
    results = await asyncio.gather(*calls)
    assert results == [{"status": "error", "message": "Server shutting down"}] * 50
    assert await asyncio.wait_for(app.proc.wait(), 10) == 0


async def test_a_second_signal_forces_the_exit(start_app: Any) -> None:
    app = await start_app(handler_seconds=30, drain_timeout=30)
    clients, _reasons = await _clients(app.url, 1, ["websocket"])
    calls = [
        asyncio.ensure_future(clients[0].call("slow", i, namespace="/drain", timeout=20))
        for i in range(50)
    ]
    await app.wait_line("inflight 50")
    app.proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)  # draining: waits up to 30 s for the handlers
    assert app.proc.returncode is None
    app.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(app.proc.wait(), 5) == 128 + signal.SIGTERM
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    await clients[0].disconnect()
