"""``nestpy info``: the versions a bug report needs."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from rich.console import Console
from rich.table import Table

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
    """Print :func:`collect` as a two-column table."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for name, version in collect():
        table.add_row(name, version)
    console.print(table)
