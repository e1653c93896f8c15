"""A small nestpy app run as a script by the lifecycle and logging tests.

``python served_app.py`` serves /svc on 127.0.0.1 with an ephemeral application port
(``NestFactory.run``), logs JSON to stderr and prints each hook it runs to stdout.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

from nestpy import Logger, Module, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayDisconnect,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
)


def say(line: str) -> None:
    print(line, flush=True)


@WebSocketGateway(namespace="svc")
class SvcGateway(OnGatewayDisconnect):
    logger = Logger("SvcGateway")

    @SubscribeMessage("hello")
    def hello(self, client: Annotated[Socket, ConnectedSocket()],
              name: Annotated[str, MessageBody()]) -> str:
        self.logger.info("greeting", name=name)
        return f"hello {name}"

    @SubscribeMessage("boom")
    async def boom(self) -> None:
        raise ValueError("exploded on purpose")

    def handle_disconnect(self, client: Socket) -> None:
        say(f"handle_disconnect {client.id}")

    def on_module_destroy(self) -> None:
        say("on_module_destroy")

    def before_application_shutdown(self, signal: Any = None) -> None:
        say(f"before_application_shutdown {signal}")

    def on_application_shutdown(self, signal: Any = None) -> None:
        say(f"on_application_shutdown {signal}")


@Module(providers=[SvcGateway])
class AppModule: ...


if __name__ == "__main__":
    NestFactory.run(AppModule, port=int(sys.argv[1]) if len(sys.argv) > 1 else 0,
                    host="127.0.0.1")
    say("exited run()")
