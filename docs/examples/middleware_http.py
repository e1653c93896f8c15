"""Middleware, broadcast acks and HTTP beside the gateways (docs/middleware-and-http.md)."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web

from nestpy import Module, NestApplication
from nestpy.websockets import (
    AckTimeoutError,
    MessageBody,
    OnGatewayInit,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsException,
)

TOKENS = {"s3cret": "ada"}


# --8<-- [start:use]
@WebSocketGateway(namespace="chat")
class ChatGateway(OnGatewayInit):
    server: Server = WebSocketServer()

    def after_init(self, server: Server) -> None:
        async def authenticate(client: Socket) -> None:
            user = TOKENS.get(client.handshake.auth.get("token", ""))
            if user is None:
                raise WsException("invalid token")  # the client gets connect_error
            client.data["user"] = user

        server.use(authenticate)

    @SubscribeMessage("whoami")
    def whoami(self, client: Socket, data: Any) -> str:
        return str(client.data["user"])
# --8<-- [end:use]

    # --8<-- [start:acks]
    @SubscribeMessage("poll")
    async def poll(self, room: Annotated[str, MessageBody()]) -> dict[str, Any]:
        try:
            votes = await self.server.to(room).timeout(5).emit_with_ack("vote", "lunch?")
        except AckTimeoutError as exc:  # some clients did not answer in 5 s
            return {"complete": False, "votes": exc.responses}
        return {"complete": True, "votes": votes}
    # --8<-- [end:acks]

    @SubscribeMessage("join")
    async def join(self, client: Socket, room: Any) -> None:
        await client.join(str(room))


# --8<-- [start:http]
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@Module(providers=[ChatGateway])
class AppModule:
    def configure_app(self, app: NestApplication) -> None:
        """Runs before listen(), under NestFactory.run, `nestpy start` and tests alike."""
        app.http_app.router.add_get("/health", health)
# --8<-- [end:http]
