"""Drive the Node load generator against running peers and measure the servers from /proc."""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._peers import BENCH_DIR, PY, ProcSample, ServerProcess, sample

LOADGEN = BENCH_DIR / "load" / "loadgen.js"


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big and how long each scenario runs."""

    clients: int = 50  # ack: concurrent closed-loop clients
    receivers: int = 500  # fanout/room/redis: receiving sockets
    connections: int = 1000  # connect: sockets opened in the storm
    burst: int = 10  # fanout: ticks per request
    warmup: float = 1.0  # seconds before the measured window
    duration: float = 4.0  # seconds in the measured window


DEFAULT_SIZES = Sizes()
QUICK_SIZES = Sizes(clients=10, receivers=50, connections=100, burst=5, warmup=0.2, duration=0.7)


def loadgen_args(scenario: str, sizes: Sizes) -> list[str]:
    """Command-line options of loadgen.js for *scenario*."""
    common = [
        "--scenario",
        scenario,
        "--warmup",
        str(sizes.warmup),
        "--duration",
        str(sizes.duration),
    ]
    if scenario == "ack":
        return [*common, "--clients", str(sizes.clients)]
    if scenario in ("fanout", "room", "redis"):
        return [*common, "--receivers", str(sizes.receivers), "--burst", str(sizes.burst)]
    if scenario == "connect":
        return [*common, "--receivers", str(sizes.connections)]
    raise ValueError(f"unknown scenario {scenario!r}")


class _Marks:
    """Samples of every server's /proc counters, taken when the load generator marks a phase."""

    def __init__(self, servers: list[ServerProcess], profile: list[str] | None) -> None:
        self.servers = servers
        self.samples: dict[str, list[ProcSample]] = {}
        self.stderr: list[str] = []
        self.profile = profile  # py-spy command prefix; the server pid is appended
        self.profilers: list[subprocess.Popen[bytes]] = []

    def read(self, stream: Any) -> None:
        for line in stream:
            if line.startswith("MARK "):
                name = line[5:].strip()
                # Sample immediately: the window edges are what CPU per operation divides by.
                try:
                    self.samples[name] = [sample(s.pid) for s in self.servers]
                except OSError as exc:  # the server died; drive() reports the missing mark
                    self.stderr.append(f"cannot sample the server at MARK {name}: {exc}")
                    continue
                if name == "start" and self.profile:
                    self._start_profilers()
            else:
                self.stderr.append(line.rstrip())

    def _start_profilers(self) -> None:
        assert self.profile is not None
        for i, server in enumerate(self.servers):
            if server.spec.argv[0] != PY:
                continue  # py-spy profiles Python only
            out = self.profile[-1] + (f".node{i}" if len(self.servers) > 1 else "") + ".txt"
            cmd = [*self.profile[:-1], "--pid", str(server.pid), "-o", out]
            self.profilers.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )

    def wait_profilers(self) -> None:
        for p in self.profilers:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def drive(
    scenario: str,
    servers: list[ServerProcess],
    sizes: Sizes,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """Run one load-generator pass against *servers* (sender on [0], receivers on [-1]).

    With *profile_to* (a path without suffix), each Python server is sampled by py-spy over
    the measured window into ``<profile_to>.txt`` (collapsed stacks).

    Returns the load generator's JSON merged with the harness's measurements:
    ``server_cpu_s`` (sum over servers, over the measured window), ``cpu_us_per_op``,
    ``rss_kib`` (receiving server, at the end of the window) and, for ``connect``,
    ``rss_per_conn_kib``.
    """
    url = f"http://127.0.0.1:{servers[0].port}"
    cmd = ["node", str(LOADGEN), "--url", url, *loadgen_args(scenario, sizes)]
    if len(servers) > 1:
        cmd += ["--url2", f"http://127.0.0.1:{servers[-1].port}"]
    profile = None
    if profile_to is not None:
        seconds = str(max(1, int(sizes.duration)))
        profile = [
            "py-spy",
            "record",
            "--nonblocking",
            "--rate",
            "250",
            "--format",
            "raw",
            "--duration",
            seconds,
            str(profile_to),
        ]
    marks = _Marks(servers, profile)
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out_lines: list[str] = []
    # Both pipes are drained by threads: stderr carries the marks, which must be acted on
    # the moment they arrive, and communicate() would read it too.
    reader = threading.Thread(target=marks.read, args=(proc.stderr,), daemon=True)
    collector = threading.Thread(target=lambda: out_lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    collector.start()
    try:
        proc.wait(timeout=sizes.warmup + sizes.duration + 90)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError("load generator timed out") from None
    reader.join(5)
    collector.join(5)
    marks.wait_profilers()
    out = "".join(out_lines)
    if proc.returncode != 0:
        raise RuntimeError(
            f"load generator failed (exit {proc.returncode}): " + "\n".join(marks.stderr[-15:])
        )
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    if "start" not in marks.samples or "end" not in marks.samples:
        raise RuntimeError("no /proc samples for the window: " + "\n".join(marks.stderr[-5:]))
    start, end = marks.samples["start"], marks.samples["end"]
    cpu = [e.cpu_s - s.cpu_s for s, e in zip(start, end, strict=True)]
    result["server_cpu_s"] = round(sum(cpu), 3)
    if len(servers) > 1:
        result["server_cpu_s_each"] = [round(c, 3) for c in cpu]
    result["harness_window_s"] = round(end[0].t - start[0].t, 3)
    ops = result["ops"]
    result["cpu_us_per_op"] = round(sum(cpu) * 1e6 / ops, 2) if ops else None
    result["server_cpu_util"] = round(sum(cpu) / max(end[0].t - start[0].t, 1e-9), 3)
    result["rss_kib"] = end[-1].rss_kib
    if scenario == "connect":
        base, settled = marks.samples["baseline"][-1], marks.samples["settled"][-1]
        result["rss_baseline_kib"] = base.rss_kib
        result["rss_settled_kib"] = settled.rss_kib
        result["rss_per_conn_kib"] = (
            round((settled.rss_kib - base.rss_kib) / ops, 2) if ops else None
        )
    return result
