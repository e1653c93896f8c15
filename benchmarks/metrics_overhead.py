"""Per-message cost of ``app.enable_metrics()``: the ack round trip with metrics off and on.

A nestpy app with one ``echo`` handler runs in a child process (metrics off or on); this
process drives it over one raw Engine.IO websocket (no client library in the measurement):
``42/bench,<id>["echo",<i>]`` out, ``43/bench,<id>[<i>]`` back, sequentially. Reported per
mode: median round trip (µs) and server CPU per message (µs, ``time.process_time`` in the
server, read over a control route before and after), and the metrics' extra server CPU per
message as a percentage of the round trip. Modes alternate within each repetition (the box
is shared and noisy: read the ratios of one run, not absolute numbers).

    python benchmarks/metrics_overhead.py                  # 3 reps x 3000 messages
    python benchmarks/metrics_overhead.py --messages 5000 --reps 5

Bounded: a hard time limit per run; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Annotated, Any

from nestpy import Module, NestFactory
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

SCRIPT = os.path.abspath(__file__)
RUN_TIMEOUT_S = 120.0
NS = "/bench"


@WebSocketGateway(namespace="bench", ping_interval=300, ping_timeout=60)
class BenchGateway:
    """One sync echo handler: the cheapest ack round trip nestpy has."""

    @SubscribeMessage("echo")
    def echo(self, data: Annotated[Any, MessageBody()]) -> Any:
        return data


@Module(providers=[BenchGateway])
class BenchModule: ...


def serve_main(mode: str) -> None:
    """Serve the echo gateway until stdin closes; print ``PORT <n>`` once listening."""
    from aiohttp import web

    async def main() -> None:
        app = await NestFactory.create(BenchModule)
        if mode == "on":
            app.enable_metrics()

        async def cpu(_: web.Request) -> web.Response:
            return web.json_response({"cpu": time.process_time()})

        app.http_app.router.add_get("/cpu", cpu)
        await app.listen(0, "127.0.0.1")
        print(f"PORT {app.ports[None]}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        await app.close()

    asyncio.run(main())


async def drive(port: int, messages: int) -> tuple[float, float]:
    """Median round trip (s) and server CPU per message (s) over *messages* acks."""
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{base}/socket.io/?EIO=4&transport=websocket") as ws:
            opened = await ws.receive_str()
            assert opened.startswith("0"), opened
            await ws.send_str(f"40{NS},")
            while not (await ws.receive_str()).startswith(f"40{NS},"):
                pass

            async def call(i: int) -> None:
                await ws.send_str(f'42{NS},{i}["echo",{i}]')
                while True:
                    frame = await ws.receive_str()
                    if frame.startswith(f"43{NS},{i}["):
                        return
                    if frame == "2":  # a ping: answer it, keep waiting
                        await ws.send_str("3")

            for i in range(200):  # warm up
                await call(i)
            async with http.get(f"{base}/cpu") as r:
                cpu0 = (await r.json())["cpu"]
            rtts = []
            for i in range(messages):
                t0 = time.perf_counter()
                await call(i)
                rtts.append(time.perf_counter() - t0)
            async with http.get(f"{base}/cpu") as r:
                cpu1 = (await r.json())["cpu"]
    return statistics.median(rtts), (cpu1 - cpu0) / messages


async def micro(mode: str, calls: int) -> float:
    """Seconds per call of the compiled ``echo`` handler as the server dispatches it
    (no ack requested, so no socket is needed), with the metrics wrapper or without."""
    app = await NestFactory.create(BenchModule)
    if mode == "on":
        app.enable_metrics()
    await app.init()
    assert app._registry is not None
    runtime = app._registry.all_servers()[0].gateway_for(NS)
    assert runtime is not None
    run = runtime.handlers["echo"].run
    sock: Any = None
    best = float("inf")
    for _ in range(5):  # best of 5 batches: the least disturbed by the shared machine
        t0 = time.perf_counter()
        for i in range(calls):
            await run(sock, i, None)
        best = min(best, (time.perf_counter() - t0) / calls)
    await app.close()
    return best


def run_mode(mode: str, messages: int) -> tuple[float, float]:
    child = subprocess.Popen(
        [sys.executable, SCRIPT, "_serve", mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"server did not start: {line!r}")
        return asyncio.run(asyncio.wait_for(drive(int(line.split()[1]), messages),
                                            RUN_TIMEOUT_S))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_serve":
        serve_main(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    for rep in range(args.reps):
        order = ("off", "on") if rep % 2 == 0 else ("on", "off")
        for mode in order:
            results[mode].append(run_mode(mode, args.messages))
    calls = 20_000
    micro_runs: dict[str, list[float]] = {"off": [], "on": []}
    for mode in ("off", "on", "on", "off"):
        micro_runs[mode].append(asyncio.run(micro(mode, calls)))
    micro_s = {m: min(v) for m, v in micro_runs.items()}
    rtt = {m: statistics.median(r[0] for r in v) for m, v in results.items()}
    # per repetition, on minus off (the pair ran back to back): the median of those
    paired = statistics.median(
        on[1] - off[1] for on, off in zip(results["on"], results["off"], strict=True)
    )
    cpu = {m: statistics.median(r[1] for r in v) for m, v in results.items()}
    extra = paired
    report = {
        "messages": args.messages,
        "reps": args.reps,
        "rtt_us": {m: round(v * 1e6, 1) for m, v in rtt.items()},
        "server_cpu_us_per_message": {m: round(v * 1e6, 2) for m, v in cpu.items()},
        "metrics_cpu_us_per_message_paired_median": round(extra * 1e6, 2),
        "metrics_cost_pct_of_rtt": round(100 * extra / rtt["off"], 2),
        "rtt_ratio_on_off": round(rtt["on"] / rtt["off"], 3),
        "handler_call_us": {m: round(v * 1e6, 3) for m, v in micro_s.items()},
        "wrapper_us_per_message": round((micro_s["on"] - micro_s["off"]) * 1e6, 3),
        "wrapper_pct_of_rtt": round(100 * (micro_s["on"] - micro_s["off"]) / rtt["off"], 2),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
