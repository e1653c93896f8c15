"""Pipes and validation (docs/pipes.md)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from pydantic import BaseModel, Field

from nestpy import Module
from nestpy.common import (
    ArgumentMetadata,
    DefaultValuePipe,
    ParseBoolPipe,
    ParseIntPipe,
    ParseUUIDPipe,
    PipeTransform,
    UsePipes,
    ValidationPipe,
)
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway


# --8<-- [start:models]
class Author(BaseModel):
    name: str = Field(min_length=1)


class ChatMessage(BaseModel):
    room: str = Field(min_length=1)
    text: str = Field(max_length=200)
    author: Author


@dataclasses.dataclass
class Move:
    x: int
    y: int
# --8<-- [end:models]


# --8<-- [start:custom-pipe]
class TrimPipe(PipeTransform):
    """Strip surrounding whitespace from a string body (other values pass through)."""

    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        return value.strip() if isinstance(value, str) else value
# --8<-- [end:custom-pipe]


# --8<-- [start:gateway]
@WebSocketGateway(namespace="chat")
class ChatGateway:
    @SubscribeMessage("message")  # validated and converted: no pipe needed
    def message(self, msg: Annotated[ChatMessage, MessageBody()]) -> dict[str, str]:
        return {"room": msg.room, "by": msg.author.name}

    @SubscribeMessage("move")  # dataclasses too
    def move(self, move: Annotated[Move, MessageBody()]) -> list[int]:
        return [move.x * 2, move.y * 2]

    @SubscribeMessage("history")  # one property of the body, with its own pipes
    def history(
        self,
        room: Annotated[str, MessageBody("room", TrimPipe)],
        page: Annotated[int, MessageBody("page", DefaultValuePipe(1), ParseIntPipe)],
        newest: Annotated[bool, MessageBody("newest", DefaultValuePipe(True), ParseBoolPipe)],
    ) -> dict[str, Any]:
        return {"room": room, "page": page, "newest": newest}

    @SubscribeMessage("message.get")
    def get(self, id: Annotated[str, MessageBody("id", ParseUUIDPipe(version=4))]) -> str:
        return id

    @UsePipes(ValidationPipe(forbid_non_whitelisted=True))
    @SubscribeMessage("message.strict")  # unknown fields are an error here
    def strict(self, msg: Annotated[ChatMessage, MessageBody()]) -> str:
        return msg.text


@Module(providers=[ChatGateway])
class ChatModule: ...
# --8<-- [end:gateway]
