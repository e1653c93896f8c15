"""Engine.IO v4 over HTTP long-polling: raw requests against a real ``EngineIOServer``."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from eio_helpers import StartEngine, eventually


async def test_handshake_advertises_the_options_in_milliseconds(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine(ping_interval=0.3, ping_timeout=0.25, max_payload=12345)
    async with http.get(eng.eio, params={"EIO": "4", "transport": "polling"}) as resp:
        assert resp.status == 200
        body = await resp.text()
    assert body[0] == "0"
    handshake = json.loads(body[1:])
    assert set(handshake) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert handshake["upgrades"] == ["websocket"]
    assert handshake["pingInterval"] == 300  # sub-second intervals are not rounded to 0
    assert handshake["pingTimeout"] == 250
    assert handshake["maxPayload"] == 12345
    assert handshake["sid"] in eng.server.sessions


async def test_bad_handshakes_are_answered_400_with_node_error_codes(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    cases = [
        ("GET", {"transport": "polling"}, 5),  # no EIO
        ("GET", {"EIO": "abc", "transport": "polling"}, 5),
        ("GET", {"EIO": "3", "transport": "polling"}, 5),
        ("GET", {"EIO": "4"}, 0),  # no transport
        ("GET", {"EIO": "4", "transport": "abc"}, 0),
        ("POST", {"EIO": "4", "transport": "polling"}, 2),  # a handshake is a GET
        ("PUT", {"EIO": "4", "transport": "polling"}, 2),
        ("GET", {"EIO": "4", "transport": "polling", "sid": "nope"}, 1),
    ]
    for method, params, code in cases:
        async with http.request(method, eng.eio, params=params) as resp:
            assert resp.status == 400, (method, params)
            assert (await resp.json())["code"] == code, (method, params)
    assert eng.server.sessions == {}


async def test_payloads_are_batched_both_ways(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    sid = await eng.open_polling(http)
    async with eng.post(http, sid, "4hello\x1e4wor\u00efd\x1ebAQIDBA==") as resp:
        assert resp.status == 200
        assert await resp.text() == "ok"
    assert [m for _s, m in eng.messages] == ["hello", "wor\u00efd", b"\x01\x02\x03\x04"]
    async with eng.poll(http, sid) as resp:
        assert await resp.text() == "4hello\x1e4wor\u00efd\x1ebAQIDBA=="


async def test_message_data_is_passed_on_verbatim(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    sid = await eng.open_polling(http)
    async with eng.post(http, sid, '4{"a": 1}\x1e412') as resp:
        assert resp.status == 200
    assert [m for _s, m in eng.messages] == ['{"a": 1}', "12"]


async def test_a_long_poll_waits_for_data(engine: StartEngine, http: aiohttp.ClientSession) -> None:
    eng = await engine()
    sid = await eng.open_polling(http)
    poll = asyncio.ensure_future(eng.poll(http, sid).__aenter__())
    await asyncio.sleep(0.05)
    assert not poll.done()
    eng.server.sessions[sid].send("late")
    resp = await asyncio.wait_for(poll, 5)
    assert await resp.text() == "4late"
    resp.release()


async def test_an_invalid_payload_closes_the_session(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    for bad in ("abc", "4ok\x1e", "b!!!", "9x"):
        sid = await eng.open_polling(http)
        async with eng.post(http, sid, bad) as resp:
            assert resp.status == 400, bad
        async with eng.poll(http, sid) as resp:
            assert resp.status == 400, bad  # the session is gone
        async with eng.post(http, sid, "4x") as resp:
            assert resp.status == 400  # a POST to a closed session: answered, not 500
    assert all(reason == "parse error" for _s, reason in eng.disconnects)
    assert eng.messages == []


async def test_an_oversized_post_is_answered_413(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine(max_payload=1000)
    sid = await eng.open_polling(http)
    async with eng.post(http, sid, "4" + "x" * 2000) as resp:
        assert resp.status == 413
    async with eng.poll(http, sid) as resp:
        assert resp.status == 400
    assert eng.messages == []

    async def chunked() -> object:
        for _ in range(10):
            yield b"4" + b"y" * 300

    sid = await eng.open_polling(http)
    async with http.post(eng.eio, params={"EIO": "4", "transport": "polling", "sid": sid},
                         data=chunked()) as resp:
        assert resp.status == 413  # no Content-Length: counted while reading
    assert sid not in eng.server.sessions


async def test_duplicate_polls_close_the_session(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    sid = await eng.open_polling(http)
    first = asyncio.ensure_future(eng.poll(http, sid).__aenter__())
    await asyncio.sleep(0.05)
    async with eng.poll(http, sid) as second:
        assert second.status == 400
    resp = await asyncio.wait_for(first, 5)
    assert await resp.text() == "1"  # the pending poll is told the session closed
    resp.release()
    async with eng.poll(http, sid) as again:
        assert again.status == 400


async def test_client_close_answers_the_pending_poll_with_a_noop(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    sid = await eng.open_polling(http)
    poll = asyncio.ensure_future(eng.poll(http, sid).__aenter__())
    await asyncio.sleep(0.05)
    async with eng.post(http, sid, "1\x1e4after-close") as resp:
        assert resp.status == 200
    resp = await asyncio.wait_for(poll, 5)
    assert await resp.text() == "6"
    resp.release()
    assert eng.messages == []  # nothing after a CLOSE is dispatched
    assert eng.disconnects == [(sid, "transport close")]


async def test_server_close_answers_the_pending_poll_with_close(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    sid = await eng.open_polling(http)
    poll = asyncio.ensure_future(eng.poll(http, sid).__aenter__())
    await asyncio.sleep(0.05)
    eng.server.sessions[sid].send("bye")
    eng.server.sessions[sid].close()
    resp = await asyncio.wait_for(poll, 5)
    assert await resp.text() in ("4bye\x1e1", "4bye")
    resp.release()


async def test_server_close_without_a_pending_poll_waits_for_the_next_one(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    sid = await eng.open_polling(http)
    sock = eng.server.sessions[sid]
    sock.send("last words")
    sock.close()
    async with eng.poll(http, sid) as resp:
        assert await resp.text() == "4last words\x1e1"
    assert sid not in eng.server.sessions
    assert eng.disconnects == [(sid, "forced close")]


async def test_polling_heartbeat_and_ping_timeout(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine(ping_interval=0.2, ping_timeout=0.2)
    sid = await eng.open_polling(http)
    for _ in range(2):
        async with eng.poll(http, sid) as resp:
            assert await resp.text() == "2"
        async with eng.post(http, sid, "3") as resp:
            assert resp.status == 200
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with eng.poll(http, sid) as resp:
        assert await resp.text() == "2"
    await eventually(lambda: sid not in eng.server.sessions, timeout=2)
    # closed at ping + ping_timeout, not a whole interval later
    assert loop.time() - started < 0.2 + 0.2 + 0.3
    assert eng.disconnects == [(sid, "ping timeout")]


async def test_cors_wildcard_sends_no_credentials(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine(cors_allowed_origins="*")
    headers = {"Origin": "http://elsewhere.example"}
    async with http.get(eng.eio, params={"EIO": "4", "transport": "polling"},
                        headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in resp.headers
    async with http.options(eng.eio, headers={
        **headers, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Headers"] == "content-type"


async def test_cors_list_echoes_listed_origins_and_refuses_others(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine(cors_allowed_origins=["http://app.example"], cors_credentials=True)
    params = {"EIO": "4", "transport": "polling"}
    async with http.get(eng.eio, params=params, headers={"Origin": "http://app.example"}) as r:
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == "http://app.example"
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
    async with http.get(eng.eio, params=params, headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 400
        assert "Access-Control-Allow-Origin" not in r.headers


async def test_cors_closed_by_default(engine: StartEngine, http: aiohttp.ClientSession) -> None:
    eng = await engine()
    params = {"EIO": "4", "transport": "polling"}
    async with http.get(eng.eio, params=params, headers={"Origin": eng.url}) as r:
        assert r.status == 200  # same origin
    async with http.get(eng.eio, params=params, headers={"Origin": "http://x.example"}) as r:
        assert r.status == 400
