"""A typical NestJS gateway, moved to nestpy (docs/migration.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from nestpy import Injectable, Module
from nestpy.common import CanActivate, ExecutionContext, UseGuards
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsException,
    WsResponse,
)


# --8<-- [start:python]
class CreateMessageDto(BaseModel):  # class-validator decorators → pydantic fields
    room: str = Field(min_length=1)
    text: str = Field(min_length=1, max_length=500)


@Injectable()
class MessagesService:
    def __init__(self) -> None:
        self.count = 0

    def save(self, dto: CreateMessageDto) -> int:
        self.count += 1
        return self.count


@Injectable()
class WsAuthGuard(CanActivate):
    def can_activate(self, context: ExecutionContext) -> bool:
        ws = context.switch_to_ws()
        if ws.get_pattern() == "connection":  # class guards also guard the handshake
            return ws.get_data().get("token") == "secret"
        return True


@UseGuards(WsAuthGuard)
@WebSocketGateway(namespace="chat", cors={"origin": "https://app.example.com"})
class ChatGateway(OnGatewayConnection):
    server: Server = WebSocketServer()

    def __init__(self, messages: MessagesService) -> None:
        self.messages = messages

    def handle_connection(self, client: Socket, *args: object) -> None:
        client.data["user"] = client.handshake.auth.get("user", "anonymous")

    @SubscribeMessage("message")
    async def on_message(
        self,
        dto: Annotated[CreateMessageDto, MessageBody()],  # validated: no ValidationPipe needed
        client: Annotated[Socket, ConnectedSocket()],
    ) -> WsResponse[dict[str, int]]:
        if dto.room not in client.rooms:
            raise WsException("join the room first")
        message_id = self.messages.save(dto)
        await self.server.to(dto.room).emit("message", {"from": client.data["user"],
                                                        "text": dto.text})
        return WsResponse("saved", {"id": message_id})

    @SubscribeMessage("join")
    async def on_join(
        self, room: Annotated[str, MessageBody("room")],
        client: Annotated[Socket, ConnectedSocket()],
    ) -> str:
        await client.join(room)
        return room  # the acknowledgement (emitWithAck's reply)


@Module(providers=[MessagesService, ChatGateway])
class ChatModule: ...
# --8<-- [end:python]
