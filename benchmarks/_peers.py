"""Peer servers: how to start each one, and how to read its CPU and memory from /proc."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PY = sys.executable


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """One benchmarked server implementation."""

    name: str
    label: str
    argv: tuple[str, ...]
    #: the peer that "x raw" compares against: raw python-socketio with the same loop/json
    raw_baseline: str | None = None
    #: command-line flag that puts the server on a Redis manager/adapter (redis scenario)
    redis_flag: str = "--redis"
    #: extra environment (e.g. PYTHONPATH for an older nestpy checkout)
    env: tuple[tuple[str, str], ...] = ()

    def command(self, port: int, redis_url: str | None = None) -> list[str]:
        """The full command line for a server listening on *port*."""
        cmd = [*self.argv, "--port", str(port)]
        if redis_url:
            cmd += [self.redis_flag, redis_url]
        return cmd

    def missing(self) -> str | None:
        """Why this peer cannot run here (missing build or dependency), or None."""
        for part in self.argv:
            if part.endswith((".py", ".js")) and not Path(part).exists():
                return f"{Path(part).relative_to(REPO_ROOT)} not found: run benchmarks/setup.sh"
        if self.argv[0] == "node":
            modules = Path(self.argv[1]).parent
            while modules != BENCH_DIR and not (modules / "node_modules").is_dir():
                modules = modules.parent
            if not (modules / "node_modules").is_dir():
                return "node_modules missing: run benchmarks/setup.sh"
        return None


_RAW = str(BENCH_DIR / "servers" / "raw_socketio.py")
_NESTPY = str(BENCH_DIR / "servers" / "nestpy_server.py")
_FAST = ("--uvloop", "--orjson")

PEERS: dict[str, PeerSpec] = {
    p.name: p
    for p in (
        PeerSpec("raw", "raw python-socketio", (PY, _RAW)),
        PeerSpec(
            "raw-deflate",
            "raw python-socketio, per-message deflate on (as shipped)",
            (PY, _RAW, "--deflate"),
            "raw",
        ),
        PeerSpec("raw-fast", "raw python-socketio +uvloop+orjson", (PY, _RAW, *_FAST), "raw"),
        PeerSpec("nestpy", "nestpy gateway", (PY, _NESTPY), "raw"),
        PeerSpec("nestpy-fast", "nestpy gateway +uvloop+orjson", (PY, _NESTPY, *_FAST), "raw-fast"),
        # Cross-process fan-out on Node's adapter protocol (redis scenario only).
        PeerSpec(
            "nestpy-sio",
            "nestpy gateway, SocketIoRedisAdapter",
            (PY, _NESTPY),
            redis_flag="--socketio-redis",
        ),
        PeerSpec(
            "nestpy-fast-sio",
            "nestpy gateway +uvloop+orjson, SocketIoRedisAdapter",
            (PY, _NESTPY, *_FAST),
            redis_flag="--socketio-redis",
        ),
        PeerSpec(
            "nestjs",
            "NestJS 12 gateway (Node)",
            ("node", str(BENCH_DIR / "peers/nestjs/dist/main.js")),
        ),
        PeerSpec(
            "socketio",
            "socket.io 4.8 (Node)",
            ("node", str(BENCH_DIR / "peers/socketio/server.js")),
        ),
    )
}


def _before_peers() -> list[PeerSpec]:
    """``nestpy-before`` / ``nestpy-fast-before``: the nestpy server of another checkout
    (``NESTPY_BENCH_BEFORE=/path/to/checkout``), for before/after tables in one run."""
    root = os.environ.get("NESTPY_BENCH_BEFORE")
    if not root:
        return []
    server = str(Path(root) / "benchmarks" / "servers" / "nestpy_server.py")
    env = (("PYTHONPATH", root),)
    return [
        PeerSpec("nestpy-before", "nestpy gateway (before)", (PY, server), "raw", env=env),
        PeerSpec("nestpy-fast-before", "nestpy gateway +uvloop+orjson (before)",
                 (PY, server, *_FAST), "raw-fast", env=env),
    ]


PEERS.update((p.name, p) for p in _before_peers())


@dataclass(frozen=True, slots=True)
class ProcSample:
    """CPU and memory of one process at one instant."""

    t: float  # time.monotonic()
    cpu_s: float  # utime + stime, seconds
    rss_kib: int  # VmRSS


def sample(pid: int) -> ProcSample:
    """Read utime+stime from /proc/<pid>/stat and VmRSS from /proc/<pid>/status."""
    t = time.monotonic()
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        stat = f.read()
    # Fields after the command name, which may itself contain spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    rss = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
                break
    return ProcSample(t, (utime + stime) / CLK_TCK, rss)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PeerUnavailable(RuntimeError):
    """The peer said it cannot run this scenario (``UNSUPPORTED`` on stdout)."""


class ServerProcess:
    """A peer server in its own process, started and stopped by the harness."""

    def __init__(self, spec: PeerSpec, *, redis_url: str | None = None) -> None:
        self.spec = spec
        self.port = free_port()
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in stop())
        self._tail: collections.deque[str] = collections.deque(maxlen=40)
        self._ready = threading.Event()
        self._unsupported: str | None = None
        self.proc = subprocess.Popen(
            spec.command(self.port, redis_url),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,  # Ctrl-C on the harness must not kill it mid-run
            env={
                **os.environ, "PYTHONUNBUFFERED": "1", "NODE_ENV": "production", **dict(spec.env)
            },
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.proc.pid

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("READY"):
                self._ready.set()
            elif line.startswith("UNSUPPORTED"):
                self._unsupported = line.removeprefix("UNSUPPORTED").strip()
                self._ready.set()
            else:
                self._tail.append(line.rstrip())

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the server printed READY; raise with its output if it did not."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                break
        if self._unsupported is not None:
            raise PeerUnavailable(self._unsupported)
        if not self._ready.is_set():
            raise RuntimeError(
                f"{self.spec.name} did not start (exit={self.proc.poll()}):\n{self.output()}"
            )

    def output(self) -> str:
        """The last lines the server wrote (stderr log, then stdout tail)."""
        self._log.flush()
        self._log.seek(0)
        err = self._log.read()[-3000:]
        return err + "\n".join(self._tail)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; only this process is signalled."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
