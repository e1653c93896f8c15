"""An app for the graceful-shutdown tests, run as a script (``NestFactory.run``).

``python drain_app.py PORT HANDLER_SECONDS DRAIN_TIMEOUT``: namespace /drain, event ``slow``
sleeps HANDLER_SECONDS and acknowledges its body; stdout gets ``inflight N`` each time 50
more handlers are running, and the shutdown hooks' names.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

from nestpy import Module, NestFactory
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

PORT, HANDLER_SECONDS, DRAIN_TIMEOUT = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])


def say(line: str) -> None:
    print(line, flush=True)


@WebSocketGateway(namespace="drain", drain_timeout=DRAIN_TIMEOUT)
class DrainGateway:
    def __init__(self) -> None:
        self.running = 0

    @SubscribeMessage("slow")
    async def slow(self, body: Annotated[Any, MessageBody()]) -> Any:
        self.running += 1
        if self.running % 50 == 0:
            say(f"inflight {self.running}")
        await asyncio.sleep(HANDLER_SECONDS)
        return {"done": body}

    def on_module_destroy(self) -> None:
        say("on_module_destroy")

    def on_application_shutdown(self, signal: Any = None) -> None:
        say(f"on_application_shutdown {signal}")


@Module(providers=[DrainGateway])
class DrainModule: ...


if __name__ == "__main__":
    NestFactory.run(DrainModule, PORT, "127.0.0.1")
