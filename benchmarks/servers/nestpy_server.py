"""Benchmark peer: the ``/bench`` contract written as a nestpy gateway.

Same logic as ``raw_socketio.py`` (see docs/performance.md for the contract), written the way
a nestpy user would: a ``@WebSocketGateway`` with ``@SubscribeMessage`` handlers, bootstrapped
by ``NestFactory``. Prints ``READY <port>`` on stdout once listening on 127.0.0.1.

Run: ``python benchmarks/servers/nestpy_server.py [--port P] [--uvloop] [--orjson] [--redis URL]``
(the port also comes from ``$BENCH_PORT``).

Without ``--uvloop``/``--orjson`` the server runs on the stdlib loop and json, whatever is
installed, so that ``nestpy`` compares with ``raw`` and ``nestpy-fast`` with ``raw-fast``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
from typing import Annotated, Any

# Module level on purpose: nestpy resolves handler annotations against the module's globals.
from nestpy import Module, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "0")))
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--orjson", action="store_true", help="encode/decode with orjson")
    parser.add_argument("--redis", default=None, help="redis URL: use RedisIoAdapter")
    parser.add_argument(
        "--socketio-redis", default=None,
        help="redis URL: use SocketIoRedisAdapter (Node's @socket.io/redis-adapter protocol)",
    )
    return parser.parse_args(argv)


def build_module(*, use_orjson: bool) -> type:
    """Return the AppModule with the bench gateway, configured for the chosen json codec."""
    # The plain variant pins the stdlib json (a gateway's own json= wins over nestpy's
    # default); the fast one takes nestpy's default codec (orjson), as users get it with the
    # speed extra.
    options: dict[str, Any] = {} if use_orjson else {"json": json}

    # port None: share the application's HTTP server, bound by app.listen() below.
    @WebSocketGateway(None, namespace="bench", **options)
    class BenchGateway:
        """The benchmark contract: echo, join and fanout."""

        server: Server = WebSocketServer()

        @SubscribeMessage("echo")
        def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
            """Ack with the received payload (sync: cheap handlers need no task)."""
            return data

        @SubscribeMessage("join")
        async def join(
            self,
            data: Annotated[dict[str, Any], MessageBody()],
            client: Annotated[Socket, ConnectedSocket()],
        ) -> bool:
            """Join ``data['room']``."""
            await client.join(data["room"])
            return True

        @SubscribeMessage("fanout")
        async def fanout(self, msg: Annotated[dict[str, Any], MessageBody()]) -> bool:
            """Broadcast ``count`` ticks to the namespace or to ``msg['room']``."""
            room = msg.get("room")
            t = msg.get("t")
            data = msg.get("payload")
            target = self.server.to(room) if room else self.server
            for seq in range(int(msg["count"])):
                await target.emit("tick", {"seq": seq, "t": t, "data": data})
            return True

    @Module(providers=[BenchGateway])
    class AppModule:
        """Benchmark application."""

    return AppModule


def _redis_adapter_class() -> Any:
    """``RedisIoAdapter`` (the scale-out issue), or None while it does not exist yet."""
    try:
        from nestpy.websockets import RedisIoAdapter  # type: ignore[attr-defined]
    except ImportError:
        try:
            from nestpy.websockets.adapters import RedisIoAdapter
        except ImportError:
            return None
    return RedisIoAdapter


async def serve(args: argparse.Namespace) -> None:
    """Bootstrap the app on 127.0.0.1:*port* and serve until SIGTERM/SIGINT."""
    module = build_module(use_orjson=args.orjson)
    app = await NestFactory.create(module)
    if args.redis:
        app.use_websocket_adapter(_redis_adapter_class()(args.redis, channel="bench"))
    if args.socketio_redis:
        from nestpy.websockets import SocketIoRedisAdapter

        # Same key as the Node peer (BENCH_REDIS_KEY), so a run can also mix the two.
        key = os.environ.get("BENCH_REDIS_KEY", "bench")
        app.use_websocket_adapter(SocketIoRedisAdapter(args.socketio_redis, key))
    await app.listen(args.port, "127.0.0.1")
    # What NestFactory.run does after listen() (NESTPY_GC_FREEZE, on by default): this peer
    # bootstraps by hand to print READY, so it repeats that step.
    if os.environ.get("NESTPY_GC_FREEZE", "1") not in ("0", "false", "no"):
        gc.collect()
        gc.freeze()
    print(f"READY {args.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.close()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the server."""
    args = _parse_args(argv)
    if args.port == 0:
        sys.exit("nestpy_server.py needs an explicit --port (the harness picks a free one)")
    if args.redis and _redis_adapter_class() is None:
        print("UNSUPPORTED nestpy.websockets.RedisIoAdapter is not available", flush=True)
        sys.exit(2)
    if args.uvloop:
        import uvloop

        uvloop.run(serve(args))
    else:
        # An explicit stdlib loop: nestpy picks uvloop up when installed (DESIGN.md
        # "Performance defaults"), and the plain variant must compare with plain raw.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve(args))
        finally:
            loop.close()


if __name__ == "__main__":
    main()
