"""docs/deploy/*: the files docs/deployment.md shows, run for real.

- nginx.conf: nginx (Debian's ``nginx-light``) proxies a polling client and a websocket
  client to two nestpy processes (here: two apps on ephemeral ports).
- nestpy@.service: its ExecStart serves a project made by ``nestpy new``, and its
  KillSignal stops it gracefully within TimeoutStopSec.
- Dockerfile: its CMD does the same (no container runtime needed for that part).
"""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import socketio

from nestpy import Module, NestApplication, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "docs" / "deploy"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ nginx

@WebSocketGateway(namespace="where")
class WhereGateway:
    def __init__(self) -> None:
        self.name = ""

    @SubscribeMessage("where")
    def where(self, client: Annotated[Socket, ConnectedSocket()]) -> dict[str, str]:
        return {"node": self.name, "forwarded": client.handshake.headers.get("x-forwarded-for",
                                                                             "")}


@Module(providers=[WhereGateway])
class NodeModule: ...


@pytest.fixture
async def nodes() -> AsyncIterator[list[NestApplication]]:
    apps: list[NestApplication] = []
    try:
        for name in ("a", "b"):
            app = await NestFactory.create(NodeModule)
            app.get(WhereGateway).name = name
            await app.listen(0, "127.0.0.1")
            apps.append(app)
        yield apps
    finally:
        for app in apps:
            await app.close()


@pytest.mark.nginx
async def test_nginx_config_proxies_polling_and_websockets(
    nodes: list[NestApplication], tmp_path: Path
) -> None:
    ports = [app.ports[None] for app in nodes]
    front = free_port()
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("127.0.0.1:3001", f"127.0.0.1:{ports[0]}")
    site = site.replace("127.0.0.1:3002", f"127.0.0.1:{ports[1]}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{front};")
    temp = {k: tmp_path / k for k in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"daemon off; worker_processes 1; pid {tmp_path / 'nginx.pid'}; error_log stderr;\n"
        "events { worker_connections 64; }\n"
        "http {\n access_log off;\n"
        f" client_body_temp_path {temp['body']}; proxy_temp_path {temp['proxy']};\n"
        f" fastcgi_temp_path {temp['fastcgi']}; uwsgi_temp_path {temp['uwsgi']};\n"
        f" scgi_temp_path {temp['scgi']};\n{site}\n}}\n"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check = await asyncio.create_subprocess_exec(
        nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(check.communicate(), timeout=30)
    assert check.returncode == 0, err.decode()
    proc = await asyncio.create_subprocess_exec(
        nginx, "-p", str(tmp_path), "-c", str(conf), "-e", "stderr",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(200):  # until nginx accepts connections
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", front)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.025)
        answers = []
        for transports in (["polling"], ["polling", "websocket"], ["websocket"]):
            client = socketio.AsyncClient()
            await client.connect(f"http://127.0.0.1:{front}", namespaces=["/where"],
                                 transports=transports, wait_timeout=10)
            try:
                if transports == ["polling", "websocket"]:
                    for _ in range(200):  # the upgrade goes through the proxy too
                        if client.transport() == "websocket":
                            break
                        await asyncio.sleep(0.025)
                    assert client.transport() == "websocket"
                answers.append(await client.call("where", None, namespace="/where",
                                                 timeout=10))
            finally:
                await client.disconnect()
        # ip_hash: one client address, one process, whatever the transport
        assert len({a["node"] for a in answers}) == 1 and answers[0]["node"] in ("a", "b")
        assert all(a["forwarded"] == "127.0.0.1" for a in answers)
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


# --------------------------------------------------------------- systemd and Docker

@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project made by ``nestpy new`` (what the unit and the image run)."""
    where = tmp_path_factory.mktemp("deploy")
    done = subprocess.run([sys.executable, "-m", "nestpy.cli", "new", "demo"], cwd=where,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return where / "demo"


async def serve_and_stop(argv: list[str], cwd: Path, port: int, stop: signal.Signals,
                         within: float, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        client = socketio.AsyncClient()
        got: asyncio.Queue[Any] = asyncio.Queue()
        client.on("ServerToClient", got.put_nowait, namespace="/events")
        for _ in range(400):  # until the process listens
            try:
                await client.connect(f"http://127.0.0.1:{port}", namespaces=["/events"],
                                     wait_timeout=5)
                break
            except socketio.exceptions.ConnectionError:
                if proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
        assert client.connected, "the command never served"
        await client.emit("ClientToServer", "hi", namespace="/events")
        assert await asyncio.wait_for(got.get(), timeout=10) == "Hello Client!"
        proc.send_signal(stop)
        assert await asyncio.wait_for(proc.wait(), timeout=within) == 0
        await client.disconnect()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    lines = [json.loads(x) for x in (await proc.stderr.read()).decode().splitlines()
             if x.startswith("{")]
    assert any(line.get("message") == "shutting down" for line in lines)


async def test_systemd_unit_serves_and_stops_gracefully(project: Path) -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "nestpy@.service")
    service = unit["Service"]
    port = free_port()
    argv = shlex.split(service["ExecStart"].replace("%i", str(port)))
    assert argv[0] == "/opt/app/.venv/bin/nestpy"
    argv[:1] = [sys.executable, "-m", "nestpy.cli"]  # this venv's nestpy, not /opt/app's
    assert service["KillSignal"] == "SIGTERM"
    env = dict(pair.split("=", 1) for pair in shlex.split(service["Environment"]))
    await serve_and_stop(argv, project, port, signal.SIGTERM,
                         within=float(service["TimeoutStopSec"]), env=env)


async def test_dockerfile_command_serves_and_stops_gracefully(project: Path) -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M)[1])  # type: ignore[index]
    stop = re.search(r"^STOPSIGNAL (\w+)$", text, re.M)[1]  # type: ignore[index]
    env = dict(re.findall(r"^ENV (\w+)=(\S+)$", text, re.M))
    assert cmd[:2] == ["nestpy", "start"] and "0.0.0.0" in cmd
    port = free_port()
    argv = [sys.executable, "-m", "nestpy.cli", *cmd[1:]]
    argv[argv.index("0.0.0.0")] = "127.0.0.1"  # the container's interface, here loopback
    argv[argv.index("3000")] = str(port)
    # docker stop waits 10 s before SIGKILL
    await serve_and_stop(argv, project, port, signal.Signals[stop], within=10, env=env)
