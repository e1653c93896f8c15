"""nestpy's Engine.IO v4 server, usable on its own.

``EngineIOServer`` speaks the Engine.IO v4 protocol (socketio/engine.io-protocol): the
handshake, HTTP long-polling, websocket, the upgrade from one to the other, the heartbeat and
close. It runs on aiohttp's public API (``web.WebSocketResponse`` to read, the request's
asyncio transport to write pre-built frames, ``get_write_buffer_size()`` to bound what a slow
client makes the server hold). nestpy's Socket.IO server runs on it; it also serves plain
Engine.IO clients (``tests/protocol/engineio_echo_server.py`` is an echo server on it).

.. versionadded:: 0.2
"""

from nestpy.engineio._server import (
    DEFAULT_MAX_BUFFER_SIZE,
    DEFAULT_MAX_PAYLOAD,
    DEFAULT_PING_INTERVAL,
    DEFAULT_PING_TIMEOUT,
    DEFAULT_UPGRADE_TIMEOUT,
    EngineIOServer,
)
from nestpy.engineio._socket import EngineIOSocket

__all__ = [
    "DEFAULT_MAX_BUFFER_SIZE",
    "DEFAULT_MAX_PAYLOAD",
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_PING_TIMEOUT",
    "DEFAULT_UPGRADE_TIMEOUT",
    "EngineIOServer",
    "EngineIOSocket",
]
