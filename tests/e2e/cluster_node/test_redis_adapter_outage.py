"""``SocketIoRedisAdapter`` through a Redis restart (a throwaway ``redis-server``): no crash,
no client disconnected, every message published once the nodes are subscribed again arrives,
in order, once; what was sent while Redis was down is queued and published when it is back."""

from __future__ import annotations

import asyncio

import pytest
from asyncio_compat import within
from throwaway_redis import ThrowawayRedis

from nestpy.websockets import SocketIoRedisAdapter

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


async def test_redis_restart(key, nest_node, client) -> None:
    import redis.asyncio as aioredis

    redis = ThrowawayRedis()
    redis.start()
    try:
        sender = await nest_node(SocketIoRedisAdapter(redis.url, key))
        receiver = await nest_node(SocketIoRedisAdapter(redis.url, key))
        listener = await client(receiver.port, "ann")
        sent: list[int] = []

        async def send(n: int) -> None:
            await sender.server.emit("n", n)
            sent.append(n)
            await asyncio.sleep(0.05)

        for n in range(10):
            await send(n)
        assert [await listener.receive("n") for _ in range(10)] == list(range(10))
        redis.stop()
        for n in range(10, 20):  # while Redis is down: queued by the sender
            await send(n)
        redis.start()
        probe = aioredis.Redis.from_url(redis.url)
        try:
            async with within(10):  # both nodes subscribed again
                while True:
                    counts = await probe.pubsub_numsub(f"{key}-request#/chat#")
                    if counts and counts[0][1] == 2:
                        break
                    await asyncio.sleep(0.02)
        finally:
            await probe.aclose()
        back = len(sent)
        for n in range(back, back + 20):
            await send(n)
        got: list[int] = []
        async with within(10):
            while not got or got[-1] != sent[-1]:
                got.append(await listener.receive("n"))
        assert got == sorted(set(got))  # in order, once
        assert set(sent[back:]) <= set(got)  # everything sent once Redis was back
        assert listener.sio.connected and not listener.disconnected.is_set()
        assert sender.adapter.managers[0]._outbox.pending == 0  # the queue was flushed
    finally:
        redis.stop()


@pytest.mark.parametrize("kind", ["redis", "streams"])
async def test_redis_down_at_startup_is_a_clear_error(kind: str) -> None:
    from throwaway_redis import free_port

    from nestpy import Module, NestFactory
    from nestpy.websockets import (
        BrokerUnavailableError,
        SocketIoRedisStreamsAdapter,
        WebSocketGateway,
    )

    @WebSocketGateway(namespace="chat")
    class Chat:
        pass

    @Module(providers=[Chat])
    class ChatModule:
        pass

    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"  # nothing listens there
    adapter = (SocketIoRedisAdapter(url, startup_timeout=1) if kind == "redis"
               else SocketIoRedisStreamsAdapter(url, startup_timeout=1))
    app = await NestFactory.create(ChatModule)
    app.use_websocket_adapter(adapter)
    try:
        with pytest.raises(BrokerUnavailableError) as info:
            await app.listen(0, "127.0.0.1")
    finally:
        await app.close()
    message = str(info.value)
    assert "cannot connect to Redis at redis://:***@127.0.0.1" in message
    assert "s3cret" not in message and "s3cret" not in repr(adapter)
