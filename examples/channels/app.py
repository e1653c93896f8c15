"""The seed program: NestJS's ChannelsGateway, in nestpy.

Run it with ``python examples/channels/app.py`` (port 3000, namespace ``/channels``).
"""

from __future__ import annotations

from typing import Annotated, Any

from nestpy import Logger, Module, NestFactory
from nestpy.websockets import (
    MessageBody,
    OnGatewayConnection,
    OnGatewayDisconnect,
    OnGatewayInit,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)


@WebSocketGateway(3000, namespace="channels")
class ChannelsGateway(OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect):
    server: Server = WebSocketServer()
    logger = Logger("ChannelsGateway")

    def after_init(self, server: Server) -> None:
        self.logger.info("gateway initialised")

    def handle_connection(self, client: Socket, *args: Any) -> None:
        self.logger.info("client connected", sid=client.id)

    def handle_disconnect(self, client: Socket) -> None:
        self.logger.info("client disconnected", sid=client.id)

    @SubscribeMessage("ClientToServer")
    async def handle_message(self, data: Annotated[str, MessageBody()]) -> None:
        self.logger.info("ClientToServer", data=data)
        await self.server.emit("ServerToClient", "Hello Client!")


@Module(providers=[ChannelsGateway])
class AppModule: ...


if __name__ == "__main__":
    NestFactory.run(AppModule)  # same as: nestpy start app:AppModule
