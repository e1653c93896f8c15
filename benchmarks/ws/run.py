"""Plain WebSocket benchmark: ``python -m benchmarks.ws.run [options]`` from the repository root.

Peers: nestpy's plain gateway (``WsAdapter``), NestJS 12 on ``@nestjs/platform-ws``, and a raw
aiohttp server doing the same job by hand. Scenarios: ``rr`` (request/reply round trips, 50
closed-loop clients) and ``broadcast`` (one sender, bursts broadcast to 500 clients; deliveries
counted at the receivers). Each run starts the server in its own process, drives it with Node's
``ws`` client (``loadgen.mjs``) and reads the server's CPU from /proc over the measured window;
repetitions alternate the peer order; medians are printed as a Markdown table with ratios.
Setup: ``bash benchmarks/ws/setup.sh``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._peers import PY, PeerSpec, ServerProcess, sample

HERE = Path(__file__).resolve().parent
PEERS = {
    "nestpy-ws": PeerSpec("nestpy-ws", "nestpy plain gateway (WsAdapter)",
                          (PY, str(HERE / "nestpy_ws_server.py"))),
    "nestjs-ws": PeerSpec("nestjs-ws", "NestJS 12 + @nestjs/platform-ws",
                          ("node", str(HERE / "nestjs_ws.mjs"))),
    "raw-aiohttp": PeerSpec("raw-aiohttp", "raw aiohttp websocket server",
                            (PY, str(HERE / "raw_aiohttp_ws.py"))),
}
SCENARIOS = ("rr", "broadcast")


def run_one(name: str, scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    """One server, one load generator run; throughput and server CPU per operation."""
    with ServerProcess(PEERS[name]) as server:
        server.wait_ready()
        cmd = ["node", str(HERE / "loadgen.mjs"), "--url", f"ws://127.0.0.1:{server.port}/ws",
               "--scenario", scenario, "--clients", str(args.clients), "--receivers",
               str(args.receivers), "--burst", str(args.burst), "--warmup", str(args.warmup),
               "--duration", str(args.duration)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        marks: dict[str, Any] = {}
        result: dict[str, Any] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("MARK "):
                marks[line.split()[1]] = sample(server.pid)
            elif line.startswith("{"):
                result = json.loads(line)
        proc.wait(timeout=60)
        if proc.returncode != 0 or not result:
            raise RuntimeError(f"load generator failed ({proc.returncode}): {server.output()}")
        cpu = marks["end"].cpu_s - marks["start"].cpu_s
        window = marks["end"].t - marks["start"].t
        result["server_cpu_util"] = cpu / window
        result["cpu_us_per_op"] = 1e6 * cpu / max(result["count"], 1)
        result["rss_mib"] = marks["end"].rss_kib / 1024
        return result


def main(argv: list[str] | None = None) -> int:
    """Run, alternate, print medians and ratios; save JSON next to the other results."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.ws.run")
    p.add_argument("--servers", default=",".join(PEERS))
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--receivers", type=int, default=500)
    p.add_argument("--burst", type=int, default=10)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    servers = [s for s in args.servers.split(",") if s]
    scenarios = [s for s in args.scenarios.split(",") if s]
    runs: list[dict[str, Any]] = []
    for scenario in scenarios:
        for rep in range(args.reps):
            order = servers if rep % 2 == 0 else servers[::-1]
            for name in order:
                rec = {"server": name, "scenario": scenario, "rep": rep,
                       **run_one(name, scenario, args)}
                runs.append(rec)
                print(f"[{scenario} {rep + 1}/{args.reps}] {name:<12} "
                      f"{rec['throughput']:>10,.0f}/s  CPU {rec['cpu_us_per_op']:.1f} µs/op  "
                      f"p50 {rec['latency_ms']['p50']} ms  "
                      f"(server CPU {100 * rec['server_cpu_util']:.0f} %)",
                      file=sys.stderr, flush=True)
                time.sleep(0.3)
    print(table(runs, servers, scenarios))
    out = args.out or HERE.parent / "results" / f"ws-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"argv": sys.argv[1:] if argv is None else argv,
                               "runs": runs}, indent=1) + "\n")
    print(f"\nresults: {out}", file=sys.stderr)
    return 0


def table(runs: list[dict[str, Any]], servers: list[str], scenarios: list[str]) -> str:
    """Markdown: medians per peer and scenario, with ratios to NestJS and to raw aiohttp."""
    lines = ["| scenario | server | throughput /s | CPU µs/op | p50 ms | p99 ms | "
             "x NestJS ws | x raw aiohttp |", "|---|---|---|---|---|---|---|---|"]
    for scenario in scenarios:
        med: dict[str, dict[str, float]] = {}
        for name in servers:
            rs = [r for r in runs if r["server"] == name and r["scenario"] == scenario]
            if rs:
                med[name] = {
                    "tp": statistics.median(r["throughput"] for r in rs),
                    "cpu": statistics.median(r["cpu_us_per_op"] for r in rs),
                    "p50": statistics.median(r["latency_ms"]["p50"] or 0 for r in rs),
                    "p99": statistics.median(r["latency_ms"]["p99"] or 0 for r in rs),
                }
        nj = med.get("nestjs-ws", {}).get("tp")
        raw = med.get("raw-aiohttp", {}).get("tp")
        for name, m in med.items():
            vs_nj = f"{m['tp'] / nj:.2f}" if nj else "-"
            vs_raw = f"{m['tp'] / raw:.2f}" if raw else "-"
            lines.append(
                f"| {scenario} | {name} | {m['tp']:,.0f} | {m['cpu']:.1f} | {m['p50']:.2f} | "
                f"{m['p99']:.2f} | {vs_nj} | {vs_raw} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
