"""The per-socket event rate limit (``rate_limit`` gateway option) over real clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import socketio
from reliability_support import WAIT, eventually

from nestpy import Module, NestApplication, NestFactory
from nestpy.exceptions import BootstrapError
from nestpy.websockets import Socket, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e

EXCEEDED = {"status": "error", "message": "Rate limit exceeded"}
PATHS = {"/strict": "/strict.io", "/free": "/free.io"}


@WebSocketGateway(namespace="limited", rate_limit={"rate": 5, "burst": 10})
class LimitedGateway:
    handled = 0

    @SubscribeMessage("hit")
    def hit(self, client: Socket, data: Any) -> Any:
        LimitedGateway.handled += 1
        return data


# rate_limit is a server option: gateways on one port and path share it (hence the paths).
@WebSocketGateway(
    namespace="strict", path="/strict.io",
    rate_limit={"rate": 1, "burst": 3, "on_exceed": "disconnect"},
)
class StrictGateway:
    @SubscribeMessage("hit")
    def hit(self, client: Socket, data: Any) -> Any:
        return data


@WebSocketGateway(namespace="free", path="/free.io")
class FreeGateway:
    @SubscribeMessage("hit")
    def hit(self, client: Socket, data: Any) -> Any:
        return data


@Module(providers=[LimitedGateway, StrictGateway, FreeGateway])
class LimitModule:
    pass


@pytest.fixture
async def app() -> AsyncIterator[NestApplication]:
    application = await NestFactory.create(LimitModule)
    await application.listen(0, "127.0.0.1")
    yield application
    await application.close()


Connect = Callable[[str], Awaitable[socketio.AsyncClient]]


@pytest.fixture
async def connect(app: NestApplication) -> AsyncIterator[Connect]:
    made: list[socketio.AsyncClient] = []

    async def _connect(namespace: str) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        made.append(client)
        await client.connect(
            app.url_for(namespace), namespaces=[namespace], transports=["websocket"],
            wait_timeout=WAIT, socketio_path=PATHS.get(namespace, "/socket.io"),
        )
        return client

    yield _connect
    for client in made:
        if client.connected:
            await client.disconnect()


async def test_a_burst_past_the_limit_gets_error_acks_and_no_handler_runs(
    connect: Connect,
) -> None:
    client = await connect("/limited")
    LimitedGateway.handled = 0
    # 30 acked events at once: the burst (10) passes, the rest are answered with the error.
    answers = await asyncio.gather(
        *(client.call("hit", i, namespace="/limited", timeout=WAIT) for i in range(30))
    )
    ok = [a for a in answers if a != EXCEEDED]
    assert 10 <= len(ok) <= 12  # the burst, plus what refilled at 5/s meanwhile
    assert answers.count(EXCEEDED) == 30 - len(ok)
    assert LimitedGateway.handled == len(ok)
    # Tokens come back at the rate: after 0.5 s about 2 more events pass.
    await asyncio.sleep(0.5)
    assert await client.call("hit", "again", namespace="/limited", timeout=WAIT) == "again"


async def test_unacked_excess_is_told_once_not_per_event(connect: Connect) -> None:
    client = await connect("/limited")
    exceptions: list[Any] = []
    client.on("exception", exceptions.append, namespace="/limited")
    for i in range(40):
        await client.emit("hit", i, namespace="/limited")
    # An acked event afterwards is answered (with the error): everything before it was read.
    assert await client.call("hit", "x", namespace="/limited", timeout=WAIT) == EXCEEDED
    await eventually(lambda: len(exceptions) >= 1)
    assert exceptions == [EXCEEDED]


async def test_each_socket_has_its_own_bucket(connect: Connect) -> None:
    noisy = await connect("/limited")
    quiet = await connect("/limited")
    await asyncio.gather(*(noisy.emit("hit", i, namespace="/limited") for i in range(50)))
    assert await noisy.call("hit", 1, namespace="/limited", timeout=WAIT) == EXCEEDED
    assert await quiet.call("hit", 2, namespace="/limited", timeout=WAIT) == 2


async def test_disconnect_mode_answers_the_ack_then_disconnects(connect: Connect) -> None:
    client = await connect("/strict")
    reasons: list[Any] = []
    client.on("disconnect", lambda *a: reasons.append(a), namespace="/strict")
    answers = [await client.call("hit", i, namespace="/strict", timeout=WAIT) for i in range(4)]
    assert answers == [0, 1, 2, EXCEEDED]
    await eventually(lambda: bool(reasons))
    assert reasons[0] == (client.reason.SERVER_DISCONNECT,)


async def test_gateways_without_the_option_are_not_limited(connect: Connect) -> None:
    client = await connect("/free")
    answers = await asyncio.gather(
        *(client.call("hit", i, namespace="/free", timeout=WAIT) for i in range(200))
    )
    assert answers == list(range(200))


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ({"rate": 0}, "'rate' (events per second) must be a number > 0"),
        ({"rate": 5, "burst": 0}, "'burst' (events at once) must be a number >= 1"),
        ({"rate": 5, "on_exceed": "kick"}, "'on_exceed' must be 'error' or 'disconnect'"),
        ({"rate": 5, "per": "s"}, "unknown key(s) ['per']"),
        (50, "must be a dict like"),
    ],
)
async def test_a_malformed_option_is_a_bootstrap_error(option: Any, needle: str) -> None:
    @WebSocketGateway(namespace="bad", rate_limit=option)
    class BadGateway:
        @SubscribeMessage("hit")
        def hit(self, client: Socket, data: Any) -> Any:
            return data

    @Module(providers=[BadGateway])
    class BadModule:
        pass

    with pytest.raises(BootstrapError) as info:
        await NestFactory.create(BadModule)
    assert "[gateway=" in str(info.value) and "BadGateway" in str(info.value)
    assert needle in str(info.value)


async def test_buckets_of_departed_sockets_do_not_accumulate(
    app: NestApplication, connect: Connect
) -> None:
    registry = app._registry  # test-only peek at the server's limiter
    assert registry is not None
    server = next(s for s in registry.all_servers() if s._nest_limit is not None
                  and "/limited" in s._exact)
    limiter = server._nest_limit
    assert limiter is not None
    for i in range(150):
        client = await connect("/limited")
        assert await client.call("hit", i, namespace="/limited", timeout=WAIT) == i
        await client.disconnect()
    # Pruned as new sockets come: never more than twice the live sockets plus a slack of 64.
    assert len(limiter) <= 2 * len(server.nest_sockets) + 65
