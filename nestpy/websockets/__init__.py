"""Socket.IO gateways: NestJS's ``@nestjs/websockets`` for Python."""

from nestpy.websockets.decorators import Ack as Ack
from nestpy.websockets.decorators import ConnectedSocket as ConnectedSocket
from nestpy.websockets.decorators import MessageBody as MessageBody
from nestpy.websockets.decorators import SubscribeMessage as SubscribeMessage
from nestpy.websockets.decorators import WebSocketGateway as WebSocketGateway
from nestpy.websockets.decorators import WebSocketServer as WebSocketServer
from nestpy.websockets.exceptions import WsException as WsException
from nestpy.websockets.interfaces import OnGatewayConnection as OnGatewayConnection
from nestpy.websockets.interfaces import OnGatewayDisconnect as OnGatewayDisconnect
from nestpy.websockets.interfaces import OnGatewayInit as OnGatewayInit
from nestpy.websockets.responses import WsResponse as WsResponse
from nestpy.websockets.server import Server as Server
from nestpy.websockets.socket import BroadcastOperator as BroadcastOperator
from nestpy.websockets.socket import Handshake as Handshake
from nestpy.websockets.socket import Socket as Socket

__all__ = [
    "Ack",
    "BroadcastOperator",
    "ConnectedSocket",
    "Handshake",
    "MessageBody",
    "OnGatewayConnection",
    "OnGatewayDisconnect",
    "OnGatewayInit",
    "Server",
    "Socket",
    "SubscribeMessage",
    "WebSocketGateway",
    "WebSocketServer",
    "WsException",
    "WsResponse",
]
