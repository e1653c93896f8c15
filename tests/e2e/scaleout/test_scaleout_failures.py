"""Broker failures: down at startup, down while running, and secrets kept out of errors/logs."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from asyncio_compat import within
from scaleout_support import ChatModule, Cluster, Connect
from throwaway_redis import ThrowawayRedis, free_port

from nestpy import NestFactory
from nestpy.websockets.adapters import AmqpIoAdapter, BrokerUnavailableError, RedisIoAdapter
from nestpy.websockets.emitter import Emitter

pytestmark = pytest.mark.e2e

SECRET = "s3cret-pw"


async def test_redis_down_at_startup_fails_listen_naming_the_url_and_the_fix() -> None:
    port = free_port()  # nothing listens there
    app = await NestFactory.create(ChatModule)
    app.use_websocket_adapter(RedisIoAdapter(f"redis://:{SECRET}@127.0.0.1:{port}/0"))
    try:
        with pytest.raises(BrokerUnavailableError) as info:
            await app.listen(0, "127.0.0.1")
    finally:
        await app.close()
    text = str(info.value)
    assert f"cannot connect to Redis at redis://:***@127.0.0.1:{port}/0" in text
    assert "Start Redis there, or pass RedisIoAdapter(url=...)" in text
    assert SECRET not in text and SECRET not in repr(info.value.__cause__)
    assert info.value.starting


async def test_amqp_down_at_startup_fails_listen_naming_the_url_and_the_fix() -> None:
    port = free_port()
    app = await NestFactory.create(ChatModule)
    app.use_websocket_adapter(AmqpIoAdapter(f"amqp://guest:{SECRET}@127.0.0.1:{port}//"))
    try:
        with pytest.raises(BrokerUnavailableError) as info:
            await app.listen(0, "127.0.0.1")
    finally:
        await app.close()
    text = str(info.value)
    assert f"cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:{port}//" in text
    assert "AmqpIoAdapter(url=...)" in text and SECRET not in text


@pytest.mark.amqp
async def test_amqp_wrong_password_fails_listen_without_showing_it() -> None:
    app = await NestFactory.create(ChatModule)
    app.use_websocket_adapter(AmqpIoAdapter(f"amqp://guest:{SECRET}@127.0.0.1:5672//"))
    try:
        with pytest.raises(BrokerUnavailableError) as info:
            await app.listen(0, "127.0.0.1")
    finally:
        await app.close()
    assert "ACCESS_REFUSED" in str(info.value) and SECRET not in str(info.value)


@pytest.mark.redis
async def test_redis_wrong_password_fails_listen_without_showing_it() -> None:
    redis = ThrowawayRedis(SECRET)
    redis.start()
    try:
        app = await NestFactory.create(ChatModule)
        app.use_websocket_adapter(RedisIoAdapter(f"redis://:wrong-{SECRET}@127.0.0.1:{redis.port}/0"))
        try:
            with pytest.raises(BrokerUnavailableError) as info:
                await app.listen(0, "127.0.0.1")
        finally:
            await app.close()
    finally:
        redis.stop()
    text = str(info.value)
    assert "AuthenticationError" in text and SECRET not in text


async def test_emitter_raises_when_the_broker_is_down() -> None:
    port = free_port()
    async with Emitter(f"redis://:{SECRET}@127.0.0.1:{port}/0", "c") as emitter:
        with pytest.raises(BrokerUnavailableError) as info:
            await emitter.of("/chat").emit("x", 1)
    assert SECRET not in str(info.value)


@pytest.mark.redis
@pytest.mark.allow_errors  # the broker outage logs errors on purpose
async def test_redis_going_down_keeps_local_clients_served_and_recovers(
    cluster: Cluster,
    connect: Connect,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    redis = ThrowawayRedis(SECRET)
    redis.start()
    try:
        a, b = await cluster("redis", url=redis.url, request_timeout=1.0)
        ann = await connect(a, "ann")
        bob = await connect(b, "bob")
        await a.server.emit("before", 1)
        assert await bob.receive("before") == 1

        redis.stop()
        # The node keeps serving its own clients: handlers, local emits.
        assert await ann.call("ping") == "pong"
        started = time.monotonic()
        await a.server.emit("local", 2)
        assert time.monotonic() - started < 1.0
        assert await ann.receive("local") == 2
        # A cluster-wide query says the broker is down, at once, with what it knows locally.
        started = time.monotonic()
        with pytest.raises(BrokerUnavailableError) as info:
            await a.server.fetch_sockets()
        assert time.monotonic() - started < 1.0
        assert [s.id for s in info.value.partial] == [ann.sid]
        assert "is unreachable" in str(info.value) and SECRET not in str(info.value)

        redis.start()  # same port: python-socketio's listener reconnects (1 s backoff)
        async with within(8):
            while True:
                await a.server.emit("after", 3)
                try:
                    assert await bob.receive("after", timeout=0.2) == 3
                    break
                except asyncio.TimeoutError:
                    pass
        async with within(8):
            while True:
                try:
                    found = await a.server.fetch_sockets()
                except (BrokerUnavailableError, TimeoutError):
                    await asyncio.sleep(0.1)
                    continue
                if {s.id for s in found} == {ann.sid, bob.sid}:
                    break
                await asyncio.sleep(0.1)
        out, err = capfd.readouterr()
    finally:
        redis.stop()
    # One warning per outage, not python-socketio's two errors per publish (counted in
    # tests/e2e/reliability/test_broker_outage.py; docs/reliability.md "Broker outages").
    assert "Cannot publish to redis" not in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in out and SECRET not in err
