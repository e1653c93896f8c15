"""Dispatch micro-benchmark: the cost of one compiled handler call, no network.

A gateway is explored and bound exactly as ``NestFactory`` does it (``explore_gateway`` then
``bind_gateway``) against an in-process host and client that only count what they receive;
each handler's compiled ``run(client, body, ack_id)`` is then awaited N times. Four shapes:

* ``plain``: ``def echo(self, data)``, acknowledged (the fast path);
* ``validated``: ``async def``, a pydantic-model body, acknowledged;
* ``keyed``: ``MessageBody("text")`` + ``ConnectedSocket()``, no ack (nothing sent);
* ``guarded``: one guard and one interceptor around a sync handler (the full path).

Reported: ns per call, median of the repetitions. The tree under test is whatever
``nestpy`` imports, so the same script measures two checkouts side by side:

    python benchmarks/dispatch_micro.py --calls 20000 --reps 5
    PYTHONPATH=/path/to/other/checkout python benchmarks/dispatch_micro.py --json

Bounded: --calls (default 20 000) per shape and repetition, --reps (default 5).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Annotated, Any

import pydantic

from nestpy.common import UseGuards, UseInterceptors
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
)
from nestpy.websockets._binding import bind_gateway
from nestpy.websockets._explorer import explore_gateway

try:
    from nestpy._pipeline.compiler import Enhancers
except ImportError:  # the tree before the compiler moved to _pipeline
    from nestpy.websockets._binding import Enhancers  # type: ignore[attr-defined,no-redef]


class Msg(pydantic.BaseModel):
    """A validated body."""

    text: str
    n: int = 0


class Allow:
    """A guard that lets everything through."""

    def can_activate(self, context: Any) -> bool:
        return True


class Passthrough:
    """An interceptor that only calls the handler."""

    def intercept(self, context: Any, call_next: Any) -> Any:
        return call_next()


class _Client:
    """The calling client: counts emits."""

    __slots__ = ("connected", "data", "emitted", "handshake", "id", "namespace", "rooms")

    def __init__(self) -> None:
        self.id = "bench"
        self.namespace = "/"
        self.connected = True
        self.data: dict[str, Any] = {}
        self.rooms: set[str] = set()
        self.emitted = 0
        self.handshake: Any = None

    async def emit(self, event: str, *args: Any) -> None:
        self.emitted += 1

    def ack_sender(self, ack_id: Any) -> Any:  # the pre-0.2 client-side ack factory
        return None


class _Host:
    """The server the handlers are bound to: counts acks."""

    def __init__(self) -> None:
        self.acks = 0
        self.runtime: Any = None

    async def send_ack(self, client: Any, ack_id: Any, args: list[Any]) -> None:
        self.acks += 1

    def ack_sender(self, client: Any, ack_id: Any) -> Any:
        return None

    def add_gateway(self, runtime: Any) -> None:
        self.runtime = runtime


def _build() -> tuple[dict[str, Any], _Host]:
    @WebSocketGateway()
    class Bench:
        @SubscribeMessage("plain")
        def plain(self, client: Socket, data: Any) -> Any:
            return data

        @SubscribeMessage("validated")
        async def validated(self, body: Annotated[Msg, MessageBody()]) -> int:
            return body.n

        @SubscribeMessage("keyed")
        def keyed(
            self, text: Annotated[str, MessageBody("text")],
            client: Annotated[Socket, ConnectedSocket()],
        ) -> None:
            return None

        @UseGuards(Allow)
        @UseInterceptors(Passthrough)
        @SubscribeMessage("guarded")
        def guarded(self, client: Socket, data: Any) -> Any:
            return data

    definition = explore_gateway(Bench)
    host = _Host()
    enh = {"guarded": Enhancers(guards=(Allow(),), interceptors=(Passthrough(),))}
    bind_gateway(Bench(), definition, host, enh, ())
    return host.runtime.handlers, host


async def _measure(calls: int, reps: int) -> dict[str, float]:
    handlers, host = _build()
    client = _Client()
    cases: dict[str, tuple[Any, Any]] = {
        "plain": ({"text": "hi"}, 1),
        "validated": ({"text": "hi", "n": 3}, 1),
        "keyed": ({"text": "hi"}, None),
        "guarded": ({"text": "hi"}, 1),
    }
    out: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, (body, ack_id) in cases.items():
            run = handlers[name].run
            for _ in range(200):  # warm-up
                await run(client, body, ack_id)
            start = time.perf_counter_ns()
            for _ in range(calls):
                await run(client, body, ack_id)
            out[name].append((time.perf_counter_ns() - start) / calls)
    assert host.acks > 0
    return {name: statistics.median(v) for name, v in out.items()}


def main() -> None:
    """Print ns per compiled call for each handler shape."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    calls = max(1, min(args.calls, 1_000_000))
    reps = max(1, min(args.reps, 50))
    result = asyncio.run(_measure(calls, reps))
    if args.json:
        print(json.dumps(result))
        return
    for name, ns in result.items():
        print(f"{name:10s} {ns:8.0f} ns/call")


if __name__ == "__main__":
    main()
