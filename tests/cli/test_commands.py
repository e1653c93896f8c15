"""``nestpy info``, ``--help``/``--version``, and what ``nestpy g`` imports."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from nestpy.__about__ import __version__

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_info_lists_versions(nestpy: Run) -> None:
    result = nestpy("info")
    assert result.returncode == 0, result.stderr
    rows = dict(line.rstrip().split(None, 1) for line in result.stdout.splitlines())
    assert rows["nestpy"] == __version__
    for dist in (
        "python-socketio",
        "python-engineio",
        "aiohttp",
        "injector",
        "structlog",
        "pydantic",
    ):
        assert rows[dist] == metadata.version(dist)
    assert rows["Python"].startswith(f"{platform.python_version()} (")
    assert rows["Platform"] == platform.platform()


def test_help_and_version(nestpy: Run) -> None:
    result = nestpy("--help")
    assert result.returncode == 0
    for command in ("new", "generate", "start", "info"):
        assert command in result.stdout
    assert "generate (g)" in result.stdout
    g_help = nestpy("g", "--help")
    assert g_help.returncode == 0
    assert "interceptor (itc)" in g_help.stdout and "--dry-run" in g_help.stdout
    assert "Usage: nestpy generate" in g_help.stdout
    version = nestpy("--version")
    assert version.stdout.strip() == f"nestpy, version {__version__}"


_PROBE = """
import sys
from nestpy.cli.main import cli
try:
    cli(["g", "gateway", "chat"], prog_name="nestpy", standalone_mode=False)
finally:
    print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def _modules_after_generate(project: Path, env: dict[str, str]) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", "import json" + _PROBE],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (project / "demo" / "chat" / "chat_gateway.py").is_file()
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_generate_never_imports_socketio_or_aiohttp(
    project: Path, cli_environ: dict[str, str]
) -> None:
    """``nestpy g`` stays a quick file generator: the network stack is never loaded."""
    loaded = _modules_after_generate(project, cli_environ)
    assert not loaded & {"socketio", "engineio", "aiohttp"}


def test_colour_only_when_asked_for_or_on_a_terminal(
    nestpy_argv: list[str], cli_environ: dict[str, str], tmp_path: Path
) -> None:
    """rich colours a terminal (FORCE_COLOR stands in for one here); pipes get plain text."""
    env = {k: v for k, v in cli_environ.items() if k != "NO_COLOR"}
    coloured = subprocess.run(
        [*nestpy_argv, "g", "s", "chat", "--skip-import", "--dry-run"],
        cwd=tmp_path,
        env={**env, "FORCE_COLOR": "1", "TERM": "xterm-256color"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    plain = subprocess.run(
        [*nestpy_argv, "g", "s", "chat", "--skip-import", "--dry-run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "\x1b[" in coloured.stdout and "CREATE" in coloured.stdout
    assert "\x1b[" not in plain.stdout
    assert plain.stdout.startswith("CREATE chat/__init__.py (0 bytes)")
