"""Plain WebSocket gateways (NestJS's ``@nestjs/platform-ws``) on aiohttp's
``web.WebSocketResponse``, sharing the compiled pipeline with Socket.IO gateways."""

from nestpy.websockets._ws.adapter import WsAdapter as WsAdapter
from nestpy.websockets._ws.client import WsClient as WsClient
from nestpy.websockets._ws.client import WsHandshake as WsHandshake
from nestpy.websockets._ws.server import WsBroadcastOperator as WsBroadcastOperator
from nestpy.websockets._ws.server import WsServer as WsServer

__all__ = ["WsAdapter", "WsBroadcastOperator", "WsClient", "WsHandshake", "WsServer"]
