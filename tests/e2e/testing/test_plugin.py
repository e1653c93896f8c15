"""nestpy's pytest plugin: the nest_app / nest_client fixtures, and their cleanup.

The plugin is registered through the ``pytest11`` entry point, so this very session has
it; the cleanup tests run small test files through it with ``pytester``.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from nestpy import Injectable, Module, Provider
from nestpy.testing import SocketClient, Test
from nestpy.testing.plugin import NestAppFactory, NestClientFactory
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e


@Injectable
class Clock:
    def now(self) -> str:
        return "real time"


@WebSocketGateway(namespace="clock")
class ClockGateway:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @SubscribeMessage("now")
    def now(self) -> str:
        return self.clock.now()

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data


@Module(providers=[Clock, ClockGateway])
class ClockModule: ...


class FrozenClock:
    def now(self) -> str:
        return "frozen"


async def test_nest_app_and_nest_client(
    nest_app: NestAppFactory, nest_client: NestClientFactory
) -> None:
    app = await nest_app(ClockModule)
    client = await nest_client(app, "/clock")
    assert isinstance(client, SocketClient) and client.connected
    assert await client.call("now") == "real time"


async def test_nest_app_overrides_values_and_providers(
    nest_app: NestAppFactory, nest_client: NestClientFactory
) -> None:
    frozen = await nest_app(ClockModule, overrides={Clock: FrozenClock()})
    assert await (await nest_client(frozen, "/clock")).call("now") == "frozen"
    factory = await nest_app(
        ClockModule, overrides={Clock: Provider(Clock, use_factory=FrozenClock)}
    )
    assert await (await nest_client(factory, "/clock")).call("now") == "frozen"
    assert isinstance(factory.get(Clock), FrozenClock)


async def test_nest_app_takes_a_testing_module_and_listen_false(
    nest_app: NestAppFactory, nest_client: NestClientFactory
) -> None:
    module = await (
        Test.create_testing_module(imports=[ClockModule])
        .override_provider(Clock)
        .use_class(FrozenClock)
        .compile()
    )
    app = await nest_app(module, listen=False)
    assert app.ports == {}
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    client = await nest_client(app.url_for("/clock"), "/clock", transports=["polling"])
    assert await client.call("now") == "frozen"


async def test_nest_app_refuses_overrides_for_a_built_module(nest_app: NestAppFactory) -> None:
    module = await Test.create_testing_module(imports=[ClockModule]).compile()
    with pytest.raises(TypeError, match="override on the builder"):
        await nest_app(module, overrides={Clock: FrozenClock()})


# --- cleanup, proven by running test files through the plugin ------------------------------

INNER_CONFTEST = '''
import asyncio
import os
import socket

import pytest
import pytest_asyncio

from nestpy import Module
from nestpy.websockets import SubscribeMessage, WebSocketGateway


@WebSocketGateway(namespace="chat")
class ChatGateway:
    @SubscribeMessage("echo")
    def echo(self, client, data):
        return data


@Module(providers=[ChatGateway])
class AppModule: ...


def open_sockets():
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def library_tasks():
    found = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        where = code.co_filename if code else ""
        # python-engineio's server schedules a ping per session that sleeps ping_interval
        # (25 s) and then does nothing for a closed session; it is not ours to track.
        if code is not None and code.co_name == "_send_ping":
            continue
        if any(lib in where for lib in ("socketio", "engineio", "aiohttp", "nestpy")):
            found.append(getattr(coro, "__qualname__", repr(coro)))
    return found


@pytest_asyncio.fixture
async def leak_check():
    """Requested first, so torn down last: after nest_client's and nest_app's teardown."""
    before = open_sockets()
    state = {"ports": []}
    yield state
    for _ in range(5):
        await asyncio.sleep(0.01)
    leftovers = library_tasks()
    assert not leftovers, f"tasks left running: {leftovers}"
    for port in state["ports"]:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    after = open_sockets()
    assert after <= before, f"{after - before} socket(s) left open"
'''

INNER_TESTS = '''
import pytest

from nestpy import NestFactory

from conftest import AppModule


async def test_fails_with_clients_connected(leak_check, nest_app, nest_client):
    app = await nest_app(AppModule)
    leak_check["ports"] = list(app.ports.values())
    ws = await nest_client(app, "/chat")
    polling = await nest_client(app, "/chat", transports=["polling"])
    assert await ws.call("echo", 1) == 1
    assert await polling.call("echo", 2) == 2
    assert False, "deliberate failure with two clients connected"


async def test_raises_inside_the_handler_wait(leak_check, nest_app, nest_client):
    app = await nest_app(AppModule)
    leak_check["ports"] = list(app.ports.values())
    client = await nest_client(app, "/chat")
    await client.receive("never", timeout=0.1)  # TimeoutError: the test errors out


async def test_passes(leak_check, nest_app, nest_client):
    first = await nest_app(AppModule)
    second = await nest_app(AppModule)
    leak_check["ports"] = [*first.ports.values(), *second.ports.values()]
    for app in (first, second):
        for _ in range(3):
            client = await nest_client(app, "/chat")
            assert await client.call("echo", "hi") == "hi"


async def test_leaky_without_fixtures(leak_check):
    """Control: an application nobody closes must be caught by leak_check."""
    app = await NestFactory.create(AppModule)
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    leak_check["ports"] = list(app.ports.values())
'''


def _run_inner(pytester: pytest.Pytester, mode: str) -> pytest.RunResult:
    pytester.makeini(
        f"""
        [pytest]
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = function
        """
    )
    pytester.makeconftest(INNER_CONFTEST)
    tests = INNER_TESTS
    if mode == "strict":
        tests = tests.replace("async def test_", "@pytest.mark.asyncio\nasync def test_")
    pytester.makepyfile(test_inner=tests)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-rA")


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_fixtures_clean_up_even_when_tests_fail(pytester: pytest.Pytester, mode: str) -> None:
    result = _run_inner(pytester, mode)
    result.assert_outcomes(passed=2, failed=2, errors=1)
    out = result.stdout.str()
    assert "deliberate failure with two clients connected" in out
    assert "no 'never' event on /chat within 0.1 s" in out
    # The control test leaked on purpose: the checker saw it (a task, the open port or a
    # socket), so a clean run above means the fixtures really cleaned up.
    assert "ERROR at teardown of test_leaky_without_fixtures" in out
    for name in ("test_fails_with_clients_connected", "test_raises_inside_the_handler_wait"):
        assert f"ERROR at teardown of {name}" not in out
