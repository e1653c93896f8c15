"""Gateways used by the plain-WebSocket tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import pydantic
from aiohttp import web

from nestpy import Injectable, Module
from nestpy.common import (
    ArgumentsHost,
    Catch,
    ExecutionContext,
    ParseIntPipe,
    Reflector,
    SetMetadata,
    UseFilters,
    UseGuards,
    UseInterceptors,
)
from nestpy.websockets import (
    Ack,
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    OnGatewayDisconnect,
    OnGatewayInit,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsAdapter,
    WsClient,
    WsException,
    WsResponse,
    WsServer,
)


class Join(pydantic.BaseModel):
    room: str = pydantic.Field(min_length=1)
    size: int = 1


@Injectable()
class Greeter:
    def greet(self, name: str) -> str:
        return f"hello {name}"


@WebSocketGateway(path="/events", adapter=WsAdapter)
class EventsGateway(OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect):
    server: WsServer = WebSocketServer()

    def __init__(self, greeter: Greeter) -> None:
        self.greeter = greeter
        self.initialised: WsServer | None = None
        self.connected: list[tuple[str, str]] = []
        self.disconnected: list[str] = []
        self.reasons: list[str | None] = []
        self.release = asyncio.Event()
        self.finished: list[str] = []

    def after_init(self, server: WsServer) -> None:
        self.initialised = server

    def handle_connection(self, client: WsClient, request: web.Request) -> None:
        client.data["name"] = client.handshake.query.get("name", "anon")
        self.connected.append((client.id, request.path))

    def handle_disconnect(self, client: WsClient, reason: str | None = None) -> None:
        self.disconnected.append(client.id)
        self.reasons.append(reason)

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("greet")
    async def greet(self, data: Annotated[str, MessageBody()]) -> str:
        return self.greeter.greet(data)

    @SubscribeMessage("nothing")
    def nothing(self, data: Annotated[Any, MessageBody()]) -> None:
        return None

    @SubscribeMessage("ping")
    def ping(self, data: Annotated[Any, MessageBody()]) -> WsResponse:
        return WsResponse("pong", data)

    @SubscribeMessage("count")
    async def count(self, data: Annotated[int, MessageBody()]) -> AsyncIterator[Any]:
        for i in range(data):
            yield i
        yield WsResponse("done", data)

    @SubscribeMessage("boom")
    def boom(self, data: Annotated[Any, MessageBody()]) -> None:
        raise ValueError("secret detail")

    @SubscribeMessage("refuse")
    def refuse(self, data: Annotated[Any, MessageBody()]) -> None:
        raise WsException("not allowed")

    @SubscribeMessage("join")
    async def join(self, body: Annotated[Join, MessageBody()],
                   client: Annotated[WsClient, ConnectedSocket()]) -> dict[str, Any]:
        await client.join(body.room)
        return {"joined": body.room, "size": body.size}

    @SubscribeMessage("shout")
    async def shout(self, body: Annotated[dict[str, Any], MessageBody()]) -> None:
        await self.server.to(body["room"]).broadcast("shouted", body["text"])

    @SubscribeMessage("all")
    async def all(self, body: Annotated[Any, MessageBody()]) -> None:
        await self.server.broadcast("everyone", body)

    @SubscribeMessage("whoami")
    def whoami(self, client: Annotated[WsClient, ConnectedSocket()]) -> dict[str, Any]:
        return {"id": client.id, "name": client.data["name"]}

    @SubscribeMessage("model")
    def model(self, body: Annotated[Join, MessageBody()]) -> Join:
        return Join(room=body.room.upper(), size=body.size * 2)

    @SubscribeMessage("number")
    def number(self, value: Annotated[int, MessageBody("n", ParseIntPipe)]) -> int:
        return value + 1

    @SubscribeMessage("wait")
    async def wait(self, body: Annotated[Any, MessageBody()]) -> str:
        await self.release.wait()
        self.finished.append(str(body))
        return "late"

    @SubscribeMessage("unencodable")
    def unencodable(self, body: Annotated[Any, MessageBody()]) -> Any:
        return object()

    @SubscribeMessage("manual")
    async def manual(self, data: Annotated[Any, MessageBody()],
                     ack: Annotated[Callable[..., Awaitable[None]], Ack()]) -> str:
        await ack({"manual": data})
        return "ignored: the handler acknowledged by hand"

    @SubscribeMessage("pair")
    def pair(self, data: Annotated[Any, MessageBody()]) -> tuple[Any, Any]:
        return data, data

    @SubscribeMessage("raw")
    async def raw(self, client: Annotated[WsClient, ConnectedSocket()]) -> None:
        await client.send_raw("plain text")
        await client.send_raw(b"\x01\x02")

    @SubscribeMessage("others")
    async def others(self, body: Annotated[Any, MessageBody()],
                     client: Annotated[WsClient, ConnectedSocket()]) -> None:
        await self.server.except_(client.id).broadcast("from-other", body)

    @SubscribeMessage("kick")
    async def kick(self, client: Annotated[WsClient, ConnectedSocket()]) -> None:
        await client.close(4000, "kicked")


@WebSocketGateway(path="/other", adapter=WsAdapter)
class OtherGateway:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return {"other": data}


@WebSocketGateway(4999, path="/own", adapter=WsAdapter)
class OwnPortGateway:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return {"own": data}


@WebSocketGateway(namespace="chat")
class ChatGateway:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return {"sio": data}

    @SubscribeMessage("whoami")
    def whoami(self, client: Annotated[Socket, ConnectedSocket()]) -> str:
        return client.namespace


@Module(providers=[Greeter, EventsGateway, OtherGateway, OwnPortGateway, ChatGateway])
class MixedModule:
    """Plain and Socket.IO gateways in one app."""


# ------------------------------------------------------------------------ pipeline



class TokenGuard:
    """Handshake and message guard: ``?token=`` must be ``good``; role metadata checked."""

    def __init__(self, reflector: Reflector) -> None:
        self.reflector = reflector

    def can_activate(self, context: ExecutionContext) -> bool:
        ws = context.switch_to_ws()
        client = ws.get_client()
        if not isinstance(client, WsClient):
            return False
        if context.get_handler() is not None:
            role = self.reflector.get("role", context.get_handler())
            if role == "admin" and client.handshake.query.get("admin") != "1":
                return False
        return client.handshake.query.get("token") == "good"


class Wrap:
    """Interceptor: wraps the result."""

    async def intercept(self, context: ExecutionContext, call_next: Any) -> Any:
        result = await call_next()
        return {"wrapped": result, "pattern": context.switch_to_ws().get_pattern()}


class Boom(Exception):
    pass


@Catch(Boom)
class BoomFilter:
    def catch(self, exception: Exception, host: ArgumentsHost) -> Any:
        return {"filtered": str(exception)}


@UseGuards(TokenGuard)
@WebSocketGateway(path="/secure", adapter=WsAdapter)
class SecureGateway:
    @SubscribeMessage("hi")
    @UseInterceptors(Wrap)
    def hi(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("admin")
    @SetMetadata("role", "admin")
    def admin(self, data: Annotated[Any, MessageBody()]) -> str:
        return "admin ok"

    @SubscribeMessage("fail")
    @UseFilters(BoomFilter)
    def fail(self, data: Annotated[Any, MessageBody()]) -> None:
        raise Boom("handled")


@Module(providers=[SecureGateway])
class SecureModule:
    """A guarded plain gateway."""


@WebSocketGateway(path="/mw", adapter=WsAdapter)
class UsesMiddleware(OnGatewayInit):
    def after_init(self, server: WsServer) -> None:
        async def only_named(client: WsClient) -> None:
            if "name" not in client.handshake.query:
                raise WsException("name required")

        server.use(only_named)

    @SubscribeMessage("hi")
    def hi(self, data: Annotated[Any, MessageBody()]) -> str:
        return "hi"


@Module(providers=[UsesMiddleware])
class MiddlewareModule:
    """Middleware refusing connections."""


# ------------------------------------------------------------------------ app-wide adapter

@WebSocketGateway(path="/")
class PlainByAppGateway:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data


@Module(providers=[PlainByAppGateway])
class AppWideModule:
    """No adapter= on the gateway: app.use_websocket_adapter(WsAdapter(app)) decides."""
