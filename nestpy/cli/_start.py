"""``nestpy start``: run the application, optionally restarting it when code changes.

``--reload`` runs the application in a child process and polls the project's ``.py`` files'
modification times (twice a second), restarting the child on a change. Polling needs no
extra dependency and is cheap for a project's source tree; the parent never imports the
application, so a syntax error only stops the child until the next save.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from nestpy.cli._discovery import CLIError, Project, load_app, parse_target

__all__ = ["run", "run_with_reload", "snapshot"]

POLL_INTERVAL = 0.5
#: Seconds a child gets to shut down gracefully (SIGTERM) before it is killed.
STOP_TIMEOUT = 5.0
_SKIP_DIRS = {"__pycache__", "node_modules", "build", "dist", "site-packages"}


def run(target: str | None, project: Project, *, host: str | None, port: int | None) -> None:
    """Load the root module and serve it with ``NestFactory.run`` until a signal stops it."""
    app_module = load_app(target, project)
    from nestpy import NestFactory
    from nestpy.exceptions import BootstrapError

    options: dict[str, Any] = {}
    if port is not None:
        options["port"] = port
    if host is not None:
        options["host"] = host
    try:
        NestFactory.run(app_module, **options)
    except BootstrapError as exc:
        # The message names the place and the fix; a traceback through click and asyncio
        # would bury it (NESTPY_TRACEBACK=1 shows it for debugging nestpy itself).
        if os.environ.get("NESTPY_TRACEBACK") == "1":
            raise
        raise CLIError(f"{type(exc).__name__}: {exc}") from None


def _files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        # Skip virtualenvs, caches and hidden directories: they change without the code changing.
        dirnames[:] = [
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in _SKIP_DIRS
            and not (Path(dirpath, d) / "pyvenv.cfg").exists()
        ]
        for name in filenames:
            if name.endswith((".py", ".toml")):
                yield Path(dirpath, name)


def snapshot(root: Path) -> dict[Path, int]:
    """Modification time (ns) of every ``.py``/``.toml`` file under *root*."""
    result: dict[Path, int] = {}
    for path in _files(root):
        try:
            result[path] = path.stat().st_mtime_ns
        except FileNotFoundError:  # deleted between listing and stat
            continue
    return result


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()  # SIGTERM: NestFactory.run closes the application gracefully
    try:
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def run_with_reload(
    target: str | None,
    project: Project,
    *,
    host: str | None,
    port: int | None,
    console: Console,
) -> None:
    """Run ``nestpy start`` in a child process and restart it when a source file changes."""
    target = target or project.app
    if not target:
        raise CLIError(
            f"no application found in {project.root}: pass 'module:Class' or set "
            f"[tool.nestpy] app in pyproject.toml"
        )
    parse_target(target)  # report a malformed target here, once, not in every child
    argv = [sys.executable, "-m", "nestpy.cli", "start", target]
    argv += ["--host", host] if host is not None else []
    argv += ["--port", str(port)] if port is not None else []

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    child: subprocess.Popen[bytes] | None = None
    try:
        while True:
            before = snapshot(project.root)
            console.print(f"[bold]reload:[/] watching {project.root} for changes")
            child = subprocess.Popen(argv)
            reported = False
            while snapshot(project.root) == before:
                if child.poll() is not None and not reported:
                    console.print(
                        f"[bold red]reload:[/] the application exited with status "
                        f"{child.returncode}; waiting for a change to restart it"
                    )
                    reported = True
                time.sleep(POLL_INTERVAL)
            console.print("[bold]reload:[/] change detected, restarting")
            _stop(child)
    except KeyboardInterrupt:
        pass
    finally:
        if child is not None:
            _stop(child)
        signal.signal(signal.SIGTERM, previous)
