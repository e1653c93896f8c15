"""Node tools for the contract tests: the official AsyncAPI parser and tsc (setup.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_tools import ensure_node_tools


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """``tests/contracts/node_modules`` with @asyncapi/parser, typescript, socket.io-client."""
    return ensure_node_tools()
