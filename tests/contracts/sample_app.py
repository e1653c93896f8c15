"""A gateway app using every shape the contract tools describe (tests/contracts only)."""

from __future__ import annotations

import enum
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import BaseModel, Field

from nestpy import Module
from nestpy.common import ExecutionContext, UseGuards
from nestpy.websockets import (
    Ack,
    ConnectedSocket,
    MessageBody,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsResponse,
)


class Colour(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Paint(BaseModel):
    """Paint a cell."""

    x: int = Field(ge=0, le=99)
    y: int = Field(ge=0, le=99)
    colour: Colour
    label: str = Field(default="", max_length=8)


@dataclass
class Point:
    x: int
    y: int


class Painted(BaseModel):
    cell: Point
    colour: Colour


class Tick(BaseModel):
    n: int


class Question(BaseModel):
    text: str = Field(min_length=1)


class Answer(BaseModel):
    ok: bool


class BoardEvents(Protocol):
    """What the board emits."""

    async def painted(self, event: Painted, /) -> None:
        """A cell changed colour."""

    async def tick(self, tick: Tick, /) -> None:
        """One step of a countdown."""

    async def moved(self, sid: str, to: Point, /) -> None:
        """Someone moved (two arguments)."""

    async def confirm(self, question: Question, /) -> Answer:
        """The server asks; the client acknowledges with an Answer."""


class TokenGuard:
    """Handshake guard: ``?token=`` in the query."""

    security_scheme: ClassVar[dict[str, Any]] = {
        "type": "httpApiKey", "name": "token", "in": "query",
        "description": "an access token in the handshake's query string",
    }

    def can_activate(self, context: ExecutionContext) -> bool:
        return True


@UseGuards(TokenGuard)
@WebSocketGateway(namespace="board")
class BoardGateway:
    """A shared board of cells."""

    server: Server[BoardEvents] = WebSocketServer()

    @SubscribeMessage("paint")
    async def paint(
        self, body: Annotated[Paint, MessageBody()],
        client: Annotated[Socket[BoardEvents], ConnectedSocket()],
    ) -> Painted:
        """Paint one cell; everyone receives ``painted``."""
        painted = Painted(cell=Point(body.x, body.y), colour=body.colour)
        await self.server.emit(BoardEvents.painted, painted)
        return painted

    @SubscribeMessage("move")
    def move(
        self, x: Annotated[int, MessageBody("x")], y: Annotated[int, MessageBody("y")]
    ) -> None:
        """Keyed picks: the body is {x, y}."""

    @SubscribeMessage("countdown")
    async def countdown(self, n: Annotated[int, MessageBody()]) -> AsyncIterator[WsResponse[Tick]]:
        for i in range(n, 0, -1):
            yield WsResponse("tick", Tick(n=i))

    @SubscribeMessage("peek")
    def peek(self, point: Annotated[Point, MessageBody()]) -> WsResponse[Painted]:
        return WsResponse("painted", Painted(cell=point, colour=Colour.RED))

    @SubscribeMessage("manual")
    async def manual(
        self, text: Annotated[str, MessageBody()], ack: Annotated[Callable[[list[str]], Any], Ack()]
    ) -> None:
        await ack([text])

    @SubscribeMessage("untyped")
    def untyped(self, client: Any, data: Any):  # type: ignore[no-untyped-def]
        return data


@WebSocketGateway(namespace=re.compile(r"^/team-\w+$"))
class TeamGateway:
    @SubscribeMessage("hello")
    def hello(self, name: Annotated[str, MessageBody()]) -> str:
        return f"hello {name}"


class WsAdapter:
    """Stands for the plain-WebSocket adapter: the contract reads only its name."""


@WebSocketGateway(path="/events", adapter=WsAdapter)
class PlainGateway:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[dict[str, int], MessageBody()]) -> dict[str, int]:
        return data


@Module(providers=[BoardGateway, TeamGateway, PlainGateway])
class SampleModule:
    """Contract test application."""
