"""Return values and encoding; request-scoped state (docs/gateways.md, docs/di.md)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from pydantic import BaseModel

from nestpy import Inject, Injectable, Module, Scope
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway, WsResponse


# --8<-- [start:models]
class Message(BaseModel):
    id: uuid.UUID
    text: str
    sent_at: datetime.datetime


@WebSocketGateway(namespace="chat")
class ChatGateway:
    def __init__(self) -> None:
        self.history: list[Message] = []

    @SubscribeMessage("send")
    def send(self, text: Annotated[str, MessageBody()]) -> Message:
        now = datetime.datetime.now(datetime.timezone.utc)
        message = Message(id=uuid.uuid4(), text=text, sent_at=now)
        self.history.append(message)
        return message  # the ack: {"id": "…", "text": "…", "sent_at": "2026-…Z"}

    @SubscribeMessage("history")
    def get_history(self) -> list[Message]:  # encoder built once from the annotation
        return self.history

    @SubscribeMessage("latest")
    def latest(self) -> WsResponse[Message | None]:
        return WsResponse("latest", self.history[-1] if self.history else None)
# --8<-- [end:models]


# --8<-- [start:scopes]
@Injectable(scope=Scope.REQUEST)
class Session:
    """One per connected socket; dropped when it disconnects."""

    def __init__(self) -> None:
        self.seen: list[str] = []


@Injectable(scope=Scope.TRANSIENT)
class Draft:
    """A fresh one for every message: per-message state."""

    def __init__(self) -> None:
        self.parts: list[str] = []


@WebSocketGateway(namespace="session")
class SessionGateway:
    @SubscribeMessage("note")
    def note(
        self,
        text: Annotated[str, MessageBody()],
        session: Annotated[Session, Inject()],
        draft: Annotated[Draft, Inject()],
    ) -> dict[str, list[str]]:
        session.seen.append(text)
        draft.parts.append(text.upper())
        return {"seen": session.seen, "draft": draft.parts}
# --8<-- [end:scopes]


@Module(providers=[ChatGateway, Session, Draft, SessionGateway])
class AppModule: ...
