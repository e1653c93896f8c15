"""Hypothesis fuzz over real websocket and polling sessions, a well-behaved client alongside.

Each example opens a raw Engine.IO session (websocket or long-polling) to a running nestpy
app and sends what hypothesis draws: malformed Engine.IO and Socket.IO packets, binary
events whose attachments lie (missing, extra, placeholders out of range), huge and deeply
nested payloads. Meanwhile a ``socketio.AsyncClient`` keeps calling an acked event. What must
hold on any correct server is asserted: it stays up, every ack of the well-behaved client
arrives, and afterwards its sessions, sockets, rooms and tasks are back to where they were.
Whether a bad packet closes the fuzzer's connection is deliberately not asserted (the
Engine.IO rewrite decides that).

The server runs on its own event loop in a thread, so hypothesis drives plain functions.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest
import socketio
from asyncio_compat import within
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nestpy import Module, NestApplication, NestFactory
from nestpy.websockets import Socket, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e

T = TypeVar("T")
MB = 1024 * 1024


# A short ping cycle: sessions of clients that vanish (as fuzzers do) are reaped in ~3 s.
@WebSocketGateway(ping_interval=1, ping_timeout=2)
class FuzzGateway:
    @SubscribeMessage("echo")
    def echo(self, client: Socket, data: Any) -> Any:
        return data

    @SubscribeMessage("slow")
    async def slow(self, client: Socket, data: Any) -> Any:
        await asyncio.sleep(0.001)
        return data

    @SubscribeMessage("join")
    async def join(self, client: Socket, room: Any) -> bool:
        await client.join(str(room)[:50])
        return True


@Module(providers=[FuzzGateway])
class FuzzModule:
    pass


class Served:
    """The app, a well-behaved client calling it without pause, on a loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.app: NestApplication | None = None
        self.good = socketio.AsyncClient(reconnection=False)
        self.acked = 0
        self.failures: list[str] = []
        self._stop = asyncio.Event()
        self._caller: asyncio.Future[None] | None = None
        self.http: aiohttp.ClientSession | None = None
        self.base_tasks = 0
        self.baseline: dict[str, int] = {}

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        self.app = await NestFactory.create(FuzzModule)
        await self.app.listen(0, "127.0.0.1")
        self.http = aiohttp.ClientSession()
        await self.good.connect(self.url, transports=["websocket"], wait_timeout=5)
        assert await self.good.call("echo", "hi", timeout=5) == "hi"
        await asyncio.sleep(0.05)
        self.base_tasks = len(asyncio.all_tasks())
        self.baseline = self.counts()
        self._caller = asyncio.ensure_future(self._call_forever())

    @property
    def url(self) -> str:
        assert self.app is not None
        return self.app.url_for()

    async def _call_forever(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                answer = await self.good.call("slow" if n % 2 else "echo", n, timeout=5)
            except Exception as exc:  # recorded, asserted by the test
                self.failures.append(f"call {n}: {exc!r}")
                return
            if answer != n:
                self.failures.append(f"call {n} answered {answer!r}")
            self.acked += 1
            await asyncio.sleep(0.005)

    async def stop_calling(self) -> None:
        self._stop.set()
        if self._caller is not None:
            await self._caller

    async def close_http(self) -> None:
        http, self.http = self.http, None
        if http is not None:
            await http.close()

    async def stop(self) -> None:
        await self.stop_calling()
        await self.good.disconnect()
        if self.http is not None:
            await self.http.close()
        if self.app is not None:
            await self.app.close()

    # -- internal counts ------------------------------------------------------------------

    async def acounts(self) -> dict[str, Any]:
        assert self.app is not None and self.app._registry is not None
        (server,) = self.app._registry.all_servers()
        return {
            **self.counts(),
            "rooms_now": list(server.manager.rooms.get("/", {})),
            "tasks_now": [repr(t.get_coro()) for t in asyncio.all_tasks()],
        }

    def counts(self) -> dict[str, int]:
        assert self.app is not None
        registry = self.app._registry  # test-only peek at the servers
        assert registry is not None
        (server,) = registry.all_servers()
        rooms = server.manager.rooms.get("/", {})
        return {
            "sessions": sum(1 for s in server.eio.sockets.values() if not s.closed),
            "sockets": len(server.nest_sockets),
            "rooms": len(rooms),
            "tasks": len(asyncio.all_tasks()) - self.base_tasks,
        }


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    s = Served()
    s.thread.start()
    s.run(s.start())
    yield s
    try:
        s.run(s.stop())
    finally:
        s.loop.call_soon_threadsafe(s.loop.stop)
        s.thread.join(5)
        s.loop.close()


# -- what the fuzzer sends ----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
events = st.sampled_from(["echo", "slow", "join", "nope", "", "connect", "disconnect"])
namespaces = st.sampled_from(["", "/", "/nope,", "/,", "//,", "/a?b=c,"])


@st.composite
def sio_packets(draw: st.DrawFn) -> str:
    """A Socket.IO packet inside an Engine.IO MESSAGE: valid-looking to plain garbage."""
    kind = draw(st.sampled_from("0123456789") | st.text(max_size=2))
    attachments = draw(st.sampled_from(["", "1-", "3-", "-", "99999999999-", "x-"]))
    ns = draw(namespaces)
    ack = draw(st.sampled_from(["", "1", "007", "99999999999999999999", "-1"]))
    body = draw(
        st.builds(lambda e, d: json.dumps([e, d]), events, json_values)
        | st.builds(json.dumps, json_values)
        | st.text(max_size=40)
        | st.just('["echo",{"_placeholder":true,"num":0}]')
        | st.just('["echo",{"_placeholder":true,"num":7}]')
        | st.just('["echo",{"_placeholder":"yes","num":"0"}]')
    )
    return "4" + kind + attachments + ns + ack + body


frames = st.lists(
    sio_packets()
    | st.text(max_size=30)  # any Engine.IO packet type, any body
    | st.sampled_from(["2", "3", "5", "6", "1", "0", "4", "40", "41", "2probe", "", "\x1e"])
    | st.binary(max_size=40),
    min_size=1, max_size=8,
)

HUGE_TEXT = "42" + json.dumps(["echo", "x" * (2 * MB)])  # over the 1 MB frame limit
BIG_OK = "42" + json.dumps(["echo", "y" * (MB // 2)])
DEEP = '42["echo",' + "[" * 100_000 + "]" * 100_000 + "]"
DEEP_DICT = '42["echo",' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "]"
LYING_BINARY = ['452-["echo",{"_placeholder":true,"num":0}]', b"\x01"]  # 2 claimed, 1 sent
EXTRA_BINARY = ['451-["echo",{"_placeholder":true,"num":0}]', b"\x01", b"\x02", b"\x03"]
BINARY_FIRST: list[str | bytes] = [b"\x00\x01", '451-["echo",{"_placeholder":true,"num":3}]']


async def _websocket_session(served: Served, sends: list[str | bytes], connect: bool) -> None:
    assert served.http is not None
    url = served.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
        async with served.http.ws_connect(url, max_msg_size=0, timeout=5) as ws:
            await asyncio.wait_for(ws.receive(), 5)  # the OPEN packet
            if connect:
                await ws.send_str("40")
            for frame in sends:
                if ws.closed:
                    break
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame)
            # Read what comes back for a moment (acks, errors, or a close).
            with contextlib.suppress(asyncio.TimeoutError):
                while not ws.closed:
                    msg = await asyncio.wait_for(ws.receive(), 0.05)
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                    aiohttp.WSMsgType.ERROR):
                        break


async def _polling_session(served: Served, sends: list[str | bytes], connect: bool) -> None:
    assert served.http is not None
    base = served.url + "/socket.io/?EIO=4&transport=polling"
    timeout = aiohttp.ClientTimeout(total=5)
    errors = (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError, KeyError)
    with contextlib.suppress(*errors):
        async with served.http.get(base, timeout=timeout) as resp:
            opened = await resp.text()
        sid = json.loads(opened[1:])["sid"]
        url = f"{base}&sid={sid}"
        parts = [f.decode("latin-1") if isinstance(f, bytes) else f for f in sends]
        if connect:
            parts.insert(0, "40")
        try:
            async with served.http.post(url, data="\x1e".join(parts).encode(), timeout=timeout):
                pass
            # One poll to collect answers.
            with contextlib.suppress(asyncio.TimeoutError):
                async with served.http.get(url, timeout=aiohttp.ClientTimeout(total=0.1)) as r:
                    await r.read()
        finally:
            with contextlib.suppress(*errors):  # close the session politely (it may be gone)
                async with served.http.post(url, data=b"1", timeout=timeout):
                    pass


def _good_client_still_answers(served: Served) -> None:
    answer = served.run(served.good.call("echo", "still here", timeout=10))
    assert answer == "still here"
    assert not served.failures, served.failures


@settings(
    max_examples=100, deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
)
@given(sends=frames, polling=st.booleans(), connect=st.booleans())
@example(sends=[HUGE_TEXT], polling=False, connect=True)
@example(sends=[BIG_OK, DEEP], polling=False, connect=True)
@example(sends=[DEEP_DICT], polling=False, connect=True)
@example(sends=[DEEP], polling=True, connect=True)
@example(sends=LYING_BINARY, polling=False, connect=True)
@example(sends=EXTRA_BINARY, polling=False, connect=True)
@example(sends=BINARY_FIRST, polling=False, connect=True)
@example(sends=['42["join","r1"]', "41", '42["echo",1]'], polling=False, connect=True)
def test_fuzzed_sessions_never_hurt_the_server_or_a_good_client(
    served: Served, sends: list[str | bytes], polling: bool, connect: bool
) -> None:
    session = _polling_session if polling else _websocket_session
    served.run(session(served, sends, connect))
    _good_client_still_answers(served)


def test_after_the_fuzz_counts_are_back_to_baseline(served: Served) -> None:
    """Runs after the fuzz (file order): only the good client is left, nothing leaked."""
    served.run(served.stop_calling())
    served.run(served.close_http())  # its idle keep-alive connections hold server tasks
    assert not served.failures, served.failures
    assert served.acked > 0

    async def settled() -> dict[str, int]:
        async with within(15):
            while True:
                counts = served.counts()
                # the good client alone: its session, socket and rooms; no task left over
                if counts == served.baseline:
                    return counts
                await asyncio.sleep(0.05)

    try:
        served.run(settled(), timeout=20)
    except (asyncio.TimeoutError, concurrent.futures.TimeoutError):
        pytest.fail(
            f"internal counts did not return to {served.baseline}: "
            f"{served.run(served.acounts())}"
        )
    _good_client_still_answers(served)

