"""Shared test configuration: kept minimal; each suite has its own conftest."""

from __future__ import annotations

import functools
import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

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


def _guarded(item: pytest.Item) -> bool:
    path = str(item.path)
    return "/tests/e2e/" in path or "/tests/interop/" in path


@pytest.fixture(autouse=True)
def nestpy_error_guard(request: pytest.FixtureRequest) -> Iterator[list[dict[str, Any]]]:
    """Fail an e2e test after which nestpy logged at ERROR (or above) unexpectedly.

    A server error that a client never sees (an unencodable ack, a crashed hook) must not
    hide behind a passing test. Tests that provoke errors on purpose say so with
    ``@pytest.mark.allow_errors`` and may assert on the lines this fixture yields.
    """
    from nestpy import logger as nestpy_logger

    seen: list[dict[str, Any]] = []

    def tap(method: str, event_dict: dict[str, Any]) -> None:
        seen.append({**event_dict, "level": method})

    nestpy_logger.error_taps.append(tap)
    try:
        yield seen
    finally:
        nestpy_logger.error_taps.remove(tap)
    if seen and _guarded(request.node) and request.node.get_closest_marker("allow_errors") is None:
        lines = "\n".join(
            f"  {e.get('level')}: {e.get('message')} "
            f"{ {k: v for k, v in e.items() if k not in ('message', 'level', 'exc_info')} }"
            for e in seen[:5]
        )
        pytest.fail(
            f"nestpy logged {len(seen)} unexpected error line(s) during this test; fix the "
            f"cause or mark the test @pytest.mark.allow_errors:\n{lines}",
            pytrace=False,
        )


@pytest.fixture
async def serve_app() -> AsyncIterator[Any]:
    """``await serve_app(Module)`` → a nestpy app listening on ephemeral 127.0.0.1 ports, closed
    after the test (the hardening suite's fixture)."""
    from nestpy import NestApplication, NestFactory

    apps: list[NestApplication] = []

    async def _serve(module: Any, **options: Any) -> NestApplication:
        app = await NestFactory.create(module, **options)
        apps.append(app)
        await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
        return app

    yield _serve
    for app in reversed(apps):
        await app.close()
