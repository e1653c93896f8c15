"""Scale-out: run this app on two ports over one Redis, and they behave as one server.

    python examples/scaleout/app.py --port 3001
    python examples/scaleout/app.py --port 3002
    python examples/scaleout/worker.py              # emits to both from a client-less process

A client on 3001 and a client on 3002 that ``join`` the same room see each other's ``say``;
``who`` lists the room's members on every node (``fetch_sockets()``), ``kick`` disconnects
the others everywhere (``disconnect_sockets()``). ``--broker amqp://guest:guest@127.0.0.1:5672//``
runs the same over RabbitMQ (``AmqpIoAdapter``); ``BROKER_URL`` sets the default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from typing import Annotated, Any

from pydantic import BaseModel, Field

from nestpy import Inject, Logger, Module, NestFactory, Provider
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)
from nestpy.websockets.adapters import AmqpIoAdapter, IoAdapter, RedisIoAdapter

DEFAULT_BROKER = os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/0")


class Say(BaseModel):
    """Payload of ``say``."""

    room: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2000)


@WebSocketGateway(namespace="chat", cors="*")
class ChatGateway(OnGatewayConnection):
    """Rooms that span every node of the cluster."""

    server: Server = WebSocketServer()
    logger = Logger("ChatGateway")

    def __init__(self, node: Annotated[str, Inject("NODE_NAME")]) -> None:
        self.node = node

    def handle_connection(self, client: Socket, *args: Any) -> None:
        # data travels with the socket in fetch_sockets() answers from other nodes
        client.data["name"] = client.handshake.auth.get("name") or client.id[:6]
        client.data["node"] = self.node

    @SubscribeMessage("join")
    async def join(
        self,
        room: Annotated[str, MessageBody("room")],
        client: Annotated[Socket, ConnectedSocket()],
    ) -> dict[str, str]:
        await client.join(room)
        await client.to(room).emit("joined", {"room": room, "name": client.data["name"]})
        return {"room": room, "node": self.node}

    @SubscribeMessage("say")
    async def say(
        self, body: Annotated[Say, MessageBody()], client: Annotated[Socket, ConnectedSocket()]
    ) -> None:
        await self.server.to(body.room).emit(
            "said", {"room": body.room, "from": client.data["name"], "text": body.text}
        )

    @SubscribeMessage("who")
    async def who(self, room: Annotated[str, MessageBody("room")]) -> list[dict[str, Any]]:
        sockets = await self.server.in_(room).fetch_sockets()
        return sorted(
            ({"name": s.data.get("name"), "node": s.data.get("node")} for s in sockets),
            key=lambda m: (str(m["node"]), str(m["name"])),
        )

    @SubscribeMessage("kick")
    async def kick(
        self,
        room: Annotated[str, MessageBody("room")],
        client: Annotated[Socket, ConnectedSocket()],
    ) -> bool:
        # everyone in the room on every node, except the caller (its id is a room too)
        await self.server.in_(room).except_(client.id).disconnect_sockets()
        return True


def build_module(node: str) -> type:
    """The application module, naming this node."""

    @Module(providers=[ChatGateway, Provider("NODE_NAME", use_value=node)])
    class AppModule:
        """One node of the chat cluster."""

    return AppModule


def adapter_for(url: str, channel: str) -> IoAdapter:
    """``RedisIoAdapter`` or ``AmqpIoAdapter`` depending on *url*'s scheme."""
    if url.startswith(("amqp://", "amqps://")):
        return AmqpIoAdapter(url, channel)
    return RedisIoAdapter(url, channel)


async def serve(port: int, broker: str, host: str, channel: str) -> None:
    """Run one node until SIGINT/SIGTERM."""
    app = await NestFactory.create(build_module(f"node-{port}"))
    app.use_websocket_adapter(adapter_for(broker, channel))
    await app.listen(port, host)
    print(f"READY {app.get_url()}", flush=True)
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
    """Parse ``--port``, ``--broker`` and ``--host``, then serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--broker", default=DEFAULT_BROKER)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--channel", default="nestpy-example")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.broker, args.host, args.channel))


if __name__ == "__main__":
    main()
