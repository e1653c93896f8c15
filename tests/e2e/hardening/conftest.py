"""Fixtures for the hardening e2e suite (issue 10): a real app on 127.0.0.1, real clients.

``serve(Module)`` creates the application and listens on ephemeral ports; the app is
closed after the test. Clients are ``nestpy.testing.SocketClient`` (python-socketio).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from nestpy import NestApplication, NestFactory

Serve = Callable[..., Awaitable[NestApplication]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``await serve(Module)`` → a listening app (closed after the test)."""
    apps: list[NestApplication] = []

    async def _serve(module: Any, **options: Any) -> NestApplication:
        app = await NestFactory.create(module, **options)
        apps.append(app)
        await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
        return app

    yield _serve
    for app in reversed(apps):
        await app.close()
