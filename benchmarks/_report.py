"""Medians, ratio tables (Markdown) and the PNG chart of a benchmark run."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmarks._peers import PEERS

UNITS = {
    "ack": "acks",
    "fanout": "deliveries",
    "room": "deliveries",
    "redis": "deliveries",
    "connect": "connections",
}
OP = {
    "ack": "ack",
    "fanout": "delivery",
    "room": "delivery",
    "redis": "delivery",
    "connect": "connection",
}
_MEDIAN_KEYS = (
    "throughput",
    "p50",
    "p99",
    "cpu_us_per_op",
    "server_cpu_util",
    "rss_kib",
    "rss_per_conn_kib",
    "loadgen_cpu_s",
    "failures",
)


def _flatten(run: dict[str, Any]) -> dict[str, Any]:
    data = dict(run["data"])
    lat = data.pop("latency_ms", {}) or {}
    data["p50"], data["p99"] = lat.get("p50"), lat.get("p99")
    return data


def aggregate(runs: Iterable[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{scenario: {server: {metric: median, ..., "min", "max", "reps", "errors"}}}``."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    errors: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        key = (run["scenario"], run["server"])
        if run.get("ok"):
            grouped.setdefault(key, []).append(_flatten(run))
        else:
            errors.setdefault(key, []).append(str(run.get("error", "?")))
            grouped.setdefault(key, [])
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (scenario, server), reps in grouped.items():
        agg: dict[str, Any] = {"reps": len(reps), "errors": errors.get((scenario, server), [])}
        for k in _MEDIAN_KEYS:
            values = [r[k] for r in reps if r.get(k) is not None]
            agg[k] = statistics.median(values) if values else None
        tput = [r["throughput"] for r in reps]
        agg["min"] = min(tput) if tput else None
        agg["max"] = max(tput) if tput else None
        out.setdefault(scenario, {})[server] = agg
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _fmt(x: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    return "-" if x is None else f"{x:{spec}}{suffix}"


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def scenario_table(scenario: str, stats: dict[str, dict[str, Any]], servers: list[str]) -> str:
    """One Markdown table: throughput, latency, CPU per op and ratios for every server."""
    unit, op = UNITS[scenario], OP[scenario]
    head = [
        "server",
        f"{unit}/s (median)",
        "min-max",
        "p50 ms",
        "p99 ms",
        f"server CPU µs/{op}",
        "server CPU %",
        "x NestJS",
        "CPU x NestJS",
        "x raw (same loop/json)",
        "CPU x raw",
    ]
    if scenario == "connect":
        head.insert(7, "KiB/conn")
    lines = [_row(head), _row("---" for _ in head)]
    nest = stats.get("nestjs", {})
    for name in servers:
        s = stats.get(name)
        if s is None:
            continue
        if not s["reps"]:
            err = s["errors"][0].splitlines()[0][:80] if s["errors"] else "no result"
            lines.append(_row([name, f"failed: {err}", *["-"] * (len(head) - 2)]))
            continue
        base = stats.get(PEERS[name].raw_baseline or "", {})
        cells = [
            name,
            _fmt(s["throughput"]),
            f"{_fmt(s['min'])}-{_fmt(s['max'])}",
            _fmt(s["p50"], ".1f"),
            _fmt(s["p99"], ".1f"),
            _fmt(s["cpu_us_per_op"], ".1f"),
            _fmt(None if s["server_cpu_util"] is None else 100 * s["server_cpu_util"], ".0f"),
            _fmt(_ratio(s["throughput"], nest.get("throughput")), ".2f", "x"),
            _fmt(_ratio(s["cpu_us_per_op"], nest.get("cpu_us_per_op")), ".2f", "x"),
            _fmt(_ratio(s["throughput"], base.get("throughput")), ".2f", "x"),
            _fmt(_ratio(s["cpu_us_per_op"], base.get("cpu_us_per_op")), ".2f", "x"),
        ]
        if scenario == "connect":
            cells.insert(7, _fmt(s["rss_per_conn_kib"], ".1f"))
        lines.append(_row(cells))
    return "\n".join(lines)


def summary_table(stats: dict[str, dict[str, dict[str, Any]]], servers: list[str]) -> str:
    """The issue-5 shape: one row per server, the headline metric of each scenario."""
    cols: list[tuple[str, str, str, str]] = [
        ("ack", "throughput", "acks/s", ",.0f"),
        ("fanout", "throughput", "fan-out deliveries/s", ",.0f"),
        ("room", "throughput", "room deliveries/s", ",.0f"),
        ("connect", "throughput", "connections/s", ",.0f"),
        ("ack", "cpu_us_per_op", "CPU µs/ack", ".1f"),
        ("fanout", "cpu_us_per_op", "CPU µs/delivery", ".1f"),
        ("room", "cpu_us_per_op", "CPU µs/room delivery", ".1f"),
        ("connect", "rss_per_conn_kib", "KiB/conn", ".1f"),
        ("redis", "throughput", "Redis fan-out deliveries/s", ",.0f"),
    ]
    cols = [c for c in cols if c[0] in stats]
    lines = [_row(["server", *(c[2] for c in cols)]), _row(["---"] * (len(cols) + 1))]
    for name in servers:
        cells = [PEERS[name].label]
        for scenario, key, _, spec in cols:
            s = stats[scenario].get(name, {})
            cells.append(_fmt(s.get(key), spec) if s.get("reps") else "-")
        lines.append(_row(cells))
    return "\n".join(lines)


def nestpy_vs_raw(stats: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Issue 2's ask: ratio nestpy/raw per scenario (median over median)."""
    out = []
    for name in ("nestpy", "nestpy-fast"):
        base = PEERS[name].raw_baseline
        parts = []
        for scenario, by_server in stats.items():
            n, r = by_server.get(name, {}), by_server.get(base or "", {})
            ratio = _ratio(n.get("throughput"), r.get("throughput")) if n.get("reps") else None
            if ratio is not None:
                parts.append(f"{scenario} {UNITS[scenario]}/s {ratio:.2f}x")
        if parts:
            out.append(f"{name} / {base}: " + ", ".join(parts))
    return out


