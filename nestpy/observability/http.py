"""The ``/metrics`` route on an aiohttp application."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["add_metrics_route"]


def add_metrics_route(app: web.Application, path: str, registry: Any) -> None:
    """Serve *registry* in Prometheus's text format at *path* of *app*."""

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get(path, metrics)
