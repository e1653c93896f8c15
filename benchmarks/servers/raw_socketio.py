"""Benchmark peer: a raw python-socketio ``AsyncNamespace`` on aiohttp.

The contract every peer implements (namespace ``/bench``, see docs/performance.md):

* ``echo``: ack with the payload received;
* ``join`` ``{room}``: join the room, ack ``True``;
* ``fanout`` ``{count, room, t, payload}``: emit ``tick`` ``{seq, t, data: payload}`` ``count``
  times to the whole namespace (``room`` null) or to the room, one server-side broadcast per
  tick, then ack ``True``.

Prints ``READY <port>`` on stdout once listening on 127.0.0.1.

Run: ``python benchmarks/servers/raw_socketio.py [--port P] [--uvloop] [--orjson] [--deflate]
[--redis URL]`` (the port also comes from ``$BENCH_PORT``; 0 picks a free one).

Per-message deflate is off unless ``--deflate`` is given, as in Node's socket.io, NestJS and
nestpy. python-engineio's aiohttp driver would otherwise accept every client's offer
(socket.io-client and browsers offer it), and compressing each frame costs python-socketio
2-10x its throughput, which would measure zlib rather than the framework.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

import socketio
from aiohttp import web
from engineio.async_drivers import aiohttp as eio_aiohttp

NAMESPACE = "/bench"


class OrjsonCodec:
    """``json``-module stand-in for python-socketio's ``json=`` hook, backed by orjson."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        """Serialise *obj* compactly (python-socketio passes ``separators``; orjson is compact)."""
        import orjson

        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(data: str | bytes) -> Any:
        """Parse a JSON document."""
        import orjson

        return orjson.loads(data)


class NoDeflateWebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
    """python-engineio's aiohttp websocket wrapper, refusing per-message deflate."""

    async def __call__(self, environ: dict[str, Any]) -> Any:
        request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


class BenchNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """The benchmark contract as a plain python-socketio class-based namespace."""

    def on_echo(self, sid: str, data: Any) -> Any:
        """Ack with the received payload (sync: the same shape as the nestpy peer)."""
        return data

    async def on_join(self, sid: str, data: dict[str, Any]) -> bool:
        """Join ``data['room']``."""
        await self.enter_room(sid, data["room"])
        return True

    async def on_fanout(self, sid: str, msg: dict[str, Any]) -> bool:
        """Broadcast ``count`` ticks to the namespace or to ``msg['room']``."""
        room = msg.get("room")
        t = msg.get("t")
        data = msg.get("payload")
        for seq in range(int(msg["count"])):
            await self.emit("tick", {"seq": seq, "t": t, "data": data}, to=room)
        return True


def build_app(*, use_orjson: bool, deflate: bool, redis_url: str | None) -> web.Application:
    """Create the aiohttp application with the Socket.IO server attached."""
    kwargs: dict[str, Any] = {
        "async_mode": "aiohttp",
        "cors_allowed_origins": "*",
        "http_compression": False,
        "max_http_buffer_size": 1_000_000,
    }
    if use_orjson:
        kwargs["json"] = OrjsonCodec
    if redis_url:
        kwargs["client_manager"] = socketio.AsyncRedisManager(redis_url, channel="bench")
    sio = socketio.AsyncServer(**kwargs)
    if not deflate:
        # engineio picks its websocket class from this per-driver table.
        sio.eio._async = {**sio.eio._async, "websocket": NoDeflateWebSocket}
    sio.register_namespace(BenchNamespace(NAMESPACE))
    app = web.Application()
    sio.attach(app)
    return app


async def serve(port: int, *, use_orjson: bool, deflate: bool, redis_url: str | None) -> None:
    """Listen on 127.0.0.1:*port* until SIGTERM/SIGINT."""
    app = build_app(use_orjson=use_orjson, deflate=deflate, redis_url=redis_url)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    server = site._server
    bound = server.sockets[0].getsockname()[1] if server is not None else port
    print(f"READY {bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "0")))
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--orjson", action="store_true", help="encode/decode with orjson")
    parser.add_argument("--deflate", action="store_true", help="accept per-message deflate")
    parser.add_argument("--redis", default=None, help="redis URL: use AsyncRedisManager")
    args = parser.parse_args(argv)
    coro = serve(args.port, use_orjson=args.orjson, deflate=args.deflate, redis_url=args.redis)
    if args.uvloop:
        import uvloop

        uvloop.run(coro)
    else:
        asyncio.run(coro)
    sys.exit(0)


if __name__ == "__main__":
    main()
