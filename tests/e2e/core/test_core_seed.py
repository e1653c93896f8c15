"""The seed program (examples/channels) and the gateway lifecycle hooks, over real sockets."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from core_client import WAIT, Connect, Start

from nestpy import Module
from nestpy.websockets import (
    OnGatewayConnection,
    OnGatewayDisconnect,
    OnGatewayInit,
    Server,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WebSocketServer,
)

pytestmark = pytest.mark.e2e

SEED = Path(__file__).resolve().parents[3] / "examples" / "channels" / "app.py"


def load_seed() -> ModuleType:
    """Import examples/channels/app.py under a private name (it is not a package)."""
    spec = importlib.util.spec_from_file_location("nestpy_seed_channels_app", SEED)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def seed() -> ModuleType:
    return load_seed()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_seed_replies_hello_client(
    seed: ModuleType, start: Start, connect: Connect, transport: str
) -> None:
    """ClientToServer → every client of /channels receives ServerToClient "Hello Client!"."""
    app = await start(seed.AppModule)
    a = await connect(app, "/channels", [transport])
    b = await connect(app, "/channels", [transport])
    await a.emit("ClientToServer", "Hello Server!")
    assert await a.receive("ServerToClient") == "Hello Client!"
    # The seed broadcasts with server.emit: the other client hears it too.
    assert await b.receive("ServerToClient") == "Hello Client!"


async def test_seed_gateway_is_on_its_declared_port_not_the_apps(
    seed: ModuleType, start: Start
) -> None:
    """@WebSocketGateway(3000) gets its own site; url_for maps namespace and class to it."""
    app = await start(seed.AppModule)
    url = app.url_for("/channels")
    assert url == app.url_for(seed.ChannelsGateway) == app.url_for(3000)
    assert url != app.url_for(None)
    assert app.ports[3000] != 3000  # ephemeral_gateways=True remapped it


async def test_seed_hooks_run_with_the_socket(
    seed: ModuleType, start: Start, connect: Connect
) -> None:
    """The seed's hooks, observed through a subclass that records and calls super()."""
    calls: list[tuple[str, Any]] = []

    # Re-declared: a subclass without its own decorator is not found as a gateway (reported).
    @WebSocketGateway(3000, namespace="channels")
    class Recording(seed.ChannelsGateway):  # type: ignore[misc,name-defined]
        def after_init(self, server: Server) -> None:
            calls.append(("after_init", server))
            super().after_init(server)

        def handle_connection(self, client: Socket, *args: Any) -> None:
            calls.append(("connect", client))
            super().handle_connection(client, *args)

        def handle_disconnect(self, client: Socket) -> None:
            calls.append(("disconnect", client))
            super().handle_disconnect(client)

    @Module(providers=[Recording])
    class AppModule: ...

    app = await start(AppModule)
    gateway = app.get(Recording)
    assert [c[0] for c in calls] == ["after_init"]
    assert calls[0][1] is gateway.server
    a = await connect(app, "/channels")
    b = await connect(app, "/channels", ["polling"])
    sockets = [c[1] for c in calls if c[0] == "connect"]
    assert [s.id for s in sockets] == [a.sid, b.sid]
    assert all(isinstance(s, Socket) and s.namespace == "/channels" for s in sockets)
    await a.close()
    await b.close()
    for _ in range(50):
        if sum(c[0] == "disconnect" for c in calls) == 2:
            break
        await asyncio.sleep(0.02)
    gone = [c[1] for c in calls if c[0] == "disconnect"]
    assert {s.id for s in gone} == {sockets[0].id, sockets[1].id}
    assert gone[0] in sockets  # the very Socket objects handle_connection received
    assert [c[0] for c in calls].count("after_init") == 1


received_reasons: list[tuple[str, Any]] = []


@WebSocketGateway(namespace="reasons")
class ReasonGateway(OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect):
    server: Server = WebSocketServer()

    async def after_init(self, server: Server) -> None:  # async hooks are accepted too
        received_reasons.append(("init", server.namespace))

    async def handle_connection(self, client: Socket, *args: Any) -> None:
        received_reasons.append(("connect", client.id))

    async def handle_disconnect(self, client: Socket, reason: Any = None) -> None:
        received_reasons.append((client.id, reason))

    @SubscribeMessage("kick")
    async def kick(self, client: Socket, data: Any) -> None:
        await client.disconnect()


@Module(providers=[ReasonGateway])
class ReasonModule: ...


async def wait_for(predicate: Any, timeout: float = WAIT) -> None:
    """Poll *predicate* until true (the server side runs after the client returns)."""
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def test_disconnect_reason_is_passed_to_a_two_parameter_hook(
    start: Start, connect: Connect
) -> None:
    """handle_disconnect(client, reason): client-initiated vs server-initiated reasons."""
    received_reasons.clear()
    app = await start(ReasonModule)
    assert received_reasons == [("init", "/reasons")]
    a = await connect(app, "/reasons")
    b = await connect(app, "/reasons")
    a_sid, b_sid = a.sid, b.sid
    assert ("connect", a_sid) in received_reasons
    await a.close()
    await b.emit("kick", None)
    await wait_for(lambda: len(received_reasons) == 5)
    reasons = dict(r for r in received_reasons if r[0] not in ("init", "connect"))
    # python-socketio reports a websocket client's disconnect() as "transport close" (its
    # engine.io CLOSE can overtake the namespace DISCONNECT); both mean "the client left".
    assert reasons[a_sid] in ("client disconnect", "transport close")
    assert reasons[b_sid] == "server disconnect"
    assert await b.disconnects.get() is not None  # the client saw the kick
