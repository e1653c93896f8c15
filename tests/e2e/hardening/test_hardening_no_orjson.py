"""The encoding suite again, in a process where orjson cannot be imported.

Without the ``speed`` extra python-socketio encodes packets with the stdlib ``json``
module, which refuses datetimes, UUIDs, dataclasses and Enums on its own: the models must
still arrive, so nestpy's encoder has to do all of the work on that path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

# sys.modules[name] = None makes `import orjson` raise ImportError, as if not installed.
RUNNER = (
    "import sys; sys.modules['orjson'] = None; import pytest; "
    "sys.exit(pytest.main(sys.argv[1:]))"
)


def test_encoding_suite_passes_without_orjson() -> None:
    env = {**os.environ, "NESTPY_TEST_NO_ORJSON": "1"}
    suites = [str(HERE / "test_hardening_encoding.py")]
    if shutil.which("node") is not None or os.environ.get("NESTPY_REQUIRE_SERVICES") == "1":
        # Node's socket.io-client decodes what the stdlib json codec produced, too.
        suites.append(str(ROOT / "tests" / "interop" / "test_node_hardening.py"))
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, *suites,
         "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
    assert "skipped" not in done.stdout, done.stdout[-2000:]
