"""Soak: 300 clients, mixed traffic and connect/disconnect churn; nothing grows afterwards.

The driver is ``benchmarks/soak.py`` (whose bigger run, 1,000+ clients for minutes, gives
the figures in docs/reliability.md "Proof"). Here it runs in-process for ~8 s of traffic.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
from reliability_support import eventually

from benchmarks.soak import internal_counts, make_module, soak
from nestpy import NestFactory

pytestmark = pytest.mark.e2e

CLIENTS = 300


async def test_soak_of_300_clients_with_churn_leaves_no_growth() -> None:
    # A 1 s ping cycle: Engine.IO keeps a session's ping task until its next ping is due
    # (tests/e2e/reliability/test_release.py), so counts settle within about a second.
    app = await NestFactory.create(make_module(ping_interval=1, ping_timeout=5))
    await app.listen(0, "127.0.0.1")
    try:
        # Warm up: python-engineio starts its service task with the first session.
        await soak(app.url_for(), 1, duration=0.1, churn_per_s=0)
        await eventually(lambda: internal_counts(app)["sessions"] == 0)
        await asyncio.sleep(1.5)  # the warm-up session's ping task ends (1 s cycle)
        base_tasks = len(asyncio.all_tasks())
        before = internal_counts(app, base_tasks)
        assert before["sessions"] == before["sockets"] == before["rooms"] == 0

        stats = await soak(app.url_for(), CLIENTS, duration=8.0, churn_per_s=30.0)

        summary = stats.summary()
        assert stats.errors == [], summary
        # Every call is answered, but those of a client the churn took away mid-call.
        assert stats.wrong == 0 and stats.acks + stats.abandoned == stats.calls, summary
        assert stats.abandoned < 200
        assert stats.connects >= CLIENTS + 50  # the churn replaced at least 50 clients
        assert stats.disconnects == stats.connects
        assert stats.broadcasts > 0 and stats.acks > 5 * CLIENTS

        def settled() -> bool:
            now = internal_counts(app, base_tasks)
            return all(now[k] <= before[k] for k in ("sessions", "sockets", "rooms", "tasks"))

        try:
            await eventually(settled, timeout=15, step=0.1)
        except asyncio.TimeoutError:
            tasks = [repr(t.get_coro()) for t in asyncio.all_tasks()]
            pytest.fail(
                f"counts grew: before {before}, after {internal_counts(app, base_tasks)}; {tasks}"
            )
        gc.collect()
    finally:
        await app.close()
