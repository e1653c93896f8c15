"""``nestpy start`` serves a ``nestpy new`` project; a real ``socketio.AsyncClient`` talks to it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import socketio

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_listening(port: int, proc: asyncio.subprocess.Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise AssertionError(f"nestpy start exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


@contextlib.asynccontextmanager
async def _serving(
    argv: list[str], cwd: Path, env: dict[str, str], *args: str, timeout: float = 15
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    port = _free_port()
    log = cwd / f"start-{port}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            "start",
            *args,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so cleanup reaches a reload child
        )
    try:
        await _wait_listening(port, proc, timeout)
        yield proc, port
    except BaseException:
        print(f"--- nestpy start output ({log}) ---\n{log.read_text(errors='replace')}")
        raise
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


async def _round_trip(port: int) -> str:
    """Connect to ``/events``, emit ``ClientToServer``, return the ``ServerToClient`` payload."""
    client = socketio.AsyncClient(reconnection=False)
    reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_reply(data: str) -> None:
        if not reply.done():
            reply.set_result(data)

    client.on("ServerToClient", on_reply, namespace="/events")
    await client.connect(f"http://127.0.0.1:{port}", namespaces=["/events"], wait_timeout=5)
    try:
        await client.emit("ClientToServer", "hi", namespace="/events")
        return await asyncio.wait_for(reply, 5)
    finally:
        await client.disconnect()


async def test_start_serves_the_configured_app(
    project: Path, cli_environ: dict[str, str], nestpy_argv: list[str]
) -> None:
    """No target: ``[tool.nestpy] app`` from pyproject.toml; SIGTERM stops it cleanly."""
    async with _serving(nestpy_argv, project, cli_environ) as (proc, port):
        assert await _round_trip(port) == "Hello Client!"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_start_with_an_explicit_target(
    project: Path, cli_environ: dict[str, str], nestpy_argv: list[str]
) -> None:
    async with _serving(nestpy_argv, project, cli_environ, "demo.app_module:AppModule") as (
        _,
        port,
    ):
        assert await _round_trip(port) == "Hello Client!"


async def test_start_discovers_the_app_module(
    project: Path, cli_environ: dict[str, str], nestpy_argv: list[str]
) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('app = "demo.app_module:AppModule"', ""))
    async with _serving(nestpy_argv, project, cli_environ) as (_, port):
        assert await _round_trip(port) == "Hello Client!"


async def test_reload_restarts_on_a_code_change(
    project: Path, cli_environ: dict[str, str], nestpy_argv: list[str]
) -> None:
    gateway = project / "demo" / "events" / "events_gateway.py"
    async with _serving(nestpy_argv, project, cli_environ, "--reload") as (proc, port):
        assert await _round_trip(port) == "Hello Client!"
        gateway.write_text(gateway.read_text().replace("Hello Client!", "Hello again!"))
        deadline = time.monotonic() + 20
        reply = None
        while time.monotonic() < deadline and reply != "Hello again!":
            await asyncio.sleep(0.3)
            with contextlib.suppress(Exception):  # down while it restarts
                reply = await _round_trip(port)
        assert reply == "Hello again!"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    # The reloaded child is gone too: nothing listens on the port any more.
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
