"""Part 2 of the seed walkthrough: rooms.

Clients ``join`` a room, ``leave`` it, and ``message`` a room; a message reaches only the
sockets in that room. Run with ``python examples/rooms/app.py`` (port 3000, ``/rooms``).

What the server emits is declared once, in ``RoomEvents``: mypy checks every
``emit(RoomEvents.…, payload)`` against it, and ``nestpy asyncapi`` / ``nestpy client``
publish it (see docs/contracts.md).
"""

from __future__ import annotations

from typing import Annotated, Protocol, TypedDict

from pydantic import BaseModel, Field

from nestpy import Injectable, Logger, Module, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayDisconnect,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsException,
)


class JoinRoom(BaseModel):
    """Payload of ``join`` / ``leave``."""

    room: str = Field(min_length=1, max_length=64)


class RoomMessage(BaseModel):
    """Payload of ``message``."""

    room: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=2000)


class Membership(TypedDict):
    """Reply to ``join`` / ``leave``: the room and how many sockets are in it now."""

    room: str
    members: int


class Joined(TypedDict):
    """Someone joined a room you are in."""

    room: str
    sid: str


#: A message posted to a room ("from" is the sender's socket id).
RoomText = TypedDict("RoomText", {"room": str, "from": str, "text": str})


class RoomEvents(Protocol):
    """What the rooms gateway emits to its clients."""

    async def joined(self, event: Joined, /) -> None:
        """Another socket joined a room this one is in."""

    async def message(self, message: RoomText, /) -> None:
        """A message posted to a room this socket is in."""


@Injectable()
class RoomRegistry:
    """Counts members per room (a service injected into the gateway)."""

    def __init__(self) -> None:
        self.members: dict[str, set[str]] = {}

    def add(self, room: str, sid: str) -> int:
        self.members.setdefault(room, set()).add(sid)
        return len(self.members[room])

    def remove(self, room: str, sid: str) -> int:
        members = self.members.get(room, set())
        members.discard(sid)
        if not members:
            self.members.pop(room, None)
        return len(members)

    def forget(self, sid: str) -> None:
        for room in list(self.members):
            self.remove(room, sid)


@WebSocketGateway(3000, namespace="rooms")
class RoomsGateway(OnGatewayDisconnect):
    """Rooms: join, leave, and message everyone in a room."""

    server: Server[RoomEvents] = WebSocketServer()
    logger = Logger("RoomsGateway")

    def __init__(self, registry: RoomRegistry) -> None:
        self.registry = registry

    def handle_disconnect(self, client: Socket) -> None:
        self.registry.forget(client.id)

    @SubscribeMessage("join")
    async def join(
        self,
        body: Annotated[JoinRoom, MessageBody()],
        client: Annotated[Socket[RoomEvents], ConnectedSocket()],
    ) -> Membership:
        """Join a room; the others in it are told (``joined``)."""
        await client.join(body.room)
        size = self.registry.add(body.room, client.id)
        await client.to(body.room).emit(RoomEvents.joined, {"room": body.room, "sid": client.id})
        self.logger.info("joined", room=body.room, size=size)
        return {"room": body.room, "members": size}

    @SubscribeMessage("leave")
    async def leave(
        self, body: Annotated[JoinRoom, MessageBody()], client: Annotated[Socket, ConnectedSocket()]
    ) -> Membership:
        """Leave a room."""
        await client.leave(body.room)
        return {"room": body.room, "members": self.registry.remove(body.room, client.id)}

    @SubscribeMessage("message")
    async def message(
        self, body: Annotated[RoomMessage, MessageBody()],
        client: Annotated[Socket, ConnectedSocket()],
    ) -> None:
        """Post a message to a room you joined (everyone in it receives ``message``)."""
        if body.room not in client.rooms:
            raise WsException(f"join {body.room!r} before messaging it")
        await self.server.to(body.room).emit(
            RoomEvents.message, {"room": body.room, "from": client.id, "text": body.text}
        )


@Module(providers=[RoomRegistry, RoomsGateway])
class AppModule: ...


if __name__ == "__main__":
    NestFactory.run(AppModule)
