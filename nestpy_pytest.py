"""nestpy's pytest plugin entry point (``pytest11: nestpy``): the ``nest_app``/``nest_client``
fixtures, registered without importing nestpy.

pytest loads ``pytest11`` plugins before pytest-cov starts measuring. A plugin inside the
``nestpy`` package would import ``nestpy`` (and everything its ``__init__`` imports) at that
moment, so every module-level line of nestpy would count as never run. This module lives
outside the package and imports nestpy only inside the fixtures; the fixtures themselves
(and their documentation and types) are in ``nestpy.testing.plugin``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

__all__ = ["nest_app", "nest_client"]


def _async_fixture(fn: Callable[..., Any]) -> Any:
    """``pytest_asyncio.fixture`` when available (works in strict and auto mode)."""
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - depends on the environment

        @pytest.fixture(name=fn.__name__)
        def missing() -> Any:
            pytest.fail(
                f"the {fn.__name__} fixture needs pytest-asyncio: "
                "pip install 'nestpy-io[test]' (or pytest-aiohttp)",
                pytrace=False,
            )

        missing.__doc__ = fn.__doc__
        return missing
    return pytest_asyncio.fixture(fn)


@_async_fixture
async def nest_app() -> AsyncIterator[Any]:
    """Factory fixture: ``app = await nest_app(AppModule, overrides={Svc: fake})``.

    The application listens on 127.0.0.1 with every port ephemeral; every application it
    returned is closed at teardown, even when the test failed
    (``nestpy.testing.plugin.NestAppFactory``).
    """
    from nestpy.testing.plugin import app_factory

    async with app_factory() as make:
        yield make


@_async_fixture
async def nest_client(nest_app: Any) -> AsyncIterator[Any]:
    """Factory fixture: ``client = await nest_client(app, "/chat", auth={...})``.

    Returns a connected ``SocketClient``; every client it opened is disconnected at teardown,
    before the applications of ``nest_app`` are closed
    (``nestpy.testing.plugin.NestClientFactory``).
    """
    from nestpy.testing.plugin import client_factory

    async with client_factory() as make:
        yield make
