"""Raw aiohttp plain WebSocket peer: the same job as the gateways, written by hand.

It parses each ``{"event", "data"}`` frame, dispatches on the event and replies with the
value (request/reply) or broadcasts ``{"event": "tick", ...}`` encoded once (fan-out),
with the same JSON codec (orjson when installed) and loop (uvloop when installed) nestpy
uses, and no validation, limits or pipeline: the floor a framework is measured against.

``python benchmarks/ws/raw_aiohttp_ws.py --port P``; prints ``READY <port>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from aiohttp import WSMsgType, web

try:
    from orjson import dumps as _dumps
    from orjson import loads

    def dumps(value: Any) -> str:
        return _dumps(value).decode()
except ImportError:  # pragma: no cover
    import json

    loads = json.loads

    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))


clients: set[web.WebSocketResponse] = set()


async def handle(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    clients.add(ws)
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = loads(msg.data)
            event, data = frame["event"], frame.get("data")
            if event == "echo":
                await ws.send_str(dumps(data))
            elif event == "fanout":
                text = dumps({"event": "tick", "data": data["payload"]})
                for _ in range(data["burst"]):
                    for c in clients:
                        await c.send_str(text)
                await ws.send_str(dumps({"event": "done", "data": data["burst"]}))
    finally:
        clients.discard(ws)
    return ws


async def main(port: int) -> None:
    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"READY {runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(main(args.port))
