"""Rooms and broadcasting (docs/rooms.md)."""

from __future__ import annotations

from typing import Annotated, Any

from nestpy import Module
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

Client = Annotated[Socket, ConnectedSocket()]
Room = Annotated[str, MessageBody("room")]


@WebSocketGateway(namespace="game")
class GameGateway(OnGatewayConnection):
    server: Server = WebSocketServer()

    def handle_connection(self, client: Socket, *args: Any) -> None:
        client.data["name"] = client.handshake.auth.get("name", client.id)

    # --8<-- [start:rooms]
    @SubscribeMessage("join")
    async def join(self, room: Room, client: Client) -> list[str]:
        await client.join(room)
        # everyone in the room but the newcomer
        await client.to(room).emit("joined", client.data["name"])
        return sorted(client.rooms - {client.id})  # a socket is always in a room named by its id

    @SubscribeMessage("leave")
    async def leave(self, room: Room, client: Client) -> None:
        await client.leave(room)
    # --8<-- [end:rooms]

    # --8<-- [start:emit]
    @SubscribeMessage("shout")
    async def shout(self, text: Annotated[str, MessageBody("text")], client: Client) -> None:
        await client.broadcast.emit("shout", text)  # the whole namespace but the sender

    @SubscribeMessage("announce")
    async def announce(self, text: Annotated[str, MessageBody("text")]) -> None:
        await self.server.emit("announce", text)  # the whole namespace, the sender included

    @SubscribeMessage("say")
    async def say(self, room: Room, text: Annotated[str, MessageBody("text")]) -> None:
        await self.server.to(room).emit("said", text)  # the room, the sender included

    @SubscribeMessage("spectators")
    async def spectators(self, text: Annotated[str, MessageBody("text")]) -> None:
        # rooms combine: everyone in "lobby" or "hall" who is not in "players"
        await self.server.to(["lobby", "hall"]).except_("players").emit("spectators", text)
    # --8<-- [end:emit]

    # --8<-- [start:sockets]
    @SubscribeMessage("who")
    async def who(self, room: Room) -> list[str]:
        sockets = await self.server.in_(room).fetch_sockets()  # every node, with an adapter
        return sorted(s.data["name"] for s in sockets)

    @SubscribeMessage("start")
    async def start(self, room: Room) -> None:
        # move the whole room into "players", then tell them
        await self.server.in_(room).sockets_join("players")
        await self.server.to("players").emit("started", room)

    @SubscribeMessage("close")
    async def close(self, room: Room) -> None:
        await self.server.in_(room).disconnect_sockets()
    # --8<-- [end:sockets]


@Module(providers=[GameGateway])
class AppModule: ...
