"""Soak: many clients, mixed traffic, connect/disconnect churn; internal counts before and after.

    python -m benchmarks.soak --clients 1000 --duration 120

starts a nestpy app (a subprocess), opens *clients* websocket sessions from this process with
a lean Engine.IO/Socket.IO client (aiohttp), and for *duration* seconds each client mixes
acked calls (sync and async handlers, text and binary), room joins and leaves, room
broadcasts and fire-and-forget events, while a churn task keeps replacing clients. Then
every client leaves and the app's own counts (Engine.IO sessions, sockets, rooms, asyncio
tasks, RSS) are compared with what they were before the first client came. The CI test
``tests/e2e/reliability/test_soak.py`` runs the same driver, smaller, in-process.

Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from nestpy import Module, NestApplication, NestFactory
from nestpy.websockets import Server, Socket, SubscribeMessage, WebSocketGateway, WebSocketServer

NAMESPACE = "/soak"
ROOMS = tuple(f"room-{i}" for i in range(16))
_WS_TIMEOUT: Any = (
    aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10.0)
    if hasattr(aiohttp, "ClientWSTimeout") else 10.0
)


def make_module(**server_options: Any) -> type:
    """The application under soak; *server_options* go to its gateway (e.g. a short
    ``ping_interval`` in the CI test)."""

    @WebSocketGateway(namespace="soak", **server_options)
    class SoakGateway:
        """Handlers of every kind the soak exercises."""

        server: Server = WebSocketServer()

        @SubscribeMessage("echo")
        def echo(self, client: Socket, data: Any) -> Any:
            return data

        @SubscribeMessage("work")
        async def work(self, client: Socket, data: Any) -> Any:
            await asyncio.sleep(0.001)
            return data

        @SubscribeMessage("bin")
        def bin(self, client: Socket, data: Any) -> Any:
            return data

        @SubscribeMessage("join")
        async def join(self, client: Socket, room: str) -> bool:
            await client.join(room)
            return True

        @SubscribeMessage("leave")
        async def leave(self, client: Socket, room: str) -> bool:
            await client.leave(room)
            return True

        @SubscribeMessage("say")
        async def say(self, client: Socket, data: dict[str, Any]) -> None:
            await self.server.to(data["room"]).emit("said", data["text"])

        @SubscribeMessage("note")
        def note(self, client: Socket, data: Any) -> None:
            return None

    @Module(providers=[SoakGateway])
    class SoakModule:
        """The application under soak."""

    return SoakModule


def internal_counts(app: NestApplication, base_tasks: int = 0) -> dict[str, int]:
    """Sessions, sockets, rooms and tasks of *app* (its one Socket.IO server), and RSS."""
    registry = app._registry  # the soak's peek at the servers it started
    assert registry is not None
    sessions = sockets = rooms = 0
    for server in registry.all_servers():
        sessions += sum(1 for s in server.eio.sockets.values() if not s.closed)
        sockets += len(server.nest_sockets)
        rooms += sum(len(r) for r in server.manager.rooms.values())
    return {
        "sessions": sessions,
        "sockets": sockets,
        "rooms": rooms,
        "tasks": len(asyncio.all_tasks()) - base_tasks,
        "rss_kb": _rss_kb(),
    }


def _rss_kb() -> int:
    """This process's resident set size now (peak: ``ru_maxrss``), in KiB."""
    with contextlib.suppress(OSError), open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# -- a lean client ---------------------------------------------------------------------------


