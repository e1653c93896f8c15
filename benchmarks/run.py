"""Run the benchmark suite: ``python -m benchmarks.run [options]`` from the repository root.

Every scenario runs each selected peer server in its own process, in alternating order from
one repetition to the next, under the same Node load generator (official socket.io-client,
websocket transport). Server CPU per operation comes from /proc/<pid>/stat over the measured
window, RSS from /proc/<pid>/status. Medians over the repetitions are printed as Markdown
tables with ratios to NestJS and to raw python-socketio, saved as JSON under
benchmarks/results/, and drawn to docs/img/benchmark.png. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import _report
from benchmarks._loadgen import DEFAULT_SIZES, LOADGEN, QUICK_SIZES, Sizes, drive
from benchmarks._peers import BENCH_DIR, PEERS, REPO_ROOT, PeerUnavailable, ServerProcess

SCENARIOS = ("ack", "fanout", "room", "connect", "redis")
DEFAULT_SCENARIOS = "ack,fanout,room,connect"
DEFAULT_SERVERS = "raw,raw-fast,nestpy,nestpy-fast,nestjs,socketio"
RESULTS_DIR = BENCH_DIR / "results"
CHART = REPO_ROOT / "docs" / "img" / "benchmark.png"


def _csv(value: str, allowed: tuple[str, ...] | list[str], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown)}; choose from {', '.join(allowed)}"
        )
    return items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line interface."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument(
        "--servers",
        default=DEFAULT_SERVERS,
        help=f"comma-separated peers (default: {DEFAULT_SERVERS})",
    )
    p.add_argument(
        "--scenarios",
        default=DEFAULT_SCENARIOS,
        help=f"comma-separated, from {','.join(SCENARIOS)} (default: {DEFAULT_SCENARIOS})",
    )
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 3; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run under a minute")
    p.add_argument("--clients", type=int, help="ack: concurrent clients")
    p.add_argument("--receivers", type=int, help="fanout/room/redis: receiving sockets")
    p.add_argument("--connections", type=int, help="connect: sockets opened in the storm")
    p.add_argument("--duration", type=float, help="seconds in each measured window")
    p.add_argument("--warmup", type=float, help="seconds of load before each window")
    p.add_argument("--burst", type=int, help="fanout: ticks per fanout request")
    p.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="Redis for the cross-node scenario (loopback only)",
    )
    p.add_argument("--pause", type=float, help="seconds of rest between runs (0.3; --quick: 0.1)")
    p.add_argument(
        "--out", type=Path, help="JSON results file (default benchmarks/results/<ts>.json)"
    )
    p.add_argument(
        "--chart",
        type=Path,
        help="PNG chart path (default: docs/img/benchmark.png for a full default run, "
        "else next to the JSON)",
    )
    p.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    p.add_argument(
        "--report",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="run nothing: print the tables of saved results (merged) and draw --chart if given",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the Python servers over each measured window (collapsed stacks saved "
        "next to the JSON; perturbs the numbers, so do not publish a profiled run)",
    )
    args = p.parse_args(argv)
    try:
        args.servers = _csv(args.servers, list(PEERS), "server")
        args.scenarios = _csv(args.scenarios, SCENARIOS, "scenario")
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.pause is None:
        args.pause = 0.1 if args.quick else 0.3
    return args


def _sizes(args: argparse.Namespace) -> Sizes:
    sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Sizes)
        if getattr(args, f.name, None) is not None
    }
    return dataclasses.replace(sizes, **overrides)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _redis_reachable(url: str) -> bool:
    host_port = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=1):
            return True
    except OSError:
        return False


def _cmd_out(cmd: list[str]) -> str | None:
    try:
        return (
            subprocess.run(
                cmd, capture_output=True, text=True, timeout=10, cwd=REPO_ROOT
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        return None


def _npm_version(pkg_dir: str, name: str) -> str | None:
    path = BENCH_DIR / pkg_dir / "node_modules" / name / "package.json"
    try:
        version: str = json.loads(path.read_text())["version"]
        return version
    except (OSError, ValueError, KeyError):
        return None


def environment() -> dict[str, Any]:
    """What the numbers were measured on."""
    from importlib import metadata

    def dist(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "node": _cmd_out(["node", "--version"]),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "git_commit": _cmd_out(["git", "rev-parse", "--short", "HEAD"]),
        # The peers import nestpy from the work tree: say whether it differed from the commit.
        "nestpy_tree_dirty": bool(_cmd_out(["git", "status", "--porcelain", "--", "nestpy"])),
        "packages": {
            "python-socketio": dist("python-socketio"),
            "python-engineio": dist("python-engineio"),
            "aiohttp": dist("aiohttp"),
            "uvloop": dist("uvloop"),
            "orjson": dist("orjson"),
            "nestpy-io": dist("nestpy-io"),
            "@nestjs/core": _npm_version("peers/nestjs", "@nestjs/core"),
            "@nestjs/websockets": _npm_version("peers/nestjs", "@nestjs/websockets"),
            "socket.io (nestjs)": _npm_version("peers/nestjs", "socket.io"),
            "socket.io (plain)": _npm_version("peers/socketio", "socket.io"),
            "socket.io-client": _npm_version("load", "socket.io-client"),
        },
    }


def run_one(
    scenario: str, name: str, sizes: Sizes, redis_url: str, profile_to: Path | None = None
) -> dict[str, Any]:
    """Start the server(s), drive the load, stop them; return the run record."""
    spec = PEERS[name]
    record: dict[str, Any] = {"scenario": scenario, "server": name, "ok": False}
    servers: list[ServerProcess] = []
    try:
        # redis: sender on node A, receivers on node B, both on the same Redis.
        for _ in range(2 if scenario == "redis" else 1):
            servers.append(
                ServerProcess(spec, redis_url=redis_url if scenario == "redis" else None)
            )
        for server in servers:
            server.wait_ready()
        record["data"] = drive(scenario, servers, sizes, profile_to)
        for server in servers:
            if server.proc.poll() is not None:
                raise RuntimeError(f"server exited during the run:\n{server.output()}")
        record["ok"] = True
    except PeerUnavailable as exc:
        record["error"] = f"unsupported: {exc}"
        record["unsupported"] = True
    except Exception as exc:  # one failed run must not end the suite
        tails = "\n".join(s.output()[-1500:] for s in servers)
        record["error"] = f"{type(exc).__name__}: {exc}\n{tails}".strip()
    finally:
        for server in servers:
            server.stop()
    return record


def _progress(rec: dict[str, Any], rep: int, reps: int) -> str:
    head = f"[{rec['scenario']} {rep + 1}/{reps}] {rec['server']:<12}"
    if not rec["ok"]:
        return f"{head} FAILED: {rec['error'].splitlines()[0][:160]}"
    d = rec["data"]
    lat = d.get("latency_ms") or {}
    extra = f", {d['rss_per_conn_kib']} KiB/conn" if "rss_per_conn_kib" in d else ""
    return (
        f"{head} {d['throughput']:>10,.0f} {_report.UNITS[rec['scenario']]}/s  "
        f"CPU {d['cpu_us_per_op']} µs/{_report.OP[rec['scenario']]}  "
        f"p50 {lat.get('p50')} ms p99 {lat.get('p99')} ms  "
        f"(server CPU {100 * d['server_cpu_util']:.0f} %, loadgen {d['loadgen_cpu_s']} s){extra}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios against the selected peers; print, save and chart."""
    args = parse_args(argv)
    if args.report:
        return report_files(args.report, None if args.no_chart else args.chart)
    sizes = _sizes(args)
    if shutil.which("node") is None:
        _log("node is not on PATH: install Node >= 20, then run benchmarks/setup.sh")
        return 2
    if not (LOADGEN.parent / "node_modules").is_dir():
        _log("benchmarks/load/node_modules is missing: run benchmarks/setup.sh")
        return 2
    servers: list[str] = []
    skipped: dict[str, str] = {}
    for name in args.servers:
        reason = PEERS[name].missing()
        if reason:
            skipped[name] = reason
            _log(f"skipping {name}: {reason}")
        else:
            servers.append(name)
    scenarios = list(args.scenarios)
    if "redis" in scenarios and not _redis_reachable(args.redis_url):
        _log(f"skipping scenario redis: no Redis at {args.redis_url}")
        scenarios.remove("redis")
    if not servers or not scenarios:
        _log("nothing to run")
        return 2

    env = environment()
    if env["loadavg_start"][0] > 0.5 * (env["cpus"] or 1):
        _log(
            f"warning: load average {env['loadavg_start']} — other work is running; "
            "numbers will be noisy"
        )
    ts = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out: Path = args.out or RESULTS_DIR / f"{'quick-' if args.quick else ''}{ts}.json"
    profile_dir: Path | None = None
    if args.profile:
        if shutil.which("py-spy") is None:
            _log("--profile needs py-spy on PATH: pip install py-spy")
            return 2
        profile_dir = out.with_name(out.stem + "-profiles")
        profile_dir.mkdir(parents=True, exist_ok=True)
    _log(
        f"benchmark {ts}: servers={','.join(servers)} scenarios={','.join(scenarios)} "
        f"reps={args.reps} sizes={dataclasses.asdict(sizes)}"
    )
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    for scenario in scenarios:
        unsupported: set[str] = set()
        for rep in range(args.reps):
            # Alternate the order (A B C, C B A, A B C…) so drift in machine load and
            # position effects fall on every peer alike.
            order = servers if rep % 2 == 0 else servers[::-1]
            for name in order:
                if name in unsupported:
                    continue
                prof = profile_dir / f"{scenario}-{name}-rep{rep}" if profile_dir else None
                rec = run_one(scenario, name, sizes, args.redis_url, prof)
                rec["rep"] = rep
                rec["loadavg"] = round(os.getloadavg()[0], 2)
                runs.append(rec)
                _log(_progress(rec, rep, args.reps))
                if rec.get("unsupported"):
                    unsupported.add(name)
                time.sleep(args.pause)
    env["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    env["elapsed_s"] = round(time.monotonic() - started, 1)

    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "timestamp": ts,
        "argv": sys.argv[1:] if argv is None else argv,
        "sizes": dataclasses.asdict(sizes),
        "reps": args.reps,
        "servers": servers,
        "skipped": skipped,
        "scenarios": scenarios,
        "environment": env,
        "medians": _report.aggregate(runs),
        "runs": runs,
    }
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    _log(f"\nresults: {out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out}")
    # Only a full default run replaces the docs' chart; a partial or quick one (or a profiled
    # one, whose numbers are perturbed) is drawn next to its JSON.
    full = (
        not args.quick
        and not args.profile
        and args.reps >= 3
        and args.servers == DEFAULT_SERVERS.split(",")
        and args.scenarios == DEFAULT_SCENARIOS.split(",")
    )
    chart = args.chart or (CHART if full else out.with_suffix(".png"))
    report(doc, None if args.no_chart else chart)
    if profile_dir is not None:
        print("\n### py-spy profiles (server side, measured window)\n\n```")
        for path in sorted(profile_dir.glob("*.txt")):
            print("\n".join(_report.profile_summary(path)))
        print("```")
        _log(f"profiles: {profile_dir}")
    return 0 if all(r["ok"] or r.get("unsupported") for r in runs) else 1


