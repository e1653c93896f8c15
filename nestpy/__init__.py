"""nestpy: NestJS's real-time gateway model for Python.

Core API: modules, providers, dependency injection, the application factory and the
logger. Gateways live in ``nestpy.websockets``; guards, pipes, interceptors and filters in
``nestpy.common``; test helpers in ``nestpy.testing``.
"""

from nestpy.__about__ import __version__ as __version__
from nestpy._application import NestApplication as NestApplication
from nestpy._application import NestFactory as NestFactory
from nestpy._di import DynamicModule as DynamicModule
from nestpy._di import Global as Global
from nestpy._di import Inject as Inject
from nestpy._di import Injectable as Injectable
from nestpy._di import Module as Module
from nestpy._di import Provider as Provider
from nestpy._di import Scope as Scope
from nestpy._di.scopes import request_context as request_context
from nestpy.exceptions import BootstrapError as BootstrapError
from nestpy.exceptions import NestpyError as NestpyError
from nestpy.exceptions import UnknownDependencyError as UnknownDependencyError
from nestpy.logger import Logger as Logger

__all__ = [
    "BootstrapError",
    "DynamicModule",
    "Global",
    "Inject",
    "Injectable",
    "Logger",
    "Module",
    "NestApplication",
    "NestFactory",
    "NestpyError",
    "Provider",
    "Scope",
    "UnknownDependencyError",
    "__version__",
    "request_context",
]
