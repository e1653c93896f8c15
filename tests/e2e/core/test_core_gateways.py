"""Gateway placement: shared servers, own ports, regex namespaces, options (DESIGN.md)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated, Any

import aiohttp
import pytest
import socketio
from core_client import Client, Connect, Start

from nestpy import BootstrapError, Module, NestFactory
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    OnGatewayDisconnect,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)

pytestmark = pytest.mark.e2e


@WebSocketGateway(namespace="alpha")
class AlphaGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("which")
    def which(self) -> str:
        return "alpha"


@WebSocketGateway(namespace="/beta")
class BetaGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("which")
    def which(self) -> str:
        return "beta"


@WebSocketGateway(4010, namespace="gamma")
class GammaGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("which")
    def which(self) -> str:
        return "gamma"


@WebSocketGateway(4010, namespace="delta")
class DeltaGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("which")
    def which(self) -> str:
        return "delta"


@Module(providers=[AlphaGateway, BetaGateway, GammaGateway, DeltaGateway])
class PlacementModule: ...


async def connect_error(url: str, namespace: str, **kw: Any) -> Any:
    """Connect expecting a refusal; return the ``connect_error`` payload."""
    client = Client(namespace)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, **kw)
    await client.close()
    return client.connect_errors.get_nowait()


async def test_gateways_on_one_port_share_one_server(start: Start, connect: Connect) -> None:
    app = await start(PlacementModule)
    alpha, beta = app.get(AlphaGateway), app.get(BetaGateway)
    assert alpha.server.raw is beta.server.raw
    assert (alpha.server.namespace, beta.server.namespace) == ("/alpha", "/beta")
    # port None: they are served on the application's own port.
    assert app.url_for("/alpha") == app.url_for("/beta") == app.url_for(None)
    a = await connect(app, "/alpha")
    b = await connect(app, "/beta", ["polling"])
    assert await a.call("which") == "alpha"
    assert await b.call("which") == "beta"


async def test_one_connection_multiplexes_both_namespaces(start: Start) -> None:
    app = await start(PlacementModule)
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(app.url_for(None), namespaces=["/alpha", "/beta"], transports=["websocket"])
    try:
        assert await sio.call("which", namespace="/alpha", timeout=1) == "alpha"
        assert await sio.call("which", namespace="/beta", timeout=1) == "beta"
    finally:
        await sio.disconnect()


async def test_a_gateway_on_another_port_gets_its_own_site(
    start: Start, connect: Connect
) -> None:
    app = await start(PlacementModule)
    gamma, delta, alpha = app.get(GammaGateway), app.get(DeltaGateway), app.get(AlphaGateway)
    assert gamma.server.raw is delta.server.raw  # same declared port: shared
    assert gamma.server.raw is not alpha.server.raw
    assert app.url_for("/gamma") == app.url_for(GammaGateway) == app.url_for(4010)
    assert app.url_for("/gamma") != app.url_for(None)
    assert set(app.ports) == {None, 4010}
    g = await connect(app, "/gamma")
    d = await connect(app, "/delta", ["polling"])
    assert await g.call("which") == "gamma"
    assert await d.call("which") == "delta"
    # Each site serves only its own gateways' namespaces.
    assert await connect_error(app.url_for(None), "/gamma") == {"message": "Invalid namespace"}
    assert await connect_error(app.url_for(4010), "/alpha") == {"message": "Invalid namespace"}


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_unknown_namespace_is_refused(start: Start, transport: str) -> None:
    app = await start(PlacementModule)
    err = await connect_error(app.url_for(None), "/nope", transports=[transport])
    assert err == {"message": "Invalid namespace"}


ROOM_NS = re.compile(r"^/room-\w+$")


@WebSocketGateway(namespace=ROOM_NS)
class RoomsGateway:
    server: Server = WebSocketServer()

    @SubscribeMessage("where")
    def where(self, client: Annotated[Socket, ConnectedSocket()]) -> str:
        return client.namespace

    @SubscribeMessage("shout")
    async def shout(self, text: Annotated[str, MessageBody()]) -> None:
        await self.server.emit("heard", text)

    @SubscribeMessage("count")
    async def count(self) -> list[str]:
        return sorted(s.namespace for s in await self.server.fetch_sockets())


@Module(providers=[RoomsGateway])
class RoomsModule: ...


async def test_regex_namespace_serves_every_matching_namespace(
    start: Start, connect: Connect
) -> None:
    app = await start(RoomsModule)
    assert app.url_for("/room-a") == app.url_for(None)
    one = await connect(app, "/room-one")
    two = await connect(app, "/room-two", ["polling"])
    assert await one.call("where") == "/room-one"
    assert await two.call("where") == "/room-two"
    assert await one.call("count") == ["/room-one", "/room-two"]
    # The gateway's Server addresses every active matching namespace.
    await two.emit("shout", "hello rooms")
    assert await one.receive("heard") == "hello rooms"
    assert await two.receive("heard") == "hello rooms"
    # fullmatch: a namespace the regex does not match is refused.
    assert await connect_error(app.url_for(None), "/room-") == {"message": "Invalid namespace"}
    assert await connect_error(app.url_for(None), "/lobby") == {"message": "Invalid namespace"}


async def test_regex_server_of_narrows_to_one_namespace(start: Start, connect: Connect) -> None:
    app = await start(RoomsModule)
    one = await connect(app, "/room-one")
    two = await connect(app, "/room-two")
    await app.get(RoomsGateway).server.of("room-two").emit("heard", "only two")
    assert await two.receive("heard") == "only two"
    assert await one.nothing("heard")


# ------------------------------------------------------------------------ options


def gateway_module(**options: Any) -> type:
    @WebSocketGateway(namespace="opts", **options)
    class OptsGateway:
        server: Server = WebSocketServer()

    @Module(providers=[OptsGateway])
    class OptsModule:
        gateway = OptsGateway

    return OptsModule


async def test_camel_case_option_is_a_bootstrap_error_with_a_hint() -> None:
    with pytest.raises(BootstrapError, match="did you mean 'ping_interval'") as info:
        await NestFactory.create(gateway_module(pingInterval=5))
    assert "OptsGateway" in str(info.value) and "'pingInterval'" in str(info.value)


async def test_misspelt_option_suggests_the_close_name() -> None:
    with pytest.raises(BootstrapError, match="did you mean 'max_http_buffer_size'"):
        await NestFactory.create(gateway_module(max_http_bufer_size=10))


async def test_unknown_option_is_a_bootstrap_error() -> None:
    with pytest.raises(BootstrapError, match="unknown @WebSocketGateway option 'frobnicate'"):
        await NestFactory.create(gateway_module(frobnicate=True))


async def test_reserved_option_is_refused() -> None:
    with pytest.raises(BootstrapError, match="'async_mode' is set by nestpy"):
        await NestFactory.create(gateway_module(async_mode="threading"))
    with pytest.raises(BootstrapError, match=r"use cors=\.\.\. instead"):
        await NestFactory.create(gateway_module(cors_allowed_origins="*"))


async def test_known_options_reach_python_engineio(start: Start) -> None:
    module: Any = gateway_module(ping_interval=7, ping_timeout=3, max_http_buffer_size=4096)
    app = await start(module)
    eio = app.get(module.gateway).server.raw.eio
    assert (eio.ping_interval, eio.ping_timeout, eio.max_http_buffer_size) == (7, 3, 4096)


async def test_gateways_sharing_a_server_must_agree_on_options() -> None:
    @WebSocketGateway(namespace="one", ping_interval=5)
    class One: ...

    @WebSocketGateway(namespace="two", ping_interval=6)
    class Two: ...

    @Module(providers=[One, Two])
    class Both: ...

    # Raised by create() itself, before any port is opened (DESIGN.md "Core").
    with pytest.raises(BootstrapError, match=r"share one Socket\.IO server"):
        await NestFactory.create(Both)

    @WebSocketGateway(namespace="three")
    class Three: ...

    @Module(providers=[Three, One])
    class Partial: ...

    with pytest.raises(BootstrapError, match="declare them on the first gateway too"):
        await NestFactory.create(Partial)


async def _polling_handshake(url: str, origin: str | None) -> aiohttp.ClientResponse:
    """An Engine.IO polling handshake with an *origin*; the session is closed again."""
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{url}/socket.io/?EIO=4&transport=polling", headers=headers)
        body = await resp.text()
        if resp.status == 200:
            sid = json.loads(body[1:])["sid"]  # "0{...}": the OPEN packet
            await http.post(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}", data="1")
        return resp


async def test_cors_is_closed_by_default(start: Start) -> None:
    app = await start(gateway_module())
    url = app.url_for(None)
    assert (await _polling_handshake(url, None)).status == 200
    refused = await _polling_handshake(url, "http://elsewhere.example")
    assert refused.status == 400
    assert "Access-Control-Allow-Origin" not in refused.headers


async def test_cors_option_opens_it(start: Start) -> None:
    app = await start(gateway_module(cors={"origin": ["http://app.example"], "credentials": True}))
    resp = await _polling_handshake(app.url_for(None), "http://app.example")
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert (await _polling_handshake(app.url_for(None), "http://other.example")).status == 400


async def test_transports_option_restricts_transports(start: Start, connect: Connect) -> None:
    app = await start(gateway_module(transports=["websocket"]))
    assert (await connect(app, "/opts", ["websocket"])).sid is not None
    refused = Client("/opts")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(app.url_for(None), ["polling"])
    await refused.close()


async def test_custom_engine_io_path(start: Start) -> None:
    @WebSocketGateway(namespace="pathy", path="/realtime")
    class PathGateway:
        @SubscribeMessage("ping")
        def ping(self) -> str:
            return "pong"

    @Module(providers=[PathGateway])
    class PathModule: ...

    app = await start(PathModule)
    client = await Client("/pathy").connect(app.url_for(None), socketio_path="/realtime")
    try:
        assert await client.call("ping") == "pong"
    finally:
        await client.close()
    nothing_there = Client("/pathy")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await nothing_there.connect(app.url_for(None))  # the default /socket.io path
    await nothing_there.close()


# ------------------------------------------------------------- one namespace, two gateways

shared_log: list[str] = []


@WebSocketGateway(namespace="shared")
class SharedOne(OnGatewayConnection, OnGatewayDisconnect):
    server: Server = WebSocketServer()

    def handle_connection(self, client: Socket, *args: Any) -> Any:
        shared_log.append("one.connect")
        return client.handshake.auth.get("refuse") != "one" or False

    def handle_disconnect(self, client: Socket) -> None:
        shared_log.append("one.disconnect")

    @SubscribeMessage("one")
    def one(self) -> str:
        return "one"


@WebSocketGateway(namespace="shared")
class SharedTwo(OnGatewayConnection, OnGatewayDisconnect):
    server: Server = WebSocketServer()

    def handle_connection(self, client: Socket, *args: Any) -> None:
        shared_log.append("two.connect")

    def handle_disconnect(self, client: Socket) -> None:
        shared_log.append("two.disconnect")

    @SubscribeMessage("two")
    def two(self) -> str:
        return "two"


@Module(providers=[SharedOne, SharedTwo])
class SharedModule: ...


async def test_two_gateways_on_one_namespace_both_serve_it(
    start: Start, connect: Connect
) -> None:
    """As in NestJS: every gateway declaring the namespace serves it (handlers and hooks)."""
    shared_log.clear()
    app = await start(SharedModule)
    c = await connect(app, "/shared")
    assert (await c.call("one"), await c.call("two")) == ("one", "two")
    assert shared_log == ["one.connect", "two.connect"]
    await c.close()
    for _ in range(100):
        if len(shared_log) == 4:
            break
        await asyncio.sleep(0.01)
    assert shared_log[2:] == ["one.disconnect", "two.disconnect"]
    # The first refusal wins; the later gateway's hook is not asked.
    shared_log.clear()
    assert await connect_error(app.url_for(None), "/shared", auth={"refuse": "one"}) == {
        "message": "Connection rejected by server"
    }
    assert shared_log == ["one.connect"]


async def test_two_gateways_handling_one_event_on_one_namespace_is_an_error() -> None:
    @WebSocketGateway(namespace="shared")
    class Clash:
        @SubscribeMessage("one")
        def one(self) -> str:
            return "clash"

    @Module(providers=[SharedOne, Clash])
    class ClashModule: ...

    with pytest.raises(BootstrapError, match=r"handles 'one' on namespace '/shared', which "):
        await NestFactory.create(ClashModule)
