"""``nestpy g gateway NAME --ws``: a plain WebSocket gateway whose generated test passes,
and that is ruff and mypy --strict clean like every other schematic."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


def _env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    env["PYTHONPATH"] = str(project)
    env["NO_COLOR"] = "1"
    return env


def test_g_gateway_ws_writes_a_plain_gateway(nestpy: Run, project: Path) -> None:
    result = nestpy("g", "gateway", "feed", "--ws", cwd=project)
    assert result.returncode == 0, result.stderr
    source = (project / "demo" / "feed" / "feed_gateway.py").read_text()
    assert '@WebSocketGateway(path="/feed", adapter=WsAdapter)' in source
    test = (project / "tests" / "feed" / "test_feed_gateway.py").read_text()
    assert 'app.test_client(path="/feed", adapter="ws")' in test
    module = (project / "demo" / "app_module.py").read_text()
    assert "from demo.feed.feed_gateway import FeedGateway" in module


def test_ws_is_for_gateways_only(nestpy: Run, project: Path) -> None:
    result = nestpy("g", "service", "feed", "--ws", cwd=project)
    assert result.returncode != 0
    assert "--ws applies to gateways only" in result.stderr


@pytest.mark.e2e
@pytest.mark.slow
def test_generated_ws_gateway_passes_its_test_and_the_checkers(
    nestpy: Run, project: Path, tmp_path: Path
) -> None:
    assert nestpy("g", "gateway", "feed", "--ws", cwd=project).returncode == 0
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "tests/feed"],
        cwd=project, env=_env(project), capture_output=True, text=True, timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert tests.stdout.strip().splitlines()[-1].startswith("1 passed")
    ruff = subprocess.run(
        [str(Path(sys.executable).with_name("ruff")), "check", "--no-cache", "--isolated",
         "--select", "E,F,W,I,B,UP", "--target-version", "py310", "--line-length", "100",
         "demo/feed", "tests/feed"],
        cwd=project, capture_output=True, text=True, timeout=60,
    )
    assert ruff.returncode == 0, ruff.stdout
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy-cache"),
         "demo/feed", "tests/feed"],
        cwd=project, env=_env(project), capture_output=True, text=True, timeout=300,
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