class SoakClient:
    """One websocket session on ``/soak`` speaking Engine.IO 4 / Socket.IO 5 by hand (cheaper
    than ``socketio.AsyncClient`` when a process runs a thousand of them)."""

    def __init__(self, http: aiohttp.ClientSession, url: str, stats: Stats) -> None:
        self.http = http
        self.url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.stats = stats
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.reader: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.rooms: set[str] = set()

    async def connect(self) -> None:
        self.ws = await self.http.ws_connect(self.url, timeout=_WS_TIMEOUT)
        self.reader = asyncio.ensure_future(self._read())
        await self.ws.send_str("40" + NAMESPACE + ",")
        await asyncio.wait_for(self.connected.wait(), 10)
        self.stats.connects += 1

    async def _read(self) -> None:
        assert self.ws is not None
        pending_binary: tuple[int, int, list[bytes]] | None = None  # ack id, count, parts
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                if pending_binary is not None:
                    ack_id, count, parts = pending_binary
                    parts.append(msg.data)
                    if len(parts) == count:
                        pending_binary = None
                        self._resolve(ack_id, parts[0])
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data: str = msg.data
            if data == "2":
                await self.ws.send_str("3")
            elif data.startswith("40"):
                self.connected.set()
            elif data.startswith("43"):
                head, _, body = data[2:].partition("[")
                ack_id = int(head.rsplit(",", 1)[-1])
                self._resolve(ack_id, json.loads("[" + body)[0])
            elif data.startswith("46"):
                count_s, _, rest = data[2:].partition("-")
                head, _, _body = rest.partition("[")
                pending_binary = (int(head.rsplit(",", 1)[-1]), int(count_s), [])
            elif data.startswith("42"):
                self.stats.broadcasts += 1
            elif data.startswith("41") or data.startswith("44"):
                break

    def _resolve(self, ack_id: int, value: Any) -> None:
        future = self.acks.pop(ack_id, None)
        if future is not None and not future.done():
            future.set_result(value)

    async def call(
        self, event: str, data: Any, timeout: float = 10.0, expect: Any = None
    ) -> Any:
        """Emit *event* with an ack and wait for it; counts a wrong answer (not *expect*, or
        not *data* itself when *expect* is None)."""
        assert self.ws is not None
        self.next_id += 1
        ack_id = self.next_id
        future = self.acks[ack_id] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        if isinstance(data, bytes):
            await self.ws.send_str(
                f'451-{NAMESPACE},{ack_id}["{event}",{{"_placeholder":true,"num":0}}]'
            )
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(f"42{NAMESPACE},{ack_id}" + json.dumps([event, data]))
        self.stats.calls += 1
        try:
            value = await asyncio.wait_for(future, timeout)
        except asyncio.CancelledError:
            self.stats.abandoned += 1  # the churn took this client away mid-call
            raise
        finally:
            self.acks.pop(ack_id, None)
        self.stats.latencies.append(time.perf_counter() - started)
        self.stats.acks += 1
        if value != (data if expect is None else expect):
            self.stats.wrong += 1
        return value

    async def emit(self, event: str, data: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str(f"42{NAMESPACE}," + json.dumps([event, data]))
        self.stats.emits += 1

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.send_str("41" + NAMESPACE + ",")
                await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.reader, 5)
        self.stats.disconnects += 1


@dataclass
class Stats:
    """What the clients saw."""

    connects: int = 0
    disconnects: int = 0
    calls: int = 0
    acks: int = 0
    wrong: int = 0
    abandoned: int = 0
    emits: int = 0
    broadcasts: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

        return {
            "connects": self.connects, "disconnects": self.disconnects, "calls": self.calls,
            "acks": self.acks, "wrong_acks": self.wrong,
            "abandoned_by_churn": self.abandoned, "emits": self.emits,
            "broadcasts_received": self.broadcasts, "errors": len(self.errors),
            "first_errors": self.errors[:3], "p50_ms": pct(0.5), "p99_ms": pct(0.99),
        }


async def _traffic(client: SoakClient, rng: random.Random, deadline: float) -> None:
    """One client's mixed traffic until *deadline* (bounded: at most 10,000 actions)."""
    stats = client.stats
    for _ in range(10_000):
        if time.monotonic() >= deadline or client.ws is None or client.ws.closed:
            return
        roll = rng.random()
        try:
            if roll < 0.35:
                payload = {"n": rng.randrange(1 << 30), "s": "x" * rng.randrange(64)}
                await client.call("echo", payload)
            elif roll < 0.55:
                await client.call("work", rng.randrange(1000))
            elif roll < 0.62:
                await client.call("bin", rng.randbytes(rng.randrange(1, 256)))
            elif roll < 0.72:
                room = rng.choice(ROOMS)
                if room in client.rooms:
                    await client.call("leave", room, expect=True)
                    client.rooms.discard(room)
                else:
                    await client.call("join", room, expect=True)
                    client.rooms.add(room)
            elif roll < 0.80 and client.rooms:
                await client.emit("say", {"room": rng.choice(sorted(client.rooms)), "text": "hi"})
            else:
                await client.emit("note", rng.randrange(100))
        except Exception as exc:  # counted and reported; the soak asserts there are none
            if client.ws is not None and not client.ws.closed:
                stats.errors.append(f"{type(exc).__name__}: {exc}")
            return
        await asyncio.sleep(rng.uniform(0.01, 0.05))


