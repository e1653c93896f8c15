"""Fixtures that run the real ``nestpy`` console script in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]


def nestpy_command() -> list[str]:
    """The installed ``nestpy`` script next to this interpreter.

    Before ``pip install -e .`` has registered the script, ``python -m nestpy.cli`` (the
    same ``main()``) stands in for it, with the repository on ``PYTHONPATH``.
    """
    script = Path(sys.executable).with_name("nestpy")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "nestpy.cli"]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for CLI subprocesses: no colour, wide lines, nestpy importable."""
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env.update(NO_COLOR="1", COLUMNS="200", PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@pytest.fixture
def nestpy_argv() -> list[str]:
    """The argv prefix that runs the ``nestpy`` console script."""
    return nestpy_command()


@pytest.fixture
def cli_environ() -> dict[str, str]:
    """The environment CLI subprocesses run with."""
    return cli_env()


@pytest.fixture
def nestpy(tmp_path: Path) -> Run:
    """Run ``nestpy *args`` in *cwd* (default: the test's tmp dir); never raises on failure."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*nestpy_command(), *args],
            cwd=cwd or tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture(scope="session")
def _new_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("new")
    result = subprocess.run(
        [*nestpy_command(), "new", "demo"],
        cwd=root,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return root / "demo"


@pytest.fixture
def project(_new_project: Path, tmp_path: Path) -> Path:
    """A fresh copy of a ``nestpy new demo`` project (made once per session by the CLI)."""
    return Path(shutil.copytree(_new_project, tmp_path / "demo"))


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture
def tree() -> Callable[[Path], dict[str, str]]:
    """``tree(root)``: every file under *root* (relative posix path → text), caches excluded."""
    return _tree
