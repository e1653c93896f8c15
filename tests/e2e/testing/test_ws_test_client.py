"""``WsTestClient`` (``nestpy.testing``'s client for plain WebSocket gateways): what it says
when it is misused, when nothing arrives, and when the server closes first."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from nestpy import Module, NestFactory
from nestpy.testing.ws_client import WsTestClient
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    SubscribeMessage,
    WebSocketGateway,
    WsAdapter,
    WsClient,
)

pytestmark = pytest.mark.e2e


@WebSocketGateway(path="/plain", adapter=WsAdapter)
class PlainGateway:
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data

    @SubscribeMessage("bytes")
    async def send_bytes(self, client: Annotated[WsClient, ConnectedSocket()]) -> None:
        await client.send_raw(b"\x00\x01")

    @SubscribeMessage("bye")
    async def bye(self, client: Annotated[WsClient, ConnectedSocket()]) -> None:
        await client.close(4000, "bye")


@Module(providers=[PlainGateway])
class PlainModule: ...


@pytest.fixture
async def app() -> Any:
    application = await NestFactory.create(PlainModule)
    await application.listen(0, "127.0.0.1", ephemeral_gateways=True)
    yield application
    await application.close()


async def test_a_client_for_an_app_that_is_not_listening_yet() -> None:
    idle = await NestFactory.create(PlainModule)
    try:
        with pytest.raises(RuntimeError, match=r"call listen\(\) first"):
            WsTestClient.for_app(idle, "/plain")
    finally:
        await idle.close()


async def test_an_unserved_path_and_a_client_used_before_it_connects(app: Any) -> None:
    with pytest.raises(ValueError, match="no plain WebSocket gateway serves path '/nowhere'"):
        WsTestClient.for_app(app, "nowhere/")
    client = WsTestClient.for_app(app, "/plain")
    with pytest.raises(RuntimeError, match="not connected; use `async with` or await connect"):
        await client.send("echo", 1)


async def test_binary_frames_are_received_as_bytes(app: Any) -> None:
    async with WsTestClient.for_app(app, "/plain") as client:
        await client.send("bytes")
        assert await client.receive() == b"\x00\x01"


async def test_nothing_arriving_in_time_names_what_was_awaited(app: Any) -> None:
    async with WsTestClient.for_app(app, "/plain") as client:
        with pytest.raises(TimeoutError, match="no event 'never' within the timeout"):
            await client.receive("never", timeout=0.05)
        assert await client.call("echo", "still open") == "still open"


async def test_waiting_on_a_connection_the_server_closed_fails_at_once(app: Any) -> None:
    async with WsTestClient.for_app(app, "/plain", timeout=30) as client:
        await client.send("bye")
        assert await client.wait_closed() == 4000
        with pytest.raises(ConnectionError, match=r"connection closed \(code 4000\) before any"):
            await client.receive()
