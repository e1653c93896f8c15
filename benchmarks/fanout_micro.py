"""Fan-out micro-benchmark: python-socketio's AsyncManager vs nestpy's FastAsyncManager.

For each manager in turn (alternating order, several repetitions) a raw
``socketio.AsyncServer`` runs in a child process; this process opens N Engine.IO websocket
clients (minimal asyncio protocols that complete the real Engine.IO/Socket.IO handshake, then
only count bytes, so the load generator stays cheap), asks the server to broadcast K
same-size messages, and waits until every client received all K frames. Reported: deliveries/s
(N*K over wall time) and server CPU µs per delivery (``time.process_time`` in the server, read
before and after over a control route), medians, and the fast/upstream ratios.

    python benchmarks/fanout_micro.py                    # 500 clients x 200 messages x 3
    python benchmarks/fanout_micro.py --clients 200 --messages 100 --reps 5 --uvloop
    python benchmarks/fanout_micro.py --burst 10    # 10 broadcasts per event-loop turn

Bounded: every run has a hard time limit and all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import time
from typing import Any

SERVE = "_serve"
SCRIPT = os.path.abspath(__file__)
RUN_TIMEOUT_S = 120.0


# --------------------------------------------------------------------------- server side


def serve_main(manager_name: str, use_uvloop: bool, use_orjson: bool) -> None:
    """Run the server until stdin closes; print ``PORT <n>`` once listening."""
    import socketio
    from aiohttp import web

    if use_uvloop:
        import uvloop

        uvloop.install()

    from nestpy.websockets._fanout import FastAsyncManager
    from nestpy.websockets._transport import EngineBridge

    manager = FastAsyncManager() if manager_name == "fast" else socketio.AsyncManager()

    class NestEngineServer(socketio.AsyncServer):  # type: ignore[misc]
        """python-socketio on nestpy's Engine.IO server (the fast path's transport)."""

        def _engineio_server_class(self) -> type:
            return EngineBridge

    server_class = NestEngineServer if manager_name == "fast" else socketio.AsyncServer
    kwargs: dict[str, Any] = {}
    if use_orjson:
        import orjson

        class OrjsonModule:
            @staticmethod
            def dumps(obj: Any, **_: Any) -> str:
                return orjson.dumps(obj).decode()

            loads = staticmethod(orjson.loads)

        kwargs["json"] = OrjsonModule
    # Long ping interval: no ping frame may land in the middle of a measured run.
    sio = server_class(
        client_manager=manager, async_mode="aiohttp", ping_interval=300, ping_timeout=60, **kwargs
    )

    async def cpu(_: web.Request) -> web.Response:
        t = os.times()
        return web.json_response({"cpu": time.process_time(), "user": t.user, "sys": t.system})

    async def broadcast(request: web.Request) -> web.Response:
        k = int(request.query["k"])
        burst = int(request.query["burst"])
        data = "x" * int(request.query["size"])
        t0 = time.perf_counter()
        for i in range(k):
            await sio.emit("tick", data)
            if (i + 1) % burst == 0:
                # a burst of broadcasts, as one handler emitting several ticks; then the
                # next burst comes from the next incoming event
                await asyncio.sleep(0)
        return web.json_response({"emit_s": time.perf_counter() - t0})

    async def main() -> None:
        app = web.Application()
        sio.attach(app)
        app.router.add_get("/bench/cpu", cpu)
        app.router.add_get("/bench/broadcast", broadcast)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(f"PORT {runner.addresses[0][1]}", flush=True)
        loop = asyncio.get_running_loop()
        # Exit when the parent closes our stdin (or dies).
        await loop.run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


# --------------------------------------------------------------------------- load side


def ws_frame_len(payload_len: int) -> int:
    """Length on the wire of an unmasked server frame carrying *payload_len* bytes."""
    return payload_len + (2 if payload_len < 126 else 4 if payload_len < 65536 else 10)


class RawClient(asyncio.Protocol):
    """An Engine.IO v4 websocket client that, once connected to "/", only counts bytes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.state = "http"
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.done: asyncio.Future[None] | None = None
        self.received = 0
        self.expected = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def _send_text(self, text: str) -> None:
        payload = text.encode()
        assert len(payload) < 126 and self.transport is not None
        # Client frames must be masked; an all-zero mask leaves the payload as it is.
        self.transport.write(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    def _next_frame(self) -> bytes | None:
        b = self.buf
        if len(b) < 2:
            return None
        n, off = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = int.from_bytes(b[2:4], "big"), 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = int.from_bytes(b[2:10], "big"), 10
        if len(b) < off + n:
            return None
        self.buf = b[off + n :]
        return b[off : off + n]

    def data_received(self, data: bytes) -> None:
        if self.state == "count":
            self.received += len(data)
            if self.done is not None and self.received >= self.expected and not self.done.done():
                self.done.set_result(None)
            return
        self.buf += data
        if self.state == "http":
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.buf, self.state = rest, "eio-open"
        while (frame := self._next_frame()) is not None:
            if self.state == "eio-open" and frame.startswith(b"0"):
                self._send_text("40")  # Socket.IO CONNECT to "/"
                self.state = "sio-connect"
            elif self.state == "sio-connect" and frame.startswith(b"40"):
                self.state = "count"
                self.received = len(self.buf)
                self.buf = b""
                self.ready.set_result(None)
                return

    def expect(self, nbytes: int) -> asyncio.Future[None]:
        self.expected = nbytes
        self.done = asyncio.get_running_loop().create_future()
        if self.received >= nbytes:
            self.done.set_result(None)
        return self.done

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in (self.ready, self.done):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError(f"lost: {exc}"))


