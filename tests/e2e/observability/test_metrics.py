"""``app.enable_metrics()``: the /metrics exposition after real traffic, parsed with
prometheus-client's own text parser."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest
import socketio
from obs_app import ObsModule, eventually
from prometheus_client.parser import text_string_to_metric_families
from throwaway_redis import ThrowawayRedis

from nestpy.testing import ConnectionRefused, Test
from nestpy.websockets import RedisIoAdapter

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.allow_errors  # a handler fails on purpose (errors_total)
async def test_metrics_after_real_traffic() -> None:
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    app = module.create_nest_application()
    app.enable_metrics()
    async with app:
        url = app.get_url() + "/metrics"
        async with app.test_client("/obs") as a, app.test_client("/obs") as b:
            for i in range(5):
                assert await a.call("echo", i) == i
            assert await b.call("note", {"text": "hi"}) == "hi"
            invalid = await b.call("note", {"text": ""})  # validation error → WsError ack
            assert invalid["status"] == "error"
            failed = await a.call("fail")
            assert failed["message"] == "Internal server error"
            await a.emit("shout", "hey")
            assert await b.receive("shouted") == "hey"
            # a client that answers the server's question too late: an ack timeout
            slow = socketio.AsyncClient(reconnection=False)

            async def question(*_args: Any) -> str:
                await asyncio.sleep(0.6)
                return "late"

            slow.on("question", question, namespace="/obs")
            await slow.connect(app.get_url(), namespaces=["/obs"], transports=["websocket"])
            try:
                assert await slow.call("ask", namespace="/obs", timeout=5) == "no answer"
            finally:
                await slow.disconnect()

            with pytest.raises(ConnectionRefused):
                async with app.test_client("/obs", auth={"bad": True}):
                    pass

            samples = await scrape(url)
            assert value(samples, "nestpy_connections_total", namespace="/obs",
                         result="accepted") == 3
            assert value(samples, "nestpy_connections_total", namespace="/obs",
                         result="refused") == 1
            received = {e: value(samples, "nestpy_messages_received_total", namespace="/obs",
                                 event=e) for e in ("echo", "note", "fail", "shout", "ask")}
            assert received == {"echo": 5, "note": 2, "fail": 1, "shout": 1, "ask": 1}
            assert value(samples, "nestpy_messages_sent_total", namespace="/obs",
                         event="echo", kind="ack") == 5
            assert value(samples, "nestpy_messages_sent_total", namespace="/obs",
                         event="shouted", kind="broadcast") == 1
            assert value(samples, "nestpy_messages_sent_total", namespace="/obs",
                         event="question", kind="emit") == 1
            # a failing handler and a failing validation each sent an `exception`
            assert value(samples, "nestpy_handler_errors_total", namespace="/obs",
                         event="fail") == 1
            assert value(samples, "nestpy_handler_errors_total", namespace="/obs",
                         event="note") == 1
            assert value(samples, "nestpy_handler_errors_total", namespace="/obs",
                         event="echo") == 0
            assert value(samples, "nestpy_ack_timeouts_total", namespace="/obs",
                         event="question") == 1
            assert value(samples, "nestpy_handler_duration_seconds_count", namespace="/obs",
                         event="echo") == 5
            assert value(samples, "nestpy_handler_duration_seconds_sum", namespace="/obs",
                         event="ask") >= 0.2  # it waited for the ack timeout
            assert value(samples, "nestpy_handler_duration_seconds_bucket", namespace="/obs",
                         event="echo", le="+Inf") == 5
            async def two_left() -> None:
                s = await scrape(url)
                assert value(s, "nestpy_connected_sockets", namespace="/obs") == 2

            await eventually(two_left)

        async def after_disconnect() -> None:
            s = await scrape(url)
            assert value(s, "nestpy_connected_sockets", namespace="/obs") == 0
            reasons = sum(v for (n, labels), v in s.items()
                          if n == "nestpy_disconnections_total"
                          and ("namespace", "/obs") in labels)
            assert reasons == 3

        await eventually(after_disconnect)


async def test_without_metrics_nothing_is_wrapped_or_served() -> None:
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    async with module.create_nest_application() as app:
        sio = app._registry.all_servers()[0]
        # no instance attribute shadows the server's send methods; handlers are the compiled ones
        assert "send_to" not in vars(sio) and "emit" not in vars(sio)
        runtime = sio.gateway_for("/obs")
        run = runtime.handlers["echo"].run
        assert run.__module__ == "nestpy._pipeline.compiler"
        assert run.__qualname__.startswith("compile_handler.<locals>.")
        async with aiohttp.ClientSession() as http, http.get(app.get_url() + "/metrics") as r:
            assert r.status == 404


async def test_metrics_path_and_late_call() -> None:
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    app = module.create_nest_application()
    with pytest.raises(ValueError, match="must start with '/'"):
        app.enable_metrics("metrics")
    app.enable_metrics("/internal/metrics")
    async with app:
        samples = await scrape(app.get_url() + "/internal/metrics")
        assert ("nestpy_connected_sockets", frozenset({("namespace", "/obs")})) in samples
        from nestpy.exceptions import LateRegistrationError

        with pytest.raises(LateRegistrationError):
            app.enable_metrics()


@pytest.mark.redis
async def test_broker_health_of_a_scale_out_adapter() -> None:
    module = await Test.create_testing_module(imports=[ObsModule]).compile()
    app = module.create_nest_application()
    channel = f"nestpy-obs-{uuid.uuid4().hex}"
    app.use_websocket_adapter(RedisIoAdapter("redis://127.0.0.1:6379/0", channel))
    app.enable_metrics()
    async with app:
        async def up() -> Any:
            samples = await scrape(app.get_url() + "/metrics")
            labels = {"adapter": "RedisIoAdapter", "channel": channel}
            assert value(samples, "nestpy_broker_up", **labels) == 1
            assert value(samples, "nestpy_cluster_nodes", **labels) >= 1
            return samples

        await eventually(up)


@pytest.mark.redis
async def test_broker_up_drops_to_zero_when_the_broker_goes_away() -> None:
    """A throwaway redis-server of this test's own, stopped mid-test (never the shared one)."""
    redis = ThrowawayRedis()
    redis.start()
    try:
        module = await Test.create_testing_module(imports=[ObsModule]).compile()
        app = module.create_nest_application()
        channel = f"nestpy-obs-{uuid.uuid4().hex}"
        url = redis.url
        app.use_websocket_adapter(RedisIoAdapter(url, channel, heartbeat_interval=0.1))
        app.enable_metrics()
        labels = {"adapter": "RedisIoAdapter", "channel": channel}
        async with app:
            metrics_url = app.get_url() + "/metrics"

            async def up() -> None:
                assert value(await scrape(metrics_url), "nestpy_broker_up", **labels) == 1

            await eventually(up)
            redis.stop()

            async def down() -> None:
                samples = await scrape(metrics_url)
                assert ("nestpy_broker_up", frozenset(labels.items())) in samples
                assert value(samples, "nestpy_broker_up", **labels) == 0

            await eventually(down)
    finally:
        redis.stop()