def target_checks(stats: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Issue 5's targets, checked for each nestpy variant present in the run."""
    lines = []

    def get(scenario: str, server: str, key: str) -> float | None:
        s = stats.get(scenario, {}).get(server, {})
        return s.get(key) if s.get("reps") else None

    def check(label: str, value: float | None, ok: Callable[[float], bool], fmt: str) -> None:
        if value is not None:
            lines.append(f"  [{'PASS' if ok(value) else 'MISS'}] {label}: {value:{fmt}}")

    for name in ("nestpy", "nestpy-fast"):
        if not any(name in by_server for by_server in stats.values()):
            continue
        header = len(lines)
        for scenario in ("fanout", "ack"):
            r = _ratio(get(scenario, name, "throughput"), get(scenario, "nestjs", "throughput"))
            check(f"{scenario} {UNITS[scenario]}/s ≥ 1.0x NestJS", r, lambda v: v >= 1.0, ".2f")
            c = _ratio(
                get(scenario, name, "cpu_us_per_op"), get(scenario, "nestjs", "cpu_us_per_op")
            )
            check(f"{scenario} CPU/{OP[scenario]} ≤ NestJS (ratio)", c, lambda v: v <= 1.0, ".2f")
        base = PEERS[name].raw_baseline or ""
        for scenario in ("ack", "room", "connect"):
            r = _ratio(get(scenario, name, "throughput"), get(scenario, base, "throughput"))
            check(f"{scenario} {UNITS[scenario]}/s ≥ 0.97x {base}", r, lambda v: v >= 0.97, ".2f")
            # The same overhead seen as server CPU per operation: the steadier number when
            # the client, not the server, bounds throughput (the connect storm).
            c = _ratio(get(scenario, name, "cpu_us_per_op"), get(scenario, base, "cpu_us_per_op"))
            check(
                f"{scenario} CPU/{OP[scenario]} ≤ 1/0.97 of {base}",
                c,
                lambda v: v <= 1 / 0.97,
                ".2f",
            )
        check(
            "RSS per idle connection ≤ 30 KiB",
            get("connect", name, "rss_per_conn_kib"),
            lambda v: v <= 30.0,
            ".1f",
        )
        if len(lines) > header:
            lines.insert(header, f"{name}:")
    return lines


_PANELS: list[tuple[str, str, str]] = [
    ("ack", "throughput", "ack round trips/s"),
    ("fanout", "throughput", "fan-out deliveries/s"),
    ("room", "throughput", "room deliveries/s"),
    ("connect", "throughput", "connections/s (storm)"),
    ("ack", "cpu_us_per_op", "server CPU µs per ack"),
    ("fanout", "cpu_us_per_op", "server CPU µs per delivery"),
    ("room", "cpu_us_per_op", "server CPU µs per room delivery"),
    ("connect", "rss_per_conn_kib", "server RSS KiB per connection"),
    ("redis", "throughput", "cross-node (Redis) deliveries/s"),
    ("redis", "cpu_us_per_op", "server CPU µs per Redis delivery (A+B)"),
]


def chart(
    stats: dict[str, dict[str, dict[str, Any]]], servers: list[str], path: Path, title: str
) -> Path | None:
    """Bar chart of the medians (min-max whiskers on throughput); None if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = [
        p for p in _PANELS if any(stats.get(p[0], {}).get(s, {}).get("reps") for s in servers)
    ]
    if not panels:
        return None
    ncols = 4 if len(panels) > 3 else len(panels)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, (scenario, key, label) in zip(axes.flat, panels, strict=False):
        names, values, lo, hi, cols = [], [], [], [], []
        for i, name in enumerate(servers):
            s = stats.get(scenario, {}).get(name, {})
            if not s.get("reps") or s.get(key) is None:
                continue
            v = float(s[key])
            names.append(name)
            values.append(v)
            cols.append(colors(i % 10))
            if key == "throughput":
                lo.append(v - s["min"])
                hi.append(s["max"] - v)
            else:
                lo.append(0.0)
                hi.append(0.0)
        whiskers = [lo, hi] if key == "throughput" else None
        ax.bar(range(len(values)), values, color=cols, yerr=whiskers, capsize=3)
        ax.set_xticks(range(len(values)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        for x, v in enumerate(values):
            ax.annotate(
                f"{v:,.0f}" if v >= 100 else f"{v:.1f}",
                (x, v),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def profile_summary(path: Path, top: int = 12) -> list[str]:
    """The hottest frames of a py-spy collapsed-stack file: inclusive and self shares."""
    self_n: dict[str, int] = {}
    incl_n: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + n
        for frame in set(frames):
            incl_n[frame] = incl_n.get(frame, 0) + n
    if not total:
        return []

    def ranked(table: dict[str, int]) -> list[str]:
        # Skip the entry chain (module, main, run_forever...) present in nearly every sample.
        root = max(table.values())
        rows = [kv for kv in table.items() if kv[1] < 0.98 * root or table is self_n]
        best = sorted(rows, key=lambda kv: -kv[1])[:top]
        return [f"  {100 * n / total:5.1f}%  {frame[:110]}" for frame, n in best]

    return [
        f"{path.name}: {total} samples",
        " inclusive:",
        *ranked(incl_n),
        " self:",
        *ranked(self_n),
    ]
