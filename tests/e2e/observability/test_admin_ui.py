"""``app.enable_admin_ui(auth=...)``: the Socket.IO Admin UI's namespace refuses clients
without the credentials and reports server statistics to those with them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from obs_app import ObsModule

from nestpy.testing import Test

pytestmark = pytest.mark.e2e

CREDENTIALS = {"username": "admin", "password": "s3cret-for-tests"}


async def _admin_client(url: str, auth: Any) -> tuple[socketio.AsyncClient, asyncio.Queue[Any],
                                                       list[Any]]:
    client = socketio.AsyncClient(reconnection=False)
    stats: asyncio.Queue[Any] = asyncio.Queue()
    refused: list[Any] = []
    client.on("server_stats", stats.put_nowait, namespace="/admin")
    client.on("connect_error", refused.append, namespace="/admin")
    return client, stats, refused


@pytest.mark.parametrize("auth", [None, {"username": "admin", "password": "wrong"}])
async def test_refused_without_the_credentials(auth: Any) -> None:
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    app = module.create_nest_application()
    app.enable_admin_ui(auth=CREDENTIALS, server_stats_interval=0.1)
    async with app:
        client, _stats, refused = await _admin_client(app.get_url(), auth)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(app.get_url(), namespaces=["/admin"], auth=auth,
                                 transports=["websocket"], wait_timeout=5)
        await client.disconnect()
        assert refused == [{"message": "authentication failed"}]


async def test_admin_receives_server_stats() -> None:
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    app = module.create_nest_application()
    app.enable_admin_ui(auth=CREDENTIALS, server_stats_interval=0.1)
    async with app:
        async with app.test_client("/obs") as user:
            assert await user.call("echo", 1) == 1
            admin, stats, refused = await _admin_client(app.get_url(), CREDENTIALS)
            sockets: asyncio.Queue[Any] = asyncio.Queue()
            connected: list[Any] = []
            admin.on("all_sockets", sockets.put_nowait, namespace="/admin")
            admin.on("socket_connected", lambda *args: connected.append(args),
                     namespace="/admin")
            await admin.connect(app.get_url(), namespaces=["/admin"], auth=CREDENTIALS,
                                transports=["websocket"], wait_timeout=5)
            try:
                assert refused == []
                report = await asyncio.wait_for(stats.get(), 5)
                assert report["clientsCount"] == 2  # the user and the admin UI
                assert report["pid"] > 0 and report["uptime"] >= 0
                listed = await asyncio.wait_for(sockets.get(), 5)
                assert {(s["nsp"], s["id"]) for s in listed} >= {("/obs", user.id)}
                assert {"name": "/obs", "socketsCount": 1} in report["namespaces"]
                # a socket connecting now is reported live
                async with app.test_client("/obs") as late:
                    for _ in range(250):
                        if any(args[0]["id"] == late.id for args in connected):
                            break
                        await asyncio.sleep(0.02)
                    else:
                        raise AssertionError(f"socket_connected not reported: {connected}")
                # the admin UI's "disconnect" command reaches the user's socket
                await admin.emit("_disconnect", ("/obs", False, user.id), namespace="/admin")

                async def gone() -> None:
                    for _ in range(250):
                        if not user.connected:
                            return
                        await asyncio.sleep(0.02)
                    raise AssertionError("the admin UI's disconnect did not reach the user")

                await gone()
            finally:
                await admin.disconnect()


async def test_nothing_process_wide_is_patched() -> None:
    """python-socketio's instrument() patches engineio's AsyncSocket class for good (and
    recurses when a second server is instrumented); nestpy's admin UI patches per server."""
    from engineio.async_socket import AsyncSocket

    before = {n: AsyncSocket.__dict__[n]
              for n in ("handle_post_request", "_websocket_handler", "_send_ping")}
    for _ in range(2):  # two instrumented applications in one process
        module = await Test.create_testing_module(imports=[ObsModule]).compile()
        app = module.create_nest_application()
        app.enable_admin_ui(auth=CREDENTIALS)
        async with app, app.test_client("/obs", transports=("polling",)) as client:
            assert await client.call("echo", "polled") == "polled"
    after = {n: AsyncSocket.__dict__[n] for n in before}
    assert after == before
    # and an application without the admin UI still serves long-polling clients
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    async with module.create_nest_application() as app:
        async with app.test_client("/obs", transports=("polling",)) as client:
            assert await client.call("echo", 2) == 2


@pytest.mark.parametrize("auth", [None, {}, {"username": "admin", "password": ""}, [],
                                  {"username": "a"}])
async def test_never_open(auth: Any) -> None:
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    app = module.create_nest_application()
    with pytest.raises(ValueError, match="never open"):
        app.enable_admin_ui(auth=auth)
