"""A project made by ``nestpy new`` installs in a clean virtualenv by following its own
README, word for word: a wheel of nestpy built from this checkout (``nestpy-io`` is not on
PyPI yet), the project with its test extra, its ``pytest``, then ``nestpy start``.

Unlike ``test_project_e2e.py`` (offline, sharing this interpreter's packages), the venv
here sees nothing of ours: pip installs nestpy's dependencies from the configured package
index, as it would for a user.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import socketio

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """No trace of this virtualenv or of pytest: a user's shell."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL", "NESTPY_"))}
    venv_bin = str(Path(sys.prefix, "bin"))
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p != venv_bin)
    env["NO_COLOR"] = "1"
    return env


def bash_blocks(section: str, readme: str) -> list[str]:
    """The ```bash blocks of the README section titled *section*."""
    body = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", body, re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_generated_readme_installs_and_runs_in_a_clean_venv(tmp_path: Path) -> None:
    new = subprocess.run([sys.executable, "-m", "nestpy.cli", "new", "demo"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert new.returncode == 0, new.stderr
    project = tmp_path / "demo"
    readme = (project / "README.md").read_text()
    assert "not on PyPI yet" in readme

    # "Build its wheel from a clone of nestpy once (`pip wheel --no-deps -w dist/ .` ...)"
    build = re.search(r"`(pip wheel [^`]+)` in the clone writes\s+`dist/([^`]+)`", readme)
    assert build is not None, readme
    dist = tmp_path / "nestpy" / "dist"
    wheel = subprocess.run(
        [sys.executable, "-m", *build[1].replace("dist/", f"{dist}/").split()[:-1],
         # offline here: the build backend is already installed (test extra)
         "--no-build-isolation", "--no-index", "-q", str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr
    assert [p.name for p in dist.iterdir()] == [build[2]]

    (install,) = bash_blocks("Install", readme)
    script = install.replace("/path/to/nestpy/dist/", f"{dist}/")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=project,
                          env=clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    venv_python = project / ".venv" / "bin" / "python"
    where = subprocess.run([str(venv_python), "-c", "import nestpy; print(nestpy.__file__)"],
                           cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                           timeout=60)
    # nestpy comes from the wheel, inside the project's venv, not from this checkout
    assert where.stdout.startswith(str(project / ".venv")), where.stdout + where.stderr

    (run,) = bash_blocks("Run it", readme)
    pytest_line, start_line = [line.split("#")[0].strip() for line in run.strip().splitlines()]
    activate = ". .venv/bin/activate && "
    tests = subprocess.run(["bash", "-c", activate + pytest_line + " -q -p no:cacheprovider"],
                           cwd=project, env=clean_env(), capture_output=True, text=True,
                           timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert re.search(r"\b2 passed\b", tests.stdout), tests.stdout

    port = free_port()
    start_line = start_line.replace("--port 3000", f"--host 127.0.0.1 --port {port}")
    asyncio.run(_serves_then_stops(["bash", "-c", activate + "exec " + start_line],
                                   project, port))


async def _serves_then_stops(argv: list[str], cwd: Path, port: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=clean_env(),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    client = socketio.AsyncClient()
    got: asyncio.Queue[object] = asyncio.Queue()
    client.on("ServerToClient", got.put_nowait, namespace="/events")
    try:
        for _ in range(400):
            try:
                await client.connect(f"http://127.0.0.1:{port}", namespaces=["/events"],
                                     wait_timeout=5)
                break
            except socketio.exceptions.ConnectionError:
                assert proc.returncode is None, "nestpy start exited"
                await asyncio.sleep(0.05)
        await client.emit("ClientToServer", "hi", namespace="/events")
        assert await asyncio.wait_for(got.get(), timeout=10) == "Hello Client!"
        await client.disconnect()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