async def soak(
    url: str,
    clients: int,
    duration: float,
    *,
    churn_per_s: float = 20.0,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> Stats:
    """Run the soak against *url*; every client has left when this returns."""
    rng = random.Random(seed)
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        live: list[SoakClient] = []
        sem = asyncio.Semaphore(50)  # connect in waves, as a deploy's reconnect storm would

        async def join_one() -> SoakClient:
            client = SoakClient(http, url, stats)
            async with sem:
                await client.connect()
            return client

        live = list(await asyncio.gather(*(join_one() for _ in range(clients))))
        if progress:
            progress(f"{len(live)} clients connected")
        deadline = time.monotonic() + duration
        tasks = {c: asyncio.ensure_future(_traffic(c, random.Random(rng.random()), deadline))
                 for c in live}

        async def replace(victim: SoakClient) -> None:
            task = tasks.pop(victim)
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await victim.close()
            try:
                fresh = await join_one()
            except Exception as exc:
                stats.errors.append(f"reconnect: {type(exc).__name__}: {exc}")
                return
            live.append(fresh)
            tasks[fresh] = asyncio.ensure_future(
                _traffic(fresh, random.Random(rng.random()), deadline)
            )

        # Replace clients at churn_per_s until the deadline (bounded by it), concurrently:
        # a client's goodbye takes a round trip, the next one does not wait for it.
        replacing: list[asyncio.Future[None]] = []
        interval = 1.0 / churn_per_s if churn_per_s > 0 else None
        while interval is not None and time.monotonic() + interval < deadline:
            await asyncio.sleep(interval)
            if len(live) > 1:
                victim = live.pop(rng.randrange(len(live)))
                replacing.append(asyncio.ensure_future(replace(victim)))
        if interval is None:
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        await asyncio.gather(*replacing)
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await asyncio.gather(*(c.close() for c in live))
    return stats


# -- command line ------------------------------------------------------------------------------


async def _serve(port: int) -> None:
    app = await NestFactory.create(make_module())
    state: dict[str, int] = {}

    async def counts(_request: web.Request) -> web.Response:
        gc.collect()
        result: dict[str, Any] = dict(internal_counts(app, state.get("base", 0)))
        if _request.query.get("tasks"):
            result["task_list"] = [repr(t.get_coro()) for t in asyncio.all_tasks()]
        return web.json_response(result)

    app.http_app.router.add_get("/_soak/counts", counts)
    await app.listen(port, "127.0.0.1")
    state["base"] = len(asyncio.all_tasks())
    print("ready", flush=True)
    await asyncio.Event().wait()


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    port = args.port or _free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
        [sys.executable, "-m", "benchmarks.soak", "--serve", str(port)],
        stdout=subprocess.PIPE, env={**os.environ, "NESTPY_LOG_LEVEL": "warning"},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
        assert line.strip() == b"ready", line
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async def counts() -> dict[str, int]:
                async with http.get(url + "/_soak/counts") as resp:
                    result: dict[str, int] = await resp.json()
                    return result

            # Warm-up: python-engineio starts its service task with the first session, and a
            # closed session's ping task only ends at its next ping (ping_interval, 25 s):
            # wait (bounded, 30 s) for the warm-up session to be fully released.
            await soak(url, 1, 0.2, churn_per_s=0)
            first = await counts()
            before = first
            for _ in range(300):
                await asyncio.sleep(0.1)
                before = await counts()
                if before["sessions"] == 0 and before["tasks"] < first["tasks"]:
                    break
            waves: list[dict[str, Any]] = []
            for _wave in range(args.waves):
                started = time.monotonic()
                stats = await soak(url, args.clients, args.duration, churn_per_s=args.churn,
                                   progress=lambda m: print(m, file=sys.stderr))
                elapsed = time.monotonic() - started
                after = before
                settle_started = time.monotonic()
                for _ in range(400):  # up to 40 s: sessions are fully released a ping later
                    after = await counts()
                    if all(after[k] <= before[k]
                           for k in ("sessions", "sockets", "rooms", "tasks")):
                        break
                    await asyncio.sleep(0.1)
                waves.append({
                    "elapsed_s": round(elapsed, 1), **stats.summary(),
                    "acks_per_s": round(stats.acks / elapsed), "after": after,
                    "settled_after_s": round(time.monotonic() - settle_started, 1),
                })
        cpu = _proc_cpu(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "clients": args.clients, "duration_s": args.duration, "churn_per_s": args.churn,
        "server_cpu_s": cpu, "before": before, "waves": waves,
    }


def _proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    """Entry point: ``python -m benchmarks.soak [--clients N] [--duration S] [--churn R]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of traffic")
    parser.add_argument("--churn", type=float, default=20.0, help="clients replaced per second")
    parser.add_argument("--waves", type=int, default=1,
                        help="soaks in a row against the same server (counts after each)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients > 5000 or args.duration > 1800 or not 1 <= args.waves <= 10:
        parser.error("bounded: at most 5000 clients, 1800 s and 10 waves")
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return
    print(json.dumps(asyncio.run(_main(args)), indent=2))


if __name__ == "__main__":
    main()
