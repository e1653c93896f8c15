"""An Engine.IO echo server on ``nestpy.engineio.EngineIOServer``.

Run it for the maintainers' engine.io-protocol suite (socketio/engine.io-protocol,
``test-suite/``), which expects ``http://localhost:3000/engine.io/`` with a 300 ms ping
interval, a 200 ms ping timeout and a 1,000,000-byte max payload::

    python tests/protocol/engineio_echo_server.py --port 3000
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from nestpy.engineio import EngineIOServer, EngineIOSocket


def echo(sock: EngineIOSocket, data: str | bytes) -> None:
    """Send every message back to its sender."""
    sock.send(data)


def make_app(ping_interval: float = 0.3, ping_timeout: float = 0.2) -> web.Application:
    """The aiohttp application serving the echo server at ``/engine.io/``."""
    app = web.Application()
    server = EngineIOServer(
        ping_interval=ping_interval, ping_timeout=ping_timeout, max_payload=1_000_000,
        cors_allowed_origins="*", on_message=echo,
    )
    server.attach(app, "/engine.io")

    async def stop(_app: web.Application) -> None:
        await server.shutdown(timeout=1.0)

    app.on_shutdown.append(stop)
    return app


def main() -> None:
    """Parse ``--host``/``--port`` and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(make_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