def report(doc: dict[str, Any], chart: Path | None) -> None:
    """Print the Markdown tables of a results document and draw its chart."""
    env, runs = doc["environment"], doc["runs"]
    servers = doc["servers"]
    stats = _report.aggregate(runs)
    scenarios = [s for s in SCENARIOS if s in stats]
    dirty = " + uncommitted nestpy changes" if env.get("nestpy_tree_dirty") else ""
    print(
        f"\n## Benchmark {doc['timestamp']} — medians of {doc['reps']} alternating repetitions "
        f"(commit {env['git_commit']}{dirty}, "
        f"load avg {env['loadavg_start'][0]} → {env['loadavg_end'][0]}, "
        f"{env['elapsed_s']:.0f} s)\n"
    )
    print(_report.summary_table(stats, servers))
    for scenario in scenarios:
        print(f"\n### {scenario}\n")
        print(_report.scenario_table(scenario, stats[scenario], servers))
    ratios = _report.nestpy_vs_raw(stats)
    if ratios:
        print("\n### nestpy / raw python-socketio (issue 2 target ≥ 0.95x)\n")
        print("\n".join(f"- {line}" for line in ratios))
    targets = _report.target_checks(stats)
    if targets:
        print("\n### Issue 5 targets\n")
        print("```\n" + "\n".join(targets) + "\n```")
    if chart is not None:
        title = (
            f"nestpy benchmark {doc['timestamp']} — {env['cpus']} cores shared by server and "
            f"load generator; medians of {doc['reps']}"
        )
        drawn = _report.chart(stats, servers, chart, title)
        _log(f"chart: {drawn}" if drawn else "chart skipped: pip install matplotlib")


def report_files(paths: list[Path], chart: Path | None) -> int:
    """``--report``: re-print (and re-chart) saved results; several files are merged."""
    docs = [json.loads(p.read_text()) for p in paths]
    merged = dict(docs[0])
    merged["runs"] = [r for d in docs for r in d["runs"]]
    merged["servers"] = list(dict.fromkeys(s for d in docs for s in d["servers"]))
    merged["timestamp"] = " + ".join(d["timestamp"] for d in docs)
    report(merged, chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
