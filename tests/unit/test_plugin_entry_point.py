"""The ``pytest11`` entry point loads without importing nestpy (so coverage sees all of it)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from importlib.metadata import entry_points

(ep,) = [ep for ep in entry_points(group="pytest11") if ep.name == "nestpy"]
ep.load()
leaked = sorted(m for m in sys.modules if m == "nestpy" or m.startswith("nestpy."))
print(ep.value, leaked)
"""


def test_loading_the_plugin_imports_no_nestpy_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert out == "nestpy_pytest []", (
        f"the pytest11 entry point imported nestpy modules at plugin load ({out}): pytest "
        "loads it before pytest-cov starts, so their module-level lines would read as unrun"
    )


def test_the_fixtures_are_the_ones_nestpy_testing_plugin_documents() -> None:
    import nestpy_pytest
    from nestpy.testing import plugin

    assert plugin.nest_app is nestpy_pytest.nest_app
    assert plugin.nest_client is nestpy_pytest.nest_client
