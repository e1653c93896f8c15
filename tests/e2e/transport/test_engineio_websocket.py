"""Engine.IO v4 over websocket and the upgrade: raw frames against a real ``EngineIOServer``."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct

import aiohttp
import pytest
from eio_helpers import StartEngine, eventually

WS = {"EIO": "4", "transport": "websocket"}


async def _open(
    http: aiohttp.ClientSession, url: str
) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    ws = await http.ws_connect(url, params=WS)
    first = await ws.receive_str(timeout=5)
    assert first[0] == "0"
    return ws, json.loads(first[1:])["sid"]


async def test_websocket_handshake_and_echo(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine(ping_interval=0.5)
    ws = await http.ws_connect(eng.ws, params=WS)
    handshake = json.loads((await ws.receive_str(timeout=5))[1:])
    assert handshake["upgrades"] == []
    assert handshake["pingInterval"] == 500
    await ws.send_str("4hello")
    assert await ws.receive_str(timeout=5) == "4hello"
    await ws.send_bytes(b"\x01\x02\x03")
    assert await ws.receive_bytes(timeout=5) == b"\x01\x02\x03"
    await ws.close()
    await eventually(lambda: eng.disconnects != [])
    assert eng.disconnects[0][1] == "transport close"


async def test_bad_websocket_handshakes_are_refused(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    for params in ({"transport": "websocket"}, {"EIO": "abc", "transport": "websocket"},
                   {"EIO": "4"}, {"EIO": "4", "transport": "abc"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(eng.ws, params=params)
        assert info.value.status == 400
    assert eng.server.sessions == {}


async def test_an_invalid_packet_closes_with_a_close_frame_and_one_warning(
    engine: StartEngine, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    eng = await engine()
    caplog.set_level(logging.WARNING, "nestpy.engineio")
    for _ in range(3):
        ws, sid = await _open(http, eng.ws)
        await ws.send_str("abc")
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE  # a close frame, not a reset
        await ws.close()
        await eventually(lambda sid=sid: sid not in eng.server.sessions)
    warnings = [r for r in caplog.records if r.name == "nestpy.engineio"]
    assert len(warnings) == 1  # rate-limited per client address
    assert warnings[0].exc_info is None
    assert all(reason == "parse error" for _s, reason in eng.disconnects)


async def test_nothing_after_a_close_packet_is_dispatched(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    ws, sid = await _open(http, eng.ws)
    await ws.send_str("1")
    await ws.send_str("4after")
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    await eventually(lambda: eng.disconnects != [])
    assert eng.messages == []
    assert eng.disconnects == [(sid, "transport close")]


async def test_an_oversized_frame_closes_with_1009(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine(max_payload=1000)
    ws, sid = await _open(http, eng.ws)
    await ws.send_str("4" + "x" * 2000)
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == 1009
    await eventually(lambda: sid not in eng.server.sessions)


async def test_websocket_heartbeat_and_ping_timeout(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine(ping_interval=0.2, ping_timeout=0.2)
    ws, sid = await _open(http, eng.ws)
    for _ in range(2):
        assert await ws.receive_str(timeout=5) == "2"
        await ws.send_str("3")
    assert await ws.receive_str(timeout=5) == "2"
    loop = asyncio.get_running_loop()
    started = loop.time()
    msg = await ws.receive(timeout=5)  # no pong: the server closes
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert loop.time() - started < 0.2 + 0.3
    await eventually(lambda: eng.disconnects != [])
    assert eng.disconnects == [(sid, "ping timeout")]


async def test_server_close_sends_buffered_frames_then_a_close_frame(
    engine: StartEngine, http: aiohttp.ClientSession
) -> None:
    eng = await engine()
    ws, sid = await _open(http, eng.ws)
    sock = eng.server.sessions[sid]
    sock.send("one")
    sock.send("two")
    sock.close()
    assert await ws.receive_str(timeout=5) == "4one"
    assert await ws.receive_str(timeout=5) == "4two"
    assert await ws.receive_str(timeout=5) == "1"  # CLOSE, for python-engineio's client
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert eng.disconnects == [(sid, "forced close")]


# Both readers: nestpy's (no extension), and aiohttp's where per-message deflate is on.
DEFLATE = pytest.mark.parametrize("deflate", [False, True], ids=["nestpy-reader", "deflate"])


@DEFLATE
async def test_upgrade_from_polling(
    engine: StartEngine, http: aiohttp.ClientSession, deflate: bool
) -> None:
    eng = await engine(per_message_deflate=deflate)
    sid = await eng.open_polling(http)
    poll = asyncio.ensure_future(eng.poll(http, sid).__aenter__())
    await asyncio.sleep(0.05)
    ws = await http.ws_connect(eng.ws, params={**WS, "sid": sid}, compress=15 if deflate else 0)
    assert eng.server.sessions[sid].compressed is False  # still polling
    await ws.send_str("2probe")
    assert await ws.receive_str(timeout=5) == "3probe"
    resp = await asyncio.wait_for(poll, 5)
    assert await resp.text() == "6"  # the pending poll ends with a noop
    resp.release()
    eng.server.sessions[sid].send("queued during the upgrade")
    await ws.send_str("5")
    # Buffered packets follow the upgrade over the websocket; no stray noop before them.
    assert await ws.receive_str(timeout=5) == "4queued during the upgrade"
    await ws.send_str("4hi")
    assert await ws.receive_str(timeout=5) == "4hi"
    async with eng.poll(http, sid) as resp:
        assert resp.status == 400  # polling is over for this session
    async with eng.post(http, sid, "4x") as resp:
        assert resp.status == 400
    # A second websocket for the same session is accepted and closed at once.
    second = await http.ws_connect(eng.ws, params={**WS, "sid": sid})
    msg = await second.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    await ws.send_str("4still here")
    assert await ws.receive_str(timeout=5) == "4still here"
    assert eng.server.sessions[sid].transport == "websocket"
    assert eng.server.sessions[sid].compressed is deflate


@DEFLATE
@pytest.mark.parametrize("probe", ["4not a probe", b"\x01binary", "timeout", "drop"])
async def test_a_failed_upgrade_keeps_polling_and_may_upgrade_again(
    engine: StartEngine, http: aiohttp.ClientSession, deflate: bool, probe: str | bytes
) -> None:
    eng = await engine(per_message_deflate=deflate, upgrade_timeout=0.3)
    sid = await eng.open_polling(http)
    compress = 15 if deflate else 0
    ws = await http.ws_connect(eng.ws, params={**WS, "sid": sid}, compress=compress)
    if isinstance(probe, bytes):
        await ws.send_bytes(probe)
    elif probe == "drop":
        await ws.close()  # the client gives up on its upgrade
    elif probe != "timeout":  # "timeout": say nothing past upgrade_timeout
        await ws.send_str(probe)
    if probe != "drop":
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE
    await eventually(lambda: not eng.server.sessions[sid]._upgrading)
    async with eng.post(http, sid, "4polling") as resp:
        assert resp.status == 200
    async with eng.poll(http, sid) as resp:
        assert await resp.text() == "4polling"
    again = await http.ws_connect(eng.ws, params={**WS, "sid": sid}, compress=compress)
    await again.send_str("2probe")
    assert await again.receive_str(timeout=5) == "3probe"
    await again.send_str("5")
    await again.send_str("4upgraded")
    assert await again.receive_str(timeout=5) == "4upgraded"
    assert eng.server.sessions[sid].transport == "websocket"


async def test_a_slow_reader_is_disconnected_not_buffered_for(
    engine: StartEngine, caplog: pytest.LogCaptureFixture
) -> None:
    eng = await engine(max_buffer_size=64 * 1024)
    caplog.set_level(logging.WARNING, "nestpy.engineio")
    host, port = eng.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await reader.readuntil(b"\r\n\r\n")
    await eventually(lambda: len(eng.server.sessions) == 1)
    sock = next(iter(eng.server.sessions.values()))
    chunk = "x" * 16_384
    sent = 0
    # The client never reads: the kernel buffers fill, then the server's own buffer.
    while not sock.closed and sent < 20_000:  # bounded: ~320 MB at most
        sock.send(chunk)
        sent += 1
        if sent % 100 == 0:
            await asyncio.sleep(0)
    assert sock.closed
    assert eng.disconnects[0][1] == "slow reader"
    assert any("does not read fast enough" in r.getMessage() for r in caplog.records)
    writer.close()


async def test_a_client_leaving_during_the_websocket_handshake_is_not_a_server_error(
    engine: StartEngine, caplog: pytest.LogCaptureFixture
) -> None:
    eng = await engine()
    caplog.set_level(logging.ERROR)
    host, port = eng.url.removeprefix("http://").split(":")
    for _ in range(5):
        peer = socket.create_connection((host, int(port)))
        peer.sendall(
            f"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            .encode()
        )
        # reset at once: the server's 101 meets a closed connection
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
    async with aiohttp.ClientSession() as http:  # the server still serves the next client
        ws, _sid = await _open(http, eng.ws)
        await ws.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
