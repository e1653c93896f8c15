"""Node peers for the cluster suite: socket.io 4.8 servers on the official Redis adapters and
the official Redis emitter, as subprocesses driven by JSON lines (``node/peer.mjs``,
``node/emitter.mjs``), next to nestpy nodes running in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import socketio

NODE_DIR = Path(__file__).resolve().parent / "node"
REDIS_URL = "redis://127.0.0.1:6379/0"
#: How long a test waits for something that should happen at once on loopback.
WAIT = 5.0


def ensure_node_peers() -> str:
    """The ``node`` executable, with the peers' npm packages installed (setup.sh)."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.fail("the cluster_node tests need Node >= 20 and npm on PATH")
    marker = NODE_DIR / "node_modules" / "@socket.io" / "redis-streams-adapter" / "package.json"
    if not marker.exists():
        done = subprocess.run(
            ["bash", str(NODE_DIR / "setup.sh")], capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.fail(f"node/setup.sh failed:\n{done.stdout}\n{done.stderr}")
    return node


class NodeProcess:
    """One Node subprocess speaking JSON lines; ``await call(op, **args)`` → its answer."""

    def __init__(self, script: str, *args: str) -> None:
        self._argv = [ensure_node_peers(), str(NODE_DIR / script), *args]
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[Any]] = {}
        self.events: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[dict[str, Any]] | None = None

    async def start(self) -> NodeProcess:
        self._ready = asyncio.get_running_loop().create_future()
        self.proc = await asyncio.create_subprocess_exec(
            *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=str(NODE_DIR),
        )
        self._reader = asyncio.ensure_future(self._read())
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), 20)
        except asyncio.TimeoutError:
            err = b""
            await self.stop()
            raise AssertionError(f"{self._argv[1]} did not start: {err!r}") from None
        self.port = int(ready.get("port") or 0)
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "event" not in msg:
                fut = self._answers.pop(int(msg["id"]), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            elif msg.get("event") == "ready":
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(msg)
            else:
                self.events[str(msg.get("event"))].put_nowait(msg)
        if self._ready is not None and not self._ready.done():
            stderr = b""
            if self.proc.stderr is not None:
                stderr = await self.proc.stderr.read()
            self._ready.set_exception(AssertionError(f"node exited: {stderr.decode()[-2000:]}"))

    async def call(self, op: str, **args: Any) -> Any:
        """Run command *op*; return its result (AssertionError on its error)."""
        assert self.proc is not None and self.proc.stdin is not None
        cmd_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._answers[cmd_id] = fut
        self.proc.stdin.write((json.dumps({"id": cmd_id, "op": op, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        msg = await asyncio.wait_for(fut, WAIT + 5)
        if "error" in msg:
            raise NodeCallError(msg["error"], msg.get("responses"))
        return msg.get("result")

    async def event(self, name: str, timeout: float = WAIT) -> dict[str, Any]:
        """The next *name* event the process printed."""
        return await asyncio.wait_for(self.events[name].get(), timeout)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader


class NodeCallError(AssertionError):
    """A command failed in the Node process."""

    def __init__(self, message: str, responses: Any) -> None:
        super().__init__(message)
        self.responses = responses


class Client:
    """A ``socketio.AsyncClient`` on one namespace that queues every event it receives."""

    def __init__(self, namespace: str = "/chat") -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.queues: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.acks: dict[str, Any] = {}
        self.disconnected = asyncio.Event()
        self.sio.on("*", self._on_any, namespace=namespace)
        self.sio.on("disconnect", self._on_disconnect, namespace=namespace)

    async def _on_any(self, event: str, *args: Any) -> Any:
        self.queues[event].put_nowait(args[0] if len(args) == 1 else list(args))
        return self.acks.get(event)

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid(self.namespace)
        assert sid is not None
        return str(sid)

    async def connect(self, port: int, user: str, rooms: tuple[str, ...] = ()) -> Client:
        await self.sio.connect(
            f"http://127.0.0.1:{port}", namespaces=[self.namespace], transports=["websocket"],
            auth={"user": user}, wait_timeout=WAIT,
        )
        for room in rooms:
            assert await self.sio.call("join", room, namespace=self.namespace, timeout=WAIT)
        return self

    async def receive(self, event: str, timeout: float = WAIT) -> Any:
        return await asyncio.wait_for(self.queues[event].get(), timeout)

    async def nothing(self, event: str, wait: float = 0.3) -> bool:
        """True when no *event* arrives within *wait* seconds."""
        try:
            await asyncio.wait_for(self.queues[event].get(), wait)
        except asyncio.TimeoutError:
            return True
        return False

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


class NestNode:
    """One nestpy application of the cluster (in this process) and its gateway."""

    def __init__(self, app: Any, adapter: Any, gateway: Any = None) -> None:
        self.app = app
        self.adapter = adapter
        self.gateway = gateway

    @property
    def server(self) -> Any:
        """The gateway's ``Server``."""
        return self.gateway.server

    @property
    def port(self) -> int:
        return int(self.app.url_for(None).rsplit(":", 1)[1])
