"""The browser examples start with the one command their README gives, serve their page and
the browser client, and stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from nestpy import NestFactory

pytestmark = [pytest.mark.e2e, pytest.mark.interop]  # interop: examples/setup.sh needs npm

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "examples" / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"


def _setup() -> None:
    if not BUNDLE.is_file():
        done = subprocess.run(["bash", "examples/setup.sh"], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    assert BUNDLE.is_file()


@pytest.mark.parametrize(
    ("example", "banner"), [("chat", "chat on "), ("dashboard", "dashboard on ")]
)
async def test_readme_command_serves_the_page(example: str, banner: str) -> None:
    readme = (ROOT / "examples" / example / "README.md").read_text()
    command = f"bash examples/setup.sh && python examples/{example}/app.py"
    assert f"```bash\n{command}\n```" in readme
    _setup()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, f"examples/{example}/app.py", "--port", "0", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
        assert line.startswith(banner), line
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match is not None, line
        url = match.group(0)
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/") as page:
                assert page.status == 200
                html = await page.text()
            assert '<script src="/vendor/socket.io.min.js"></script>' in html
            async with http.get(url + "/vendor/socket.io.min.js") as bundle:
                assert bundle.status == 200
                assert await bundle.read() == BUNDLE.read_bytes()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.redis
async def test_dashboard_worker_command_publishes_on_its_channel() -> None:
    """``worker.py --redis URL`` publishes each job on the channel the app listens to."""
    import redis.asyncio as aioredis

    channel = f"nestpy-dashboard-cmd-{uuid.uuid4().hex}"
    url = "redis://127.0.0.1:6379/0"
    conn = aioredis.Redis.from_url(url)
    pubsub = conn.pubsub()
    try:
        await pubsub.subscribe(channel)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "examples/dashboard/worker.py", "--redis", url, "--channel", channel,
            "--count", "2", "--every", "0", cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
        assert out.decode().splitlines() == ["published job 1", "published job 2"]
        payloads = []
        deadline = asyncio.get_running_loop().time() + 10
        while len(payloads) < 2 and asyncio.get_running_loop().time() < deadline:
            # None also stands for the consumed subscribe confirmation: keep reading
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None:
                payloads.append(message["data"])
        assert len(payloads) == 2, payloads
        assert all(b'"job"' in p and b"/dashboard" in p for p in payloads), payloads
    finally:
        await pubsub.aclose()
        await conn.aclose()


async def test_channels_clients_get_the_answer() -> None:
    """examples/channels/client.py and client.mjs (docs/getting-started.md) against the seed."""
    _setup()
    spec = importlib.util.spec_from_file_location(
        "_example_channels_client", ROOT / "examples" / "channels" / "client.py"
    )
    assert spec is not None and spec.loader is not None
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    seed = importlib.util.spec_from_file_location(
        "_example_channels_seed", ROOT / "examples" / "channels" / "app.py"
    )
    assert seed is not None and seed.loader is not None
    app_module = importlib.util.module_from_spec(seed)
    seed.loader.exec_module(app_module)

    app = await NestFactory.create(app_module.AppModule)
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    try:
        url = app.url_for("/channels")
        assert await client.main(url) == "Hello Client!"
        node = await asyncio.create_subprocess_exec(
            "node", "examples/channels/client.mjs", url, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(node.communicate(), timeout=30)
        assert node.returncode == 0, err.decode()
        assert out.decode().splitlines() == ["Hello Client!"]
    finally:
        await app.close()
