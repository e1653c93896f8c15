"""Helpers of the contract tests: the official AsyncAPI parser, tsc, example loading."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLES = ROOT / "examples"


def ensure_node_tools() -> Path:
    """``tests/contracts/node_modules`` with @asyncapi/parser, typescript, socket.io-client."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("the contract tests need Node >= 20 and npm on PATH")
    done = subprocess.run(
        ["bash", str(HERE / "setup.sh")], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        pytest.fail(f"tests/contracts/setup.sh failed:\n{done.stdout}\n{done.stderr}")
    return HERE / "node_modules"


def validate(node_tools: Path, *files: Path) -> list[dict[str, Any]]:
    """Run the official parser on *files*; one result dict per file."""
    done = subprocess.run(
        ["node", str(HERE / "validate_asyncapi.mjs"), *map(str, files)],
        capture_output=True, text=True, timeout=120, cwd=HERE,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(files), done.stderr
    return lines


def load_file(path: Path, name: str) -> ModuleType:
    """Import *path* under the module name *name* (its directory goes on sys.path)."""
    if name in sys.modules:
        return sys.modules[name]
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
