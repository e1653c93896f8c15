"""Prometheus metrics of the gateways (``app.enable_metrics()``; needs ``prometheus-client``).

Counted where bootstrap built something to wrap (``_hooks``): each compiled handler (messages
in, latency, acks), each gateway's connection hooks, the server's send methods (messages out,
errors: the ``exception`` events handlers send). Connected sockets and broker health are read
when Prometheus scrapes, so they cost nothing per message. Label values are bounded: the
namespace is the gateway's declared one (a regex gateway is one label), events are the
handlers' names, and at most ``MAX_SENT_SERIES`` outgoing (namespace, event, kind) series
exist (the rest count under ``event="_other"``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from nestpy.logger import ws_context
from nestpy.observability._hooks import (
    Accept,
    Disconnect,
    Run,
    label_resolver,
    namespace_label,
    runtimes,
    wrap_emits,
    wrap_runtime,
)
from nestpy.websockets._engine import Handler, NestAsyncServer

if TYPE_CHECKING:
    from nestpy.websockets.socket import Socket

__all__ = ["DEFAULT_BUCKETS", "MAX_SENT_SERIES", "GatewayMetrics"]

#: Handler latency buckets (seconds): handlers are usually sub-millisecond.
DEFAULT_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)
#: Bound on distinct outgoing (namespace, event, kind) series.
MAX_SENT_SERIES = 1000


class GatewayMetrics:
    """The metric families of one application, registered in ``registry``."""

    def __init__(
        self, registry: CollectorRegistry, buckets: Iterable[float] = DEFAULT_BUCKETS
    ) -> None:
        self.registry = registry
        self.connections = Counter(
            "nestpy_connections", "Connection attempts to a namespace, by result "
            "(accepted, refused by a guard, middleware or handle_connection).",
            ["namespace", "result"], registry=registry,
        )
        self.disconnections = Counter(
            "nestpy_disconnections", "Sockets that left a namespace, by reason.",
            ["namespace", "reason"], registry=registry,
        )
        self.received = Counter(
            "nestpy_messages_received", "Messages handled, by namespace and event.",
            ["namespace", "event"], registry=registry,
        )
        self.sent = Counter(
            "nestpy_messages_sent", "Events and acks sent (a broadcast counts once).",
            ["namespace", "event", "kind"], registry=registry,
        )
        self.latency = Histogram(
            "nestpy_handler_duration_seconds", "Handler time per message (guards, pipes, "
            "handler, interceptors, filters and the reply).",
            ["namespace", "event"], buckets=tuple(buckets), registry=registry,
        )
        self.errors = Counter(
            "nestpy_handler_errors", "Messages whose handler failed (an `exception` sent).",
            ["namespace", "event"], registry=registry,
        )
        self.ack_timeouts = Counter(
            "nestpy_ack_timeouts", "Server emit_with_ack calls the client did not answer "
            "in time.", ["namespace", "event"], registry=registry,
        )
        self._servers: list[NestAsyncServer] = []
        registry.register(_LiveCollector(self._servers))

    def instrument(self, sio: NestAsyncServer) -> None:
        """Wrap *sio*'s compiled handlers, connection hooks and send methods (bootstrap)."""
        self._servers.append(sio)
        received, latency, sent = self.received, self.latency, self.sent
        connections, disconnections = self.connections, self.disconnections
        perf = time.perf_counter

        def handler(ns: str, event: str, h: Handler) -> Run:
            run = h.run
            # children resolved once: no label lookup per message
            count_in = received.labels(ns, event).inc
            observe = latency.labels(ns, event).observe
            count_ack = sent.labels(ns, event, "ack").inc

            async def measured(sock: Socket, body: Any, ack_id: int | None) -> None:
                count_in()
                start = perf()
                try:
                    await run(sock, body, ack_id)
                finally:
                    observe(perf() - start)
                if ack_id is not None:
                    count_ack()  # nestpy always answers an ack (an error payload included)

            return measured

        def accept(ns: str, original: Accept) -> Accept:
            ok = connections.labels(ns, "accepted").inc
            refused = connections.labels(ns, "refused").inc

            async def counted(sock: Socket) -> dict[str, Any] | None:
                refusal = await original(sock)
                (ok if refusal is None else refused)()
                return refusal

            return counted

        def disconnect(ns: str, original: Disconnect) -> Disconnect:
            async def counted(sock: Socket, reason: str | None) -> None:
                disconnections.labels(ns, str(reason or "unknown")).inc()
                await original(sock, reason)

            return counted

        for runtime in runtimes(sio):
            wrap_runtime(runtime, handler=handler, accept=accept, disconnect=disconnect)

        label = label_resolver(sio)
        children: dict[tuple[str, str, str], Any] = {}
        errors, timeouts = self.errors, self.ack_timeouts

        def on_send(namespace: str, event: str, kind: str) -> None:
            key = (namespace, event, kind)
            inc = children.get(key)
            if inc is None:
                name = event if len(children) < MAX_SENT_SERIES else "_other"
                inc = children[key] = sent.labels(label(namespace), name, kind).inc
            inc()
            if event == "exception":
                ctx = ws_context.get()  # (sid, namespace, event) of the message handled
                if ctx is not None:
                    errors.labels(label(ctx[1]), ctx[2]).inc()

        wrap_emits(sio, on_send)

        def on_ack_timeout(namespace: str, event: str) -> None:
            timeouts.labels(label(namespace), event).inc()

        sio.nest_on_ack_timeout = on_ack_timeout  # read by Socket.emit_with_ack


class _LiveCollector(Collector):
    """Connected sockets per namespace and broker health, read at scrape time."""

    def __init__(self, servers: list[NestAsyncServer]) -> None:
        self._servers = servers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sockets = GaugeMetricFamily(
            "nestpy_connected_sockets", "Sockets connected to a namespace now.",
            labels=["namespace"],
        )
        counts: dict[str, int] = {}
        for sio in self._servers:
            for runtime in runtimes(sio):
                counts.setdefault(namespace_label(runtime), 0)
            for sock in list(sio.nest_sockets.values()):
                ns = namespace_label(sock.gateway)
                counts[ns] = counts.get(ns, 0) + 1
        for ns, n in sorted(counts.items()):
            sockets.add_metric([ns], n)
        yield sockets
        up = GaugeMetricFamily(
            "nestpy_broker_up", "1 when the scale-out adapter's broker is reachable "
            "(last publish succeeded), else 0.", labels=["adapter", "channel"],
        )
        nodes = GaugeMetricFamily(
            "nestpy_cluster_nodes", "Nodes of the cluster this node hears from (itself "
            "included).", labels=["adapter", "channel"],
        )
        for sio in self._servers:
            manager = sio.manager
            if not getattr(manager, "nest_cluster", False):
                continue
            labels = [str(getattr(manager, "adapter_name", type(manager).__name__)),
                      str(getattr(manager, "channel", ""))]
            up.add_metric(labels, 1.0 if _broker_healthy(manager) else 0.0)
            try:
                nodes.add_metric(labels, float(manager.server_count()))
            except Exception:  # a scrape never fails because a broker does
                nodes.add_metric(labels, 1.0)
        yield up
        yield nodes


def _broker_healthy(manager: Any) -> bool:
    healthy = getattr(manager, "broker_healthy", None)  # an adapter may say it itself
    if isinstance(healthy, bool):
        return healthy
    return (
        bool(getattr(manager, "_started", False))
        and not getattr(manager, "_stopped", False)
        and not getattr(manager, "_publish_failing", False)
    )