async def http_get(port: int, path: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    return dict(json.loads(raw.partition(b"\r\n\r\n")[2]))


async def one_run(manager: str, args: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, SCRIPT, SERVE, manager]
    cmd += ["--uvloop"] if args.uvloop else []
    cmd += ["--orjson"] if args.orjson else []
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdin is not None
    clients: list[RawClient] = []
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        port = int(line.split()[1])
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(50)

        async def connect() -> None:
            async with sem:
                _, client = await loop.create_connection(lambda: RawClient(port), "127.0.0.1", port)
                clients.append(client)
                await asyncio.wait_for(client.ready, 10)

        await asyncio.gather(*(connect() for _ in range(args.clients)))
        # 42["tick","xxx…"]: the Engine.IO MESSAGE + Socket.IO EVENT text of one broadcast
        payload_len = len(f'42["tick","{"x" * args.size}"]')
        per_client = args.messages * ws_frame_len(payload_len)
        waits = [c.expect(per_client) for c in clients]
        c0 = await http_get(port, "/bench/cpu")
        t0 = time.perf_counter()
        emit = asyncio.ensure_future(
            http_get(
                port, f"/bench/broadcast?k={args.messages}&size={args.size}&burst={args.burst}"
            )
        )
        await asyncio.wait_for(asyncio.gather(*waits), RUN_TIMEOUT_S)
        wall = time.perf_counter() - t0
        await emit
        c1 = await http_get(port, "/bench/cpu")
        deliveries = args.clients * args.messages
        return {
            "deliveries_per_s": deliveries / wall,
            "cpu_us_per_delivery": (c1["cpu"] - c0["cpu"]) / deliveries * 1e6,
            # os.times() ticks are coarse (10 ms): the user/kernel split is indicative only
            "user_us_per_delivery": (c1["user"] - c0["user"]) / deliveries * 1e6,
            "sys_us_per_delivery": (c1["sys"] - c0["sys"]) / deliveries * 1e6,
            "wall_s": wall,
        }
    finally:
        for c in clients:
            if c.transport is not None:
                c.transport.close()
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    managers = ["upstream", "fast"]
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in managers}
    for rep in range(args.reps):
        for m in managers if rep % 2 == 0 else managers[::-1]:
            r = await one_run(m, args)
            runs[m].append(r)
            print(
                f"  rep {rep + 1} {m:<8} {r['deliveries_per_s']:>10,.0f} deliveries/s "
                f"{r['cpu_us_per_delivery']:>7.1f} µs CPU/delivery "
                f"(user {r['user_us_per_delivery']:.1f} + kernel {r['sys_us_per_delivery']:.1f}) "
                f"({r['wall_s']:.2f} s)",
                flush=True,
            )
    med = {m: {k: statistics.median(r[k] for r in runs[m]) for k in runs[m][0]} for m in managers}
    return {"config": vars(args), "runs": runs, "median": med}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == SERVE:
        serve_main(sys.argv[2], "--uvloop" in sys.argv, "--orjson" in sys.argv)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500, help="receivers (default 500)")
    parser.add_argument("--messages", type=int, default=200, help="broadcasts per run")
    parser.add_argument("--size", type=int, default=32, help="payload string length")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per manager")
    parser.add_argument(
        "--burst", type=int, default=1, help="broadcasts per event-loop turn (default 1)"
    )
    parser.add_argument("--uvloop", action="store_true", help="run the server on uvloop")
    parser.add_argument("--orjson", action="store_true", help="server json= orjson")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args()
    if not (1 <= args.clients <= 2000 and 1 <= args.messages <= 5000 and 1 <= args.reps <= 10):
        parser.error("keep it bounded: clients <= 2000, messages <= 5000, reps <= 10")
    out = asyncio.run(bench(args))
    med = out["median"]
    up, fast = med["upstream"], med["fast"]
    print(
        f"\nmedians ({args.clients} receivers x {args.messages} broadcasts in bursts of "
        f"{args.burst}, {args.reps} reps, "
        f"{'uvloop' if args.uvloop else 'asyncio'}{' + orjson' if args.orjson else ''})"
    )
    header = f"{'manager':<10}{'deliveries/s':>14}{'server CPU µs/delivery':>25}"
    print(f"{header}{'(user + kernel)':>18}")
    for name, m in (("upstream", up), ("fast", fast)):
        split = f"{m['user_us_per_delivery']:.1f} + {m['sys_us_per_delivery']:.1f}"
        print(
            f"{name:<10}{m['deliveries_per_s']:>14,.0f}{m['cpu_us_per_delivery']:>25.1f}{split:>18}"
        )
    print(
        f"fast/upstream: throughput x{fast['deliveries_per_s'] / up['deliveries_per_s']:.2f}, "
        f"CPU per delivery x{fast['cpu_us_per_delivery'] / up['cpu_us_per_delivery']:.2f}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
