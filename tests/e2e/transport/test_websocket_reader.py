"""nestpy's websocket reader (``nestpy.engineio._reader``): RFC 6455 client frames written
byte by byte over a raw TCP connection to a real ``EngineIOServer``."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator

import pytest
from eio_helpers import Engine, StartEngine, eventually

from nestpy.engineio import EngineIOSocket

MASK = b"\x11\x22\x33\x44"


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0,
    length: int | None = None,
) -> bytes:
    """A client frame; *length* overrides the announced payload length."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return head + MASK + body


def text(data: str, **kw: bool) -> bytes:
    return frame(0x1, data.encode(), **kw)


class Raw:
    """A websocket client on a bare TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    async def read(self) -> tuple[int, bytes]:
        """The next server frame: (opcode, payload); (-1, b"") when the connection ended."""
        try:
            b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), 5)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return b0 & 0x0F, await self.reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError):
            return -1, b""

    async def read_text(self) -> str:
        """The next text frame, skipping Engine.IO pings."""
        while True:
            opcode, payload = await self.read()
            assert opcode == 0x1, (opcode, payload)
            if payload != b"2":
                return payload.decode()

    async def closed_with(self) -> int:
        """Read until the server's close frame; its code."""
        while True:
            opcode, payload = await self.read()
            assert opcode != -1, "the connection ended without a close frame"
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big")

    async def ended(self) -> bool:
        """Whether the server ends the connection (EOF) within 5 s."""
        try:
            return await asyncio.wait_for(self.reader.read(), 5) == b""
        except ConnectionError:
            return True


@pytest.fixture
async def raw(engine: StartEngine) -> AsyncIterator[tuple[Engine, list[Raw]]]:
    eng = await engine()
    opened: list[Raw] = []
    yield eng, opened
    for conn in opened:
        conn.writer.close()


async def connect(eng: Engine, opened: list[Raw]) -> tuple[Raw, str]:
    """Open a websocket session with a hand-written handshake; (client, sid)."""
    host, port = eng.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    conn = Raw(reader, writer)
    opened.append(conn)
    handshake = await conn.read_text()
    assert handshake.startswith('0{"sid":"')
    return conn, handshake.split('"')[3]


async def test_messages_split_anywhere_and_joined_in_one_write_arrive_in_order(
    raw: tuple[Engine, list[Raw]],
) -> None:
    eng, opened = raw
    conn, sid = await connect(eng, opened)
    data = b"".join(text(f"4m{i}") for i in range(5)) + frame(0x1, b"4" + b"y" * 300)
    for i in range(len(data)):  # one byte per write: every header and payload cut
        conn.writer.write(data[i:i + 1])
        await conn.writer.drain()
    assert [await conn.read_text() for _ in range(6)] == [
        *(f"4m{i}" for i in range(5)), "4" + "y" * 300
    ]
    big = "4" + "z" * 70_000  # a 64-bit length header
    conn.writer.write(text(big))
    assert await conn.read_text() == big
    assert [m for s, m in eng.messages if s == sid][-1] == big[1:]


async def test_a_fragmented_message_with_a_ping_between_its_fragments(
    raw: tuple[Engine, list[Raw]],
) -> None:
    eng, opened = raw
    conn, _sid = await connect(eng, opened)
    conn.writer.write(
        frame(0x1, b"4he", fin=False) + frame(0x9, b"are you there")
        + frame(0x0, b"ll", fin=False) + frame(0x0, b"o")
    )
    assert await conn.read() == (0xA, b"are you there")  # the pong, between the fragments
    assert await conn.read_text() == "4hello"
    conn.writer.write(frame(0x2, b"\x00\x01", fin=False) + frame(0x0, b"\x02"))
    assert await conn.read() == (0x2, b"\x00\x01\x02")
    conn.writer.write(frame(0xA, b"unsolicited pong") + text("4after"))
    assert await conn.read_text() == "4after"


@pytest.mark.parametrize(("bad", "code"), [
    (text("4x", masked=False), 1002),  # client frames must be masked
    (frame(0x1, b"4x", rsv=0x40), 1002),  # no extension was negotiated
    (frame(0x0, b"4x"), 1002),  # a continuation without a message
    (frame(0x1, b"4a", fin=False) + text("4b"), 1002),  # a new message inside a fragmented one
    (frame(0x3, b""), 1002),  # a reserved opcode
    (frame(0x9, b"p" * 126), 1002),  # a control frame over 125 bytes
    (frame(0x9, b"p", fin=False), 1002),  # a fragmented control frame
    (frame(0x8, b"\x03"), 1002),  # a close payload of one byte
    (frame(0x1, b"4\xff\xfe"), 1007),  # not UTF-8
    (frame(0x1, b"", length=1 << 40), 1009),  # over max_payload: refused on the header
])
async def test_a_broken_frame_closes_that_client_with_its_code_and_others_carry_on(
    raw: tuple[Engine, list[Raw]], bad: bytes, code: int,
) -> None:
    eng, opened = raw
    conn, sid = await connect(eng, opened)
    other, _ = await connect(eng, opened)
    conn.writer.write(bad + text("4never"))
    assert await conn.closed_with() == code
    await eventually(lambda: sid not in eng.server.sessions)
    assert (sid, "transport error") in eng.disconnects
    assert all(m != "never" for s, m in eng.messages if s == sid)
    other.writer.write(text("4still here"))
    assert await other.read_text() == "4still here"


async def test_a_client_close_is_answered_with_its_code_then_the_connection_ends(
    raw: tuple[Engine, list[Raw]],
) -> None:
    eng, opened = raw
    conn, sid = await connect(eng, opened)
    conn.writer.write(frame(0x8, (4000).to_bytes(2, "big") + b"bye") + text("4late"))
    assert await conn.closed_with() == 4000
    assert await conn.ended()
    await eventually(lambda: eng.disconnects != [])
    assert eng.disconnects == [(sid, "transport close")]
    assert eng.messages == []


async def test_a_server_close_sends_close_then_ends_when_the_client_answers(
    raw: tuple[Engine, list[Raw]],
) -> None:
    eng, opened = raw
    conn, sid = await connect(eng, opened)
    eng.server.sessions[sid].close()
    assert await conn.read_text() == "1"  # Engine.IO CLOSE, then the close frame
    assert await conn.closed_with() == 1000
    conn.writer.write(frame(0x8, (1000).to_bytes(2, "big")))
    assert await conn.ended()
    assert eng.disconnects == [(sid, "forced close")]


async def test_a_message_handled_asynchronously_holds_back_the_next(
    raw: tuple[Engine, list[Raw]],
) -> None:
    eng, opened = raw
    release = asyncio.Event()
    seen: list[str | bytes] = []

    async def slow(sock: EngineIOSocket, data: str | bytes) -> None:
        seen.append(data)
        if data == "first":
            await release.wait()
        sock.send(data)

    eng.server.on_message = slow
    conn, _sid = await connect(eng, opened)
    conn.writer.write(text("4first") + text("4second") + text("4third"))
    await eventually(lambda: seen != [])
    await asyncio.sleep(0.05)  # time for the others to be (wrongly) dispatched
    assert seen == ["first"]
    release.set()
    assert [await conn.read_text() for _ in range(3)] == ["4first", "4second", "4third"]
    assert seen == ["first", "second", "third"]
