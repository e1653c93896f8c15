"""Broker outage: what a cross-node broadcast stream loses while Redis restarts.

    python -m benchmarks.outage --down 5 [--broker redis|amqp]

Two nestpy nodes share a throwaway ``redis-server`` on a free port (or, with ``--broker
amqp``, the local RabbitMQ through a TCP proxy that is cut and restored; the broker itself is
never touched). Node A broadcasts a numbered event every 50 ms; a client of node B counts
what arrives. The broker goes away for *down* seconds, then comes back; the stream goes on
for 5 s more. Printed: messages sent, lost (in total and among those sent after the broker
was back), time from the broker's return to the first delivery of a message sent after it,
and the warning/error lines logged. docs/reliability.md "Broker outages" has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import socketio

from nestpy import Module, NestFactory
from nestpy.websockets import Server, WebSocketGateway, WebSocketServer
from nestpy.websockets.adapters import AmqpIoAdapter, RedisIoAdapter


@WebSocketGateway(namespace="stream")
class StreamGateway:
    """Nothing but a server to broadcast from."""

    server: Server = WebSocketServer()


@Module(providers=[StreamGateway])
class StreamModule:
    """One node."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Redis:
    def __init__(self) -> None:
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    async def up(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed"
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - a throwaway broker, started between phases
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(500):
            with contextlib.suppress(OSError):
                _r, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            await asyncio.sleep(0.01)

    async def down(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 5)


class _Proxy:
    """A TCP proxy to the local RabbitMQ that can be cut and restored."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", 5672)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_w}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    async def down(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.close()
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()


async def run(broker: str, down_for: float) -> dict[str, Any]:
    """One outage; returns the figures."""
    target: _Redis | _Proxy = _Redis() if broker == "redis" else _Proxy()
    await target.up()
    channel = f"outage-{uuid.uuid4().hex}"
    apps = []
    for _ in range(2):
        app = await NestFactory.create(StreamModule)
        adapter = (RedisIoAdapter(target.url, channel) if broker == "redis"
                   else AmqpIoAdapter(target.url, channel))
        app.use_websocket_adapter(adapter)
        await app.listen(0, "127.0.0.1")
        apps.append(app)
    a, b = apps
    await asyncio.sleep(1.0)
    received: dict[int, float] = {}
    client = socketio.AsyncClient(reconnection=False)
    client.on("n", lambda n: received.setdefault(n, time.monotonic()), namespace="/stream")
    await client.connect(b.url_for("/stream"), namespaces=["/stream"],
                         transports=["websocket"])
    server: Server = a.get(StreamGateway).server
    sent_at: list[float] = []
    stop = asyncio.Event()

    async def sender() -> None:
        while not stop.is_set():
            sent_at.append(time.monotonic())
            await server.emit("n", len(sent_at) - 1)
            await asyncio.sleep(0.05)

    task = asyncio.ensure_future(sender())
    await asyncio.sleep(2.0)
    await target.down()
    await asyncio.sleep(down_for)
    await target.up()
    back = time.monotonic()
    await asyncio.sleep(5.0)
    stop.set()
    await task
    await asyncio.sleep(3.0)  # let the last ones (and any buffer) arrive
    after = [i for i, t in enumerate(sent_at) if t >= back]
    first_after = min((received[i] for i in after if i in received), default=None)
    result = {
        "broker": broker, "down_s": down_for, "sent": len(sent_at),
        "lost": len(sent_at) - len(received),
        "sent_after_return": len(after),
        "lost_after_return": sum(1 for i in after if i not in received),
        "resume_s": round(first_after - back, 2) if first_after is not None else None,
        "in_order": list(received) == sorted(received),
    }
    await client.disconnect()
    for app in apps:
        await app.close()
    await target.down()
    return result


def main() -> None:
    """Entry point: ``python -m benchmarks.outage --down 5 [--broker redis|amqp]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--down", type=float, default=5.0)
    parser.add_argument("--broker", choices=("redis", "amqp"), default="redis")
    args = parser.parse_args()
    if not 0 < args.down <= 120:
        parser.error("--down: between 0 and 120 seconds")
    print(json.dumps(asyncio.run(run(args.broker, args.down))), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
