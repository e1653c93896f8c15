"""Shared test configuration: kept minimal; each suite has its own conftest."""

from __future__ import annotations

import functools
import os
import shutil
import socket

import pytest

# pytester runs small test files through nestpy's pytest plugin (tests/e2e/testing).
# pytest only honours pytest_plugins in a top-level conftest, hence here.
pytest_plugins = ["pytester"]


@functools.cache
def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


#: marker → (is the service there?, what is missing)
_SERVICES = {
    "redis": (lambda: _reachable(6379), "Redis on 127.0.0.1:6379"),
    "amqp": (lambda: _reachable(5672), "RabbitMQ on 127.0.0.1:5672"),
    "nginx": (lambda: shutil.which("nginx") is not None, "nginx (apt-get install nginx-light)"),
    "interop": (
        lambda: shutil.which("node") is not None and shutil.which("npm") is not None,
        "Node.js and npm",
    ),
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip tests whose external service is missing, unless NESTPY_REQUIRE_SERVICES=1.

    CI sets NESTPY_REQUIRE_SERVICES=1, so there a missing service fails the run instead of
    hiding the feature behind a skip.
    """
    required = os.environ.get("NESTPY_REQUIRE_SERVICES") == "1"
    for name, (available, what) in _SERVICES.items():
        if item.get_closest_marker(name) is None or available():
            continue
        if required:
            pytest.fail(f"{what} is required (NESTPY_REQUIRE_SERVICES=1) but not available")
        pytest.skip(f"needs {what}; set it up or see README (NESTPY_REQUIRE_SERVICES=1 in CI)")
