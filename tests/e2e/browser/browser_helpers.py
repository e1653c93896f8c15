"""Names the browser tests import (a module of its own: several test directories have a
``conftest``, and ``from conftest import`` would pick whichever pytest loaded last)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
EXAMPLES = ROOT / "examples"

NewPage = Callable[[str], Awaitable[Any]]

#: Browser tests share one Chromium per module, so they run in the module's event loop:
#: each test module sets ``pytestmark = [..., LOOP]``.
LOOP = pytest.mark.asyncio(loop_scope="module")


def keep_screenshot(page_png: Path, example: str) -> None:
    """Copy *page_png* over ``examples/<example>/screenshot.png`` when asked to."""
    if os.environ.get("NESTPY_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(page_png, EXAMPLES / example / "screenshot.png")
