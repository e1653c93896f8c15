"""A nestpy app in its own process: JSON logs with the ws context, and a graceful SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from core_client import Client

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


class Served:
    """``served_app.py`` running in a subprocess, and its bound port."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url
        self.stderr_lines: list[str] = []


async def _read_until_listening(proc: asyncio.subprocess.Process, lines: list[str]) -> int:
    assert proc.stderr is not None
    while True:
        raw = await proc.stderr.readline()
        if not raw:
            raise AssertionError("the app exited before listening:\n" + "".join(lines))
        line = raw.decode()
        lines.append(line)
        if '"listening"' in line:
            return int(json.loads(line)["port"])


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NESTPY_LOG")}
    env.update(PYTHONPATH=str(ROOT), NESTPY_LOG_FORMAT="json", PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "served_app.py"), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    lines: list[str] = []
    port = await asyncio.wait_for(_read_until_listening(proc, lines), 15)
    s = Served(proc, f"http://127.0.0.1:{port}")
    s.stderr_lines = lines
    yield s
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def finish(s: Served, sig: int = signal.SIGTERM) -> tuple[int, str, list[dict[str, Any]]]:
    """Send *sig*; return the exit code, stdout and every JSON log line."""
    s.proc.send_signal(sig)
    out, err = await asyncio.wait_for(s.proc.communicate(), 5)
    text = "".join(s.stderr_lines) + err.decode()
    logs = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
    assert s.proc.returncode is not None
    return s.proc.returncode, out.decode(), logs


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_run_shuts_down_gracefully_on_a_signal(served: Served, sig: int) -> None:
    client = await Client("/svc").connect(served.url, ["polling"])
    assert await client.call("hello", "you") == "hello you"
    sid = client.sid
    started = asyncio.get_running_loop().time()
    code, out, logs = await finish(served, sig)
    assert asyncio.get_running_loop().time() - started < 3
    assert code == 0
    name = signal.Signals(sig).name
    assert out.splitlines() == [
        "on_module_destroy",
        f"before_application_shutdown {name}",
        f"handle_disconnect {sid}",  # clients are disconnected in between, as in NestJS
        f"on_application_shutdown {name}",
        "exited run()",
    ]
    assert any(x["message"] == "shutting down" and x["signal"] == name for x in logs)
    await asyncio.wait_for(client.disconnects.get(), 2)
    await client.close()


async def test_log_lines_in_a_handler_carry_sid_namespace_event(served: Served) -> None:
    client = await Client("/svc").connect(served.url)
    assert await client.call("hello", "logs") == "hello logs"
    await client.emit("boom")
    assert (await client.receive("exception"))["message"] == "Internal server error"
    sid = client.sid
    await client.close()
    _code, _out, logs = await finish(served)
    (greeting,) = [x for x in logs if x["message"] == "greeting"]
    assert greeting == {
        **greeting,
        "context": "SvcGateway", "name": "logs", "level": "info",
        "sid": sid, "namespace": "/svc", "event": "hello",
    }
    (failure,) = [x for x in logs if x["message"] == "unhandled error in handler"]
    assert failure["level"] == "error"
    assert (failure["sid"], failure["namespace"], failure["event"]) == (sid, "/svc", "boom")
    assert "Traceback" in failure["exception"]
    assert "ValueError: exploded on purpose" in failure["exception"]


async def start_hooked(mode: str) -> asyncio.subprocess.Process:
    """``hooked_app.py`` in a subprocess, once it listens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NESTPY_LOG")}
    env.update(PYTHONPATH=str(ROOT), NESTPY_LOG_FORMAT="json", PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "hooked_app.py"), mode, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert line == b"listening\n"
    return proc


@pytest.mark.parametrize("mode", ["before", "after"])
async def test_enable_shutdown_hooks_closes_a_listening_app_on_sigterm(mode: str) -> None:
    proc = await start_hooked(mode)
    proc.send_signal(signal.SIGTERM)
    out, _err = await asyncio.wait_for(proc.communicate(), 5)
    assert proc.returncode == 0
    assert out.decode().splitlines() == [
        "before_application_shutdown SIGTERM", "on_application_shutdown SIGTERM", "exited",
    ]


async def test_a_second_signal_while_a_shutdown_hook_hangs_exits_at_once() -> None:
    proc = await start_hooked("block")
    assert proc.stdout is not None and proc.stderr is not None
    proc.send_signal(signal.SIGINT)
    line = await asyncio.wait_for(proc.stdout.readline(), 5)
    assert line == b"before_application_shutdown SIGINT\n"
    proc.send_signal(signal.SIGTERM)
    _out, err = await asyncio.wait_for(proc.communicate(), 5)
    assert proc.returncode == 128 + signal.SIGTERM
    logs = [json.loads(x) for x in err.decode().splitlines() if x.startswith("{")]
    forced = [x for x in logs if x["message"] == "second signal during shutdown: exiting now"]
    assert [(x["level"], x["signal"]) for x in forced] == [("warning", "SIGTERM")]
