"""Test helpers: testing modules with overridden providers, Socket.IO and plain WebSocket
test clients, and a pytest plugin (``nest_app`` / ``nest_client`` fixtures, registered as
``pytest11``)."""

from nestpy.testing.client import ConnectionRefused as ConnectionRefused
from nestpy.testing.client import SocketClient as SocketClient
from nestpy.testing.module import OverrideBy as OverrideBy
from nestpy.testing.module import Test as Test
from nestpy.testing.module import TestingModule as TestingModule
from nestpy.testing.module import TestingModuleBuilder as TestingModuleBuilder
from nestpy.testing.ws_client import WsCallError as WsCallError
from nestpy.testing.ws_client import WsTestClient as WsTestClient

__all__ = [
    "ConnectionRefused",
    "OverrideBy",
    "SocketClient",
    "Test",
    "TestingModule",
    "TestingModuleBuilder",
    "WsCallError",
    "WsTestClient",
]
