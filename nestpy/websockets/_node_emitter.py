"""``Emitter(url, protocol="socket.io")``: publish as ``@socket.io/redis-emitter`` does.

Broadcasts go to ``<key>#<ns>#`` (``<key>#<ns>#<room>#`` for one room) as MessagePack
``["emitter", packet, {rooms, except, flags}]``; ``socketsJoin`` / ``socketsLeave`` /
``disconnectSockets`` / ``serverSideEmit`` as JSON requests on ``<key>-request#<ns>#``, not
waiting for anyone — the official emitter's format, read by Node socket.io servers on
``@socket.io/redis-adapter`` and by nestpy's ``SocketIoRedisAdapter``.

.. versionadded:: 0.2
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nestpy._pipeline.encoding import json_default
from nestpy.websockets import _node_wire as wire
from nestpy.websockets._cluster_errors import BrokerUnavailableError, redact_url

__all__ = ["NodeEmitterBackend"]

#: The uid the official emitter puts on its messages (servers never skip it).
EMITTER_UID = "emitter"


class NodeEmitterBackend:
    """The Redis connection and message encoding of a ``socket.io``-protocol ``Emitter``."""

    def __init__(self, url: str, key: str, redis_options: dict[str, Any] | None,
                 connect_timeout: float) -> None:
        self.url = url
        self.key = key
        self._options = dict(redis_options or {})
        self._timeout = connect_timeout
        self._client: Any = None

    async def _get(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(self.url, **self._options)
            try:
                await asyncio.wait_for(client.ping(), self._timeout)
            except Exception as exc:
                await client.aclose()
                raise self._error(exc) from None
            self._client = client
        return self._client

    def _error(self, exc: BaseException) -> BrokerUnavailableError:
        return BrokerUnavailableError(
            "Redis", redact_url(self.url), type(exc).__name__, starting=False,
            fix="Start Redis, or pass Emitter(url=...) the address the nodes use.",
        )

    async def _publish(self, channel: str, payload: bytes) -> None:
        client = await self._get()
        try:
            await client.publish(channel, payload)
        except Exception as exc:
            raise self._error(exc) from None

    async def emit(self, ns: str, rooms: tuple[str, ...], except_: tuple[str, ...],
                   event: str, args: tuple[Any, ...]) -> None:
        """Broadcast *event* with *args* to the selected sockets of every server."""
        channel = f"{self.key}#{ns}#" + (f"{rooms[0]}#" if len(rooms) == 1 else "")
        payload = wire.encode([
            EMITTER_UID,
            {"type": 2, "data": [event, *args], "nsp": ns},
            {"rooms": list(rooms), "except": list(except_), "flags": {}},
        ])
        await self._publish(channel, payload)

    async def request(self, ns: str, body: dict[str, Any]) -> None:
        """Publish a request (join / leave / disconnect / server-side emit) as JSON."""
        payload = json.dumps({"uid": EMITTER_UID, **body}, separators=(",", ":"),
                             default=json_default).encode()
        await self._publish(f"{self.key}-request#{ns}#", payload)

    async def close(self) -> None:
        """Close the connection (the next call reopens it)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
