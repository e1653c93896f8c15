"""A live dashboard: the server pushes its metrics every second; a worker publishes jobs.

    bash examples/setup.sh && python examples/dashboard/app.py   # then open http://127.0.0.1:3000

A background task started in ``after_init`` samples the process (CPU, memory, event-loop
lag, connected clients) and emits ``metrics`` to every page; the page draws a live chart.
With ``--redis redis://127.0.0.1:6379/0`` the app uses ``RedisIoAdapter`` and
``python examples/dashboard/worker.py`` (an ``Emitter``, no clients of its own) publishes
``job`` events that reach every page. Without ``--redis`` the embedded default runs the
dashboard alone, no broker needed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from pathlib import Path
from typing import Annotated, Any

from aiohttp import web

from nestpy import Inject, Injectable, Logger, Module, NestApplication, NestFactory, Provider
from nestpy.websockets import (
    OnGatewayConnection,
    OnGatewayInit,
    RedisIoAdapter,
    Server,
    Socket,
    WebSocketGateway,
    WebSocketServer,
)

HERE = Path(__file__).resolve().parent
#: The official browser client, installed by examples/setup.sh (npm's socket.io-client).
CLIENT_BUNDLE = HERE.parent / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
#: The pub/sub channel shared by the app and the worker.
CHANNEL = "nestpy-dashboard"
#: Samples kept for a page that connects (a minute at the default interval).
HISTORY = 60


# --8<-- [start:metrics]
@Injectable()
class MetricsService:
    """Samples this process: CPU share since the last sample, resident memory, loop lag."""

    def __init__(self) -> None:
        self._wall = time.monotonic()
        self._cpu = time.process_time()

    def sample(self, clients: int, loop_lag: float) -> dict[str, float]:
        wall, cpu = time.monotonic(), time.process_time()
        share = (cpu - self._cpu) / max(wall - self._wall, 1e-6)
        self._wall, self._cpu = wall, cpu
        return {
            "at": time.time(),
            "cpu": round(100 * share, 1),
            "rss_mb": round(_rss_bytes() / 2**20, 1),
            "loop_lag_ms": round(1000 * loop_lag, 2),
            "clients": clients,
        }


def _rss_bytes() -> int:
    try:  # Linux: resident pages are the second field of /proc/self/statm
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource  # elsewhere: the peak, in KiB on Linux/BSD and bytes on macOS

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
# --8<-- [end:metrics]


# --8<-- [start:gateway]
@WebSocketGateway(namespace="dashboard")
class DashboardGateway(OnGatewayInit, OnGatewayConnection):
    """Pushes ``metrics`` every *interval* seconds to every connected page."""

    server: Server = WebSocketServer()
    logger = Logger("DashboardGateway")

    def __init__(
        self, metrics: MetricsService, interval: Annotated[float, Inject("METRICS_INTERVAL")]
    ) -> None:
        self.metrics = metrics
        self.interval = interval
        self.samples: deque[dict[str, float]] = deque(maxlen=HISTORY)
        self._task: asyncio.Task[None] | None = None

    def after_init(self, server: Server) -> None:
        # The server exists from here on: start pushing (NestJS users start timers here too).
        self._task = asyncio.create_task(self._push(), name="dashboard-metrics")
        self.logger.info("pushing metrics", interval=self.interval)

    async def handle_connection(self, client: Socket, *args: Any) -> None:
        await client.emit("history", list(self.samples))  # the chart starts filled

    async def on_application_shutdown(self, signal: str | None = None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _push(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            sample = self.metrics.sample(len(self.server.sockets), max(0.0, loop.time() - due))
            self.samples.append(sample)
            try:
                await self.server.emit("metrics", sample)
            except Exception:  # e.g. the broker is briefly down: log it, keep sampling
                self.logger.exception("could not push metrics")
# --8<-- [end:gateway]


def build_module(interval: float = 1.0) -> type:
    """The application module, sampling every *interval* seconds."""

    @Module(providers=[
        MetricsService, DashboardGateway, Provider("METRICS_INTERVAL", use_value=interval)
    ])
    class AppModule:
        """The dashboard application."""

    return AppModule


def add_page(http_app: web.Application) -> None:
    """Serve the page, its script and the socket.io browser client beside the gateway."""

    async def client_bundle(_request: web.Request) -> web.StreamResponse:
        if not CLIENT_BUNDLE.is_file():
            raise web.HTTPNotFound(text="run examples/setup.sh to fetch socket.io.min.js")
        return web.FileResponse(CLIENT_BUNDLE)

    async def index(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(HERE / "static" / "index.html")

    http_app.router.add_get("/", index)
    http_app.router.add_get("/vendor/socket.io.min.js", client_bundle)
    http_app.router.add_static("/static", HERE / "static")


# --8<-- [start:create]
async def create_app(
    interval: float = 1.0, redis: str | None = None, channel: str = CHANNEL
) -> NestApplication:
    """The application, its page routes added (not listening yet).

    With *redis*, a ``RedisIoAdapter`` on *channel* lets the worker's ``Emitter`` reach
    the pages; without it the embedded default serves this process alone.
    """
    app = await NestFactory.create(build_module(interval))
    if redis is not None:
        app.use_websocket_adapter(RedisIoAdapter(redis, channel))
    add_page(app.http_app)
    return app
# --8<-- [end:create]


async def serve(host: str, port: int, interval: float, redis: str | None) -> None:
    """Listen until SIGINT/SIGTERM, then close gracefully."""
    if not CLIENT_BUNDLE.is_file():
        raise SystemExit("the page needs the socket.io browser client: run examples/setup.sh")
    app = await create_app(interval, redis)
    await app.listen(port, host)
    print(f"dashboard on {app.get_url()}" + (f" (worker channel over {redis})"
                                             if redis else ""), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await app.close()


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host``, ``--port``, ``--interval`` and ``--redis``, then serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL"),
                        help="Redis URL; lets examples/dashboard/worker.py publish (REDIS_URL)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.interval, args.redis))


if __name__ == "__main__":
    main()
