"""``nestpy info``: the versions a bug report needs."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from rich.console import Console
from rich.markup import escape

__all__ = ["PACKAGES", "collect", "print_info"]

#: Distributions reported, in order; nestpy itself is published as ``nestpy-io``.
PACKAGES = (
    "python-socketio",
    "python-engineio",
    "aiohttp",
    "injector",
    "structlog",
    "pydantic",
)
#: Optional extras, reported only when installed.
OPTIONAL = ("orjson", "uvloop", "redis", "aio-pika")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def collect() -> list[tuple[str, str]]:
    """Return ``(name, version)`` rows: nestpy, its dependencies, extras, Python, platform."""
    from nestpy.__about__ import __version__

    rows = [("nestpy", __version__)]
    rows += [(dist, _version(dist) or "not installed") for dist in PACKAGES]
    rows += [(dist, v) for dist in OPTIONAL if (v := _version(dist))]
    impl = platform.python_implementation()
    rows.append(("Python", f"{platform.python_version()} ({impl}, {sys.executable})"))
    rows.append(("Platform", platform.platform()))
    return rows


def print_info(console: Console) -> None:
    """Print :func:`collect` as aligned ``name  version`` lines."""
    rows = collect()
    width = max(len(name) for name, _ in rows)
    for name, version in rows:
        console.print(f"[bold cyan]{name:<{width}}[/]  {escape(version)}")
