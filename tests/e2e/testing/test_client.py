"""SocketClient against a real server: emit, call, receive, received, refusals, several clients."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Annotated, Any

import pytest

from nestpy import Module
from nestpy.testing import ConnectionRefused, SocketClient, Test
from nestpy.websockets import (
    Ack,
    ConnectedSocket,
    MessageBody,
    OnGatewayConnection,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
    WsException,
)

pytestmark = pytest.mark.e2e


@WebSocketGateway(namespace="echo")
class EchoGateway(OnGatewayConnection):
    server: Server = WebSocketServer()

    async def handle_connection(self, client: Socket, *args: Any) -> None:
        # Emitted right after the connection: the client must not miss it.
        await client.emit("welcome", {"id": client.id})

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("pair")
    def pair(self, data: Annotated[Any, MessageBody()]) -> tuple[str, int]:
        return ("pair", 2)

    @SubscribeMessage("ticks")
    async def ticks(
        self, count: Annotated[int, MessageBody()], client: Annotated[Socket, ConnectedSocket()]
    ) -> None:
        for i in range(count):
            await client.emit("tick", i)

    @SubscribeMessage("shout")
    async def shout(self, text: Annotated[str, MessageBody()]) -> None:
        await self.server.emit("shout", text.upper())

    @SubscribeMessage("silent")
    def silent(self, ack: Annotated[Any, Ack()]) -> None:
        """Takes the ack and never calls it: the client's call() times out."""

    @SubscribeMessage("kick")
    async def kick(self, client: Annotated[Socket, ConnectedSocket()]) -> None:
        await client.disconnect()


@WebSocketGateway(namespace="secure")
class SecureGateway(OnGatewayConnection):
    def handle_connection(self, client: Socket, *args: Any) -> None:
        if client.handshake.auth.get("token") != "s3cret":
            raise WsException("invalid token")

    @SubscribeMessage("whoami")
    def whoami(self, client: Annotated[Socket, ConnectedSocket()]) -> dict[str, Any]:
        hs = client.handshake
        return {
            "auth": hs.auth,
            "header": hs.headers.get("x-tenant"),
            "query": hs.query.get("lang"),
        }


@Module(providers=[EchoGateway, SecureGateway])
class ClientTestModule: ...


@pytest.fixture
async def app() -> Any:
    module = await Test.create_testing_module(imports=[ClientTestModule]).compile()
    async with module.create_nest_application() as application:
        yield application


async def test_receive_gets_what_the_server_sent_during_the_connection(app: Any) -> None:
    async with app.test_client("/echo") as client:
        assert client.connected
        assert await client.receive("welcome", timeout=2) == {"id": client.id}


async def test_receive_returns_each_payload_once_in_order(app: Any) -> None:
    async with app.test_client("echo") as client:  # "echo" means "/echo"
        assert client.namespace == "/echo"
        await client.emit("ticks", 3)
        assert [await client.receive("tick", timeout=2) for _ in range(3)] == [0, 1, 2]
        assert client.received("tick") == [0, 1, 2]  # all so far, consumed or not
        with pytest.raises(TimeoutError):
            await client.receive("tick", timeout=0.2)


async def test_receive_timeout_names_the_event_and_lists_what_arrived(app: Any) -> None:
    async with app.test_client("/echo") as client:
        await client.emit("ticks", 2)
        await client.receive("tick", timeout=2)
        await client.receive("tick", timeout=2)
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            await client.receive("never", timeout=0.3)
        assert 0.25 <= time.monotonic() - started < 1.5
    message = str(info.value)
    assert "'never'" in message and "/echo" in message and "0.3 s" in message
    assert "received so far: 'welcome', 'tick' x2" in message


async def test_received_is_empty_for_an_event_never_sent(app: Any) -> None:
    async with app.test_client("/echo") as client:
        assert client.received("nothing") == []
        assert await client.call("echo", "sync point") == "sync point"
        assert client.events == ["welcome"]


async def test_call_returns_the_ack_payload(app: Any) -> None:
    async with app.test_client("/echo") as client:
        assert await client.call("echo", {"a": [1, 2]}, timeout=2) == {"a": [1, 2]}
        assert await client.call("pair", None) == ("pair", 2)  # several ack args → a tuple
        # Several arguments reach the handler as one list body (NestJS's rule).
        assert await client.call("echo", "a", "b") == ["a", "b"]
        # One tuple argument travels as one JSON list, not as several arguments.
        assert await client.call("echo", ("x", "y")) == ["x", "y"]


async def test_call_timeout_names_the_event(app: Any) -> None:
    async with app.test_client("/echo") as client:
        # The handler takes the manual ack and never calls it, so the ack never comes.
        with pytest.raises(TimeoutError, match=r"no acknowledgement of 'silent' on /echo"):
            await client.call("silent", 1, timeout=0.3)


async def test_several_clients_at_once(app: Any) -> None:
    clients = [app.test_client("/echo") for _ in range(3)]
    for client in clients:
        await client.connect()
    try:
        assert len({client.id for client in clients}) == 3
        await clients[0].emit("shout", "hi all")
        for client in clients:
            assert await client.receive("shout", timeout=2) == "HI ALL"
        replies = await asyncio.gather(*(c.call("echo", i) for i, c in enumerate(clients)))
        assert replies == [0, 1, 2]
    finally:
        for client in clients:
            await client.disconnect()
    assert not any(client.connected for client in clients)


async def test_auth_headers_and_query_reach_the_handshake(app: Any) -> None:
    async with app.test_client(
        "/secure",
        auth={"token": "s3cret"},
        headers={"X-Tenant": "acme"},
        query={"lang": "fr"},
    ) as client:
        assert await client.call("whoami") == {
            "auth": {"token": "s3cret"},
            "header": "acme",
            "query": "fr",
        }


async def test_refused_connection_raises_with_the_server_message(app: Any) -> None:
    with pytest.raises(ConnectionRefused) as info:
        async with app.test_client("/secure", auth={"token": "wrong"}):
            pass
    assert info.value.message == "invalid token"
    assert info.value.namespace == "/secure"
    assert isinstance(info.value, ConnectionError)
    assert "refused the connection to /secure: invalid token" in str(info.value)


async def test_unserved_namespace_is_refused(app: Any) -> None:
    with pytest.raises(ConnectionRefused, match="/nobody"):
        async with SocketClient(app.url_for("/echo"), "/nobody"):
            pass


async def test_nothing_listening_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        client = SocketClient(f"http://127.0.0.1:{port}", "/echo", timeout=1)
        with pytest.raises(ConnectionError, match=f"cannot connect to http://127.0.0.1:{port}"):
            await client.connect()
    assert not client.connected


async def test_server_side_disconnect_ends_receive_early(app: Any) -> None:
    async with app.test_client("/echo") as client:
        await client.emit("kick")
        started = time.monotonic()
        with pytest.raises(ConnectionError, match="disconnected from /echo"):
            await client.receive("never", timeout=3)
        assert time.monotonic() - started < 2
        assert not client.connected
        assert client.id is None


async def test_emit_after_disconnect_is_a_clear_error(app: Any) -> None:
    client = app.test_client("/echo")
    async with client:
        pass
    with pytest.raises(ConnectionError, match=r"cannot emit 'echo'.*not connected to /echo"):
        await client.emit("echo", 1)
    await client.disconnect()  # idempotent


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_transports(app: Any, transport: str) -> None:
    async with app.test_client("/echo", transports=[transport]) as client:
        assert await client.call("echo", transport) == transport
        await client.emit("ticks", 2)
        assert await client.receive("tick", timeout=2) == 0
