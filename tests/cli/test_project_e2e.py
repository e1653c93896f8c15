"""What ``nestpy new`` + ``nestpy generate`` write passes its own tests, untouched.

The project is installed with ``pip install -e .`` into a throwaway virtualenv and its own
``pytest`` runs in a subprocess, as a user would run it. The throwaway venv sees the packages
of the interpreter running these tests through a ``.pth`` file (a venv made with
``--system-site-packages`` from inside another venv would see the *base* Python's packages,
not this venv's). When the generated project's build backend (hatchling, with editables
for ``-e``) is installed here too, pip runs offline (``--no-index --no-build-isolation``);
otherwise pip fetches the backend from the package index, as it would for a user.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Order matters: the module comes first, so the gateway and service register in ChatModule
# (the nearest module) and ChatModule itself in AppModule's imports.
SCHEMATICS = ("module", "gateway", "service", "guard", "pipe", "interceptor", "filter")


def _throwaway_venv(root: Path) -> Path:
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # addsitedir (unlike a plain path line) also runs our .pth files: nestpy's editable install.
    Path(purelib, "_parent_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


def _clean_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL"))
    }
    env["NO_COLOR"] = "1"
    return env


def test_new_project_with_every_schematic_passes_its_own_tests(nestpy: Run, tmp_path: Path) -> None:
    assert nestpy("new", "demo").returncode == 0
    project = tmp_path / "demo"
    for schematic in SCHEMATICS:
        result = nestpy("g", schematic, "chat", cwd=project)
        assert result.returncode == 0, result.stderr
    app_module = (project / "demo" / "app_module.py").read_text()
    assert "imports=[ChatModule]" in app_module
    chat_module = (project / "demo" / "chat" / "chat_module.py").read_text()
    assert "providers=[ChatGateway, ChatService]" in chat_module

    python = _throwaway_venv(tmp_path)
    offline = all(importlib.util.find_spec(m) for m in ("hatchling", "editables"))
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-deps",
            *(["--no-index", "--no-build-isolation"] if offline else []),
            "-q",
            "-e",
            ".[test]",
        ],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    where = subprocess.run(
        [str(python), "-c", "import demo; print(demo.__file__)"],
        cwd=tmp_path,  # not the project root: the import must come from the installed project
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.strip() == str(project / "demo" / "__init__.py"), where.stderr

    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    # The whole-app test (through the pytest plugin, with every registration in place), the
    # sample gateway's test, and one per generated schematic that has one (not the module).
    summary = tests.stdout.strip().splitlines()[-1]
    assert re.match(r"8 passed in ", summary), tests.stdout
    assert "warning" not in summary
