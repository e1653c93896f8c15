"""Prometheus metrics of the gateways (``app.enable_metrics()``; needs ``prometheus-client``).

Counted where bootstrap built something to wrap (``_hooks``): each compiled handler (messages
in, latency, acks), each gateway's connection hooks, the server's send methods (messages out,
errors: the ``exception`` events handlers send). The per-message path bumps plain numbers
(about a microsecond; prometheus-client's metric objects take a lock per update, several
times that); a collector turns them into Prometheus families when it scrapes, and reads
connected sockets and broker health then, at no cost per message. Label values are bounded: the
namespace is the gateway's declared one (a regex gateway is one label), events are the
handlers' names, and at most ``MAX_SENT_SERIES`` outgoing (namespace, event, kind) series
exist (the rest count under ``event="_other"``).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
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
from nestpy.websockets._outage import AdapterHealth

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


class _HandlerStats:
    """Counters of one (namespace, event) handler: plain numbers, bumped on the event loop
    (no lock per message: prometheus-client's own metric objects take one per update),
    read by the collector when Prometheus scrapes."""

    __slots__ = ("acks", "buckets", "count", "errors", "timeouts", "total")

    def __init__(self, n_buckets: int) -> None:
        self.count = 0
        self.acks = 0
        self.errors = 0
        self.timeouts = 0
        self.total = 0.0
        self.buckets = [0] * n_buckets  # per bucket (not cumulative); last one is +Inf


class GatewayMetrics:
    """The gateway metrics of one application, exported through ``registry``."""

    def __init__(
        self, registry: CollectorRegistry, buckets: Iterable[float] = DEFAULT_BUCKETS
    ) -> None:
        self.registry = registry
        self.bounds = tuple(sorted(buckets))
        self.handlers: dict[tuple[str, str], _HandlerStats] = {}
        #: (namespace label, result) → count
        self.connections: dict[tuple[str, str], int] = {}
        #: (namespace label, reason) → count
        self.disconnections: dict[tuple[str, str], int] = {}
        #: (namespace label, event, kind) → [count]
        self.sent: dict[tuple[str, str, str], list[int]] = {}
        self._sent_cells: dict[tuple[str, str, str], list[int]] = {}
        #: errors / ack timeouts of events no handler of ours owns (label, event) → count
        self.other_errors: dict[tuple[str, str], int] = {}
        self.ack_timeouts: dict[tuple[str, str], int] = {}
        self.servers: list[NestAsyncServer] = []
        registry.register(_Collector(self))

    def _stats(self, ns: str, event: str) -> _HandlerStats:
        stats = self.handlers.get((ns, event))
        if stats is None:
            stats = self.handlers[(ns, event)] = _HandlerStats(len(self.bounds) + 1)
        return stats

    def instrument(self, sio: NestAsyncServer) -> None:
        """Wrap *sio*'s compiled handlers, connection hooks and send methods (bootstrap)."""
        self.servers.append(sio)
        bounds = self.bounds
        perf = time.perf_counter
        connections, disconnections = self.connections, self.disconnections

        def handler(ns: str, event: str, h: Handler) -> Run:
            run = h.run
            stats = self._stats(ns, event)
            buckets = stats.buckets

            async def measured(sock: Socket, body: Any, ack_id: int | None) -> None:
                start = perf()
                try:
                    await run(sock, body, ack_id)
                finally:
                    elapsed = perf() - start
                    stats.count += 1
                    stats.total += elapsed
                    buckets[bisect_left(bounds, elapsed)] += 1
                    if ack_id is not None:
                        stats.acks += 1  # nestpy always answers an ack (errors included)

            return measured

        def accept(ns: str, original: Accept) -> Accept:
            ok, refused = (ns, "accepted"), (ns, "refused")
            connections.setdefault(ok, 0)
            connections.setdefault(refused, 0)

            async def counted(sock: Socket) -> dict[str, Any] | None:
                refusal = await original(sock)
                key = ok if refusal is None else refused
                connections[key] += 1
                return refusal

            return counted

        def disconnect(ns: str, original: Disconnect) -> Disconnect:
            async def counted(sock: Socket, reason: str | None) -> None:
                key = (ns, str(reason or "unknown"))
                disconnections[key] = disconnections.get(key, 0) + 1
                await original(sock, reason)

            return counted

        for runtime in runtimes(sio):
            wrap_runtime(runtime, handler=handler, accept=accept, disconnect=disconnect)

        label = label_resolver(sio)
        cells = self._sent_cells
        sent = self.sent

        def on_send(namespace: str, event: str, kind: str) -> None:
            key = (namespace, event, kind)
            cell = cells.get(key)
            if cell is None:
                name = event if len(cells) < MAX_SENT_SERIES else "_other"
                series = (label(namespace), name, kind)
                cell = sent.get(series)
                if cell is None:
                    cell = sent[series] = [0]
                if len(cells) < 2 * MAX_SENT_SERIES:  # the lookup cache is bounded too
                    cells[key] = cell
            cell[0] += 1
            if event == "exception":
                ctx = ws_context.get()  # (sid, namespace, event) of the message handled
                if ctx is not None:
                    err = (label(ctx[1]), ctx[2])
                    stats = self.handlers.get(err)
                    if stats is not None:
                        stats.errors += 1
                    else:
                        self.other_errors[err] = self.other_errors.get(err, 0) + 1

        wrap_emits(sio, on_send)

        def on_ack_timeout(namespace: str, event: str) -> None:
            key = (label(namespace), event)
            self.ack_timeouts[key] = self.ack_timeouts.get(key, 0) + 1

        sio.nest_on_ack_timeout = on_ack_timeout  # read by Socket.emit_with_ack


class _Collector(Collector):
    """Everything, in Prometheus's data model, when it scrapes."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.m
        yield _counter("nestpy_connections", "Connection attempts to a namespace, by result "
                       "(accepted, or refused by a guard, middleware or handle_connection).",
                       ["namespace", "result"], m.connections)
        yield _counter("nestpy_disconnections", "Sockets that left a namespace, by reason.",
                       ["namespace", "reason"], m.disconnections)
        stats = sorted(m.handlers.items())
        yield _counter("nestpy_messages_received", "Messages handled, by namespace and event.",
                       ["namespace", "event"], {k: s.count for k, s in stats})
        sent = {k: c[0] for k, c in m.sent.items()}
        for (ns, event), s in stats:
            sent[(ns, event, "ack")] = sent.get((ns, event, "ack"), 0) + s.acks
        yield _counter("nestpy_messages_sent", "Events and acks sent, by namespace, event and "
                       "kind (ack, emit to one socket, broadcast: counted once, not per "
                       "recipient).", ["namespace", "event", "kind"], sent)
        errors = {k: s.errors for k, s in stats}
        for k, n in m.other_errors.items():
            errors[k] = errors.get(k, 0) + n
        yield _counter("nestpy_handler_errors", "Messages whose handling failed (an "
                       "`exception` was sent to the client).", ["namespace", "event"], errors)
        yield _counter("nestpy_ack_timeouts", "Server emit_with_ack calls the client did not "
                       "answer in time, by the emitted event.", ["namespace", "event"],
                       m.ack_timeouts)
        hist = HistogramMetricFamily(
            "nestpy_handler_duration_seconds", "Time to handle a message (guards, pipes, "
            "handler, interceptors, filters and the reply), seconds.",
            labels=["namespace", "event"],
        )
        les = [*(_le(b) for b in m.bounds), "+Inf"]
        for (ns, event), s in stats:
            cumulative = list(accumulate(s.buckets))
            hist.add_metric([ns, event], list(zip(les, cumulative, strict=True)), s.total)
        yield hist
        yield from _live(m.servers)


def _le(bound: float) -> str:
    return repr(float(bound))


def _counter(
    name: str, doc: str, labels: list[str], values: Mapping[Any, float]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _live(servers: list[NestAsyncServer]) -> Iterator[Metric]:
    """Connected sockets per namespace and broker health, read now."""
    sockets = GaugeMetricFamily(
        "nestpy_connected_sockets", "Sockets connected to a namespace now.",
        labels=["namespace"],
    )
    counts: dict[str, int] = {}
    for sio in servers:
        for runtime in runtimes(sio):
            counts.setdefault(namespace_label(runtime), 0)
        for sock in list(sio.nest_sockets.values()):
            ns = namespace_label(sock.gateway)
            counts[ns] = counts.get(ns, 0) + 1
    for ns, n in sorted(counts.items()):
        sockets.add_metric([ns], n)
    yield sockets
    up = GaugeMetricFamily(
        "nestpy_broker_up", "1 when the scale-out adapter's broker is reachable (its last "
        "publish succeeded), else 0.", labels=["adapter", "channel"],
    )
    nodes = GaugeMetricFamily(
        "nestpy_cluster_nodes", "Nodes of the cluster this node hears from (itself "
        "included).", labels=["adapter", "channel"],
    )
    for sio in servers:
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
    health = getattr(manager, "health", None)  # the outage-aware managers: their link state
    if isinstance(health, AdapterHealth):
        return health.healthy
    return (
        bool(getattr(manager, "_started", False))
        and not getattr(manager, "_stopped", False)
        and not getattr(manager, "_publish_failing", False)
    )
