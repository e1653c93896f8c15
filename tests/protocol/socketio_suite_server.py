"""The Socket.IO server the maintainers' socket.io-protocol suite expects, on nestpy.

The suite (socketio/socket.io-protocol, ``test-suite/``) talks to ``/socket.io/`` on port
3000 and expects, as its README's reference server: a 300 ms ping interval, a 200 ms ping
timeout, a 1,000,000-byte max payload, a 1 s connect timeout, CORS open, an ``auth`` event
with the handshake's auth on connection (main and ``/custom`` namespaces), ``message``
echoed as ``message-back`` and ``message-with-ack`` acknowledged with its arguments::

    python tests/protocol/socketio_suite_server.py --port 3000

A long-heartbeat run (no test passes because a PING happened to arrive): the server with
``--ping-interval 1.2 --ping-timeout 1 --connect-timeout 6``, the suite's ``PING_INTERVAL`` /
``PING_TIMEOUT`` constants set to 1200 / 1000, its heartbeat block's mocha timeout to 20 s and
the "no handshake" test's to 10 s (three PINGs must fit before the connect timeout, which must
fit in that test's timeout). A PING interval of 2 s or more cannot pass: two tests wait for a
PING within mocha's default 2 s.
"""

from __future__ import annotations

import argparse
from typing import Annotated, Any

from nestpy import Module, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
)


def build(ping_interval: float, ping_timeout: float, connect_timeout: float = 1.0) -> type:
    """The application module, with the given heartbeat and connect timeout (seconds)."""
    options: dict[str, Any] = {
        "cors": "*", "ping_interval": ping_interval, "ping_timeout": ping_timeout,
        "max_http_buffer_size": 1_000_000, "connect_timeout": connect_timeout,
    }

    @WebSocketGateway(**options)
    class MainGateway(OnGatewayConnection):
        async def handle_connection(self, client: Socket, *args: Any) -> None:
            await client.emit("auth", client.handshake.auth)

        @SubscribeMessage("message")
        async def message(
            self, client: Annotated[Socket, ConnectedSocket()], body: Annotated[Any, MessageBody()]
        ) -> None:
            # NestJS's rule: several arguments arrive as the list of them.
            await client.emit("message-back", *(body if isinstance(body, list) else [body]))

        @SubscribeMessage("message-with-ack")
        def message_with_ack(self, body: Annotated[Any, MessageBody()]) -> Any:
            return tuple(body) if isinstance(body, list) else body

    @WebSocketGateway(namespace="custom", **options)
    class CustomGateway(OnGatewayConnection):
        async def handle_connection(self, client: Socket, *args: Any) -> None:
            await client.emit("auth", client.handshake.auth)

    @Module(providers=[MainGateway, CustomGateway])
    class SuiteModule: ...

    return SuiteModule


def main() -> None:
    """Parse the options and serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--ping-interval", type=float, default=0.3)
    parser.add_argument("--ping-timeout", type=float, default=0.2)
    parser.add_argument("--connect-timeout", type=float, default=1.0)
    args = parser.parse_args()
    module = build(args.ping_interval, args.ping_timeout, args.connect_timeout)
    NestFactory.run(module, args.port, args.host)


if __name__ == "__main__":
    main()
