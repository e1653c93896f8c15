"""Socket.IO gateways: NestJS's ``@nestjs/websockets`` for Python."""

from nestpy.common.filters import BaseWsExceptionFilter as BaseWsExceptionFilter
from nestpy.websockets._ws import WsAdapter as WsAdapter
from nestpy.websockets._ws import WsBroadcastOperator as WsBroadcastOperator
from nestpy.websockets._ws import WsClient as WsClient
from nestpy.websockets._ws import WsHandshake as WsHandshake
from nestpy.websockets._ws import WsServer as WsServer
from nestpy.websockets.adapters import AdapterError as AdapterError
from nestpy.websockets.adapters import AmqpIoAdapter as AmqpIoAdapter
from nestpy.websockets.adapters import BrokerUnavailableError as BrokerUnavailableError
from nestpy.websockets.adapters import ClusterTimeoutError as ClusterTimeoutError
from nestpy.websockets.adapters import IoAdapter as IoAdapter
from nestpy.websockets.adapters import RedisIoAdapter as RedisIoAdapter
from nestpy.websockets.adapters import SocketIoRedisAdapter as SocketIoRedisAdapter
from nestpy.websockets.adapters import (
    SocketIoRedisStreamsAdapter as SocketIoRedisStreamsAdapter,
)
from nestpy.websockets.decorators import Ack as Ack
from nestpy.websockets.decorators import ConnectedSocket as ConnectedSocket
from nestpy.websockets.decorators import MessageBody as MessageBody
from nestpy.websockets.decorators import SubscribeMessage as SubscribeMessage
from nestpy.websockets.decorators import WebSocketGateway as WebSocketGateway
from nestpy.websockets.decorators import WebSocketServer as WebSocketServer
from nestpy.websockets.emitter import Emitter as Emitter
from nestpy.websockets.emitter import EmitterOperator as EmitterOperator
from nestpy.websockets.exceptions import AckTimeoutError as AckTimeoutError
from nestpy.websockets.exceptions import WsException as WsException
from nestpy.websockets.interfaces import OnGatewayConnection as OnGatewayConnection
from nestpy.websockets.interfaces import OnGatewayDisconnect as OnGatewayDisconnect
from nestpy.websockets.interfaces import OnGatewayInit as OnGatewayInit
from nestpy.websockets.responses import WsResponse as WsResponse
from nestpy.websockets.server import Server as Server
from nestpy.websockets.socket import BroadcastOperator as BroadcastOperator
from nestpy.websockets.socket import Handshake as Handshake
from nestpy.websockets.socket import RemoteSocket as RemoteSocket
from nestpy.websockets.socket import Socket as Socket

__all__ = [
    "Ack",
    "AckTimeoutError",
    "AdapterError",
    "AmqpIoAdapter",
    "BaseWsExceptionFilter",
    "BroadcastOperator",
    "BrokerUnavailableError",
    "ClusterTimeoutError",
    "ConnectedSocket",
    "Emitter",
    "EmitterOperator",
    "Handshake",
    "IoAdapter",
    "MessageBody",
    "OnGatewayConnection",
    "OnGatewayDisconnect",
    "OnGatewayInit",
    "RedisIoAdapter",
    "RemoteSocket",
    "Server",
    "Socket",
    "SocketIoRedisAdapter",
    "SocketIoRedisStreamsAdapter",
    "SubscribeMessage",
    "WebSocketGateway",
    "WebSocketServer",
    "WsAdapter",
    "WsBroadcastOperator",
    "WsClient",
    "WsException",
    "WsHandshake",
    "WsResponse",
    "WsServer",
]
