"""nestpy plain WebSocket gateway peer (``WsAdapter``), the same app as the NestJS peer.

``python benchmarks/ws/nestpy_ws_server.py --port P``; prints ``READY <port>``.
Runs under uvloop when installed, as ``NestFactory.run`` does; orjson when installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
from typing import Annotated, Any

from nestpy import Module, NestFactory
from nestpy.websockets import (
    MessageBody,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsAdapter,
    WsResponse,
    WsServer,
)


@WebSocketGateway(path="/ws", adapter=WsAdapter)
class BenchGateway:
    server: WsServer = WebSocketServer()

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("fanout")
    async def fanout(self, data: Annotated[dict[str, Any], MessageBody()]) -> WsResponse[int]:
        payload = data["payload"]
        for _ in range(data["burst"]):
            await self.server.broadcast("tick", payload)
        return WsResponse("done", data["burst"])


@Module(providers=[BenchGateway])
class AppModule:
    pass


async def main(port: int) -> None:
    app = await NestFactory.create(AppModule)
    await app.listen(port, "127.0.0.1")
    gc.collect()  # as NestFactory.run does after listen()
    gc.freeze()
    print(f"READY {app.get_url().rsplit(':', 1)[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    import logging

    logging.disable(logging.INFO)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(main(args.port))
