"""The reliability suite: broker outages, rate limits, fuzz, soak (docs/reliability.md)."""

from __future__ import annotations

import sys
from pathlib import Path

# The soak test runs the driver of benchmarks/soak.py (one driver, two sizes).
_REPO = str(Path(__file__).resolve().parents[3])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
