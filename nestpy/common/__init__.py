"""The request pipeline: guards, pipes, interceptors, exception filters and metadata.

Per message (NestJS's order): guards → interceptors (before) → pipes → handler →
interceptors (after); exception filters on any error.
"""

from nestpy.common.context import ArgumentsHost as ArgumentsHost
from nestpy.common.context import ExecutionContext as ExecutionContext
from nestpy.common.context import WsArgumentsHost as WsArgumentsHost
from nestpy.common.decorators import Catch as Catch
from nestpy.common.decorators import SetMetadata as SetMetadata
from nestpy.common.decorators import Throttle as Throttle
from nestpy.common.decorators import UseFilters as UseFilters
from nestpy.common.decorators import UseGuards as UseGuards
from nestpy.common.decorators import UseInterceptors as UseInterceptors
from nestpy.common.decorators import UsePipes as UsePipes
from nestpy.common.filters import BaseWsExceptionFilter as BaseWsExceptionFilter
from nestpy.common.interfaces import ApplicationContext as ApplicationContext
from nestpy.common.interfaces import ArgumentMetadata as ArgumentMetadata
from nestpy.common.interfaces import CallHandler as CallHandler
from nestpy.common.interfaces import CanActivate as CanActivate
from nestpy.common.interfaces import ExceptionFilter as ExceptionFilter
from nestpy.common.interfaces import NestInterceptor as NestInterceptor
from nestpy.common.interfaces import PipeTransform as PipeTransform
from nestpy.common.pipes import DefaultValuePipe as DefaultValuePipe
from nestpy.common.pipes import ParseBoolPipe as ParseBoolPipe
from nestpy.common.pipes import ParseFloatPipe as ParseFloatPipe
from nestpy.common.pipes import ParseIntPipe as ParseIntPipe
from nestpy.common.pipes import ParseUUIDPipe as ParseUUIDPipe
from nestpy.common.pipes import ValidationPipe as ValidationPipe
from nestpy.common.reflector import ReflectableDecorator as ReflectableDecorator
from nestpy.common.reflector import Reflector as Reflector

__all__ = [
    "ApplicationContext",
    "ArgumentMetadata",
    "ArgumentsHost",
    "BaseWsExceptionFilter",
    "CallHandler",
    "CanActivate",
    "Catch",
    "DefaultValuePipe",
    "ExceptionFilter",
    "ExecutionContext",
    "NestInterceptor",
    "ParseBoolPipe",
    "ParseFloatPipe",
    "ParseIntPipe",
    "ParseUUIDPipe",
    "PipeTransform",
    "ReflectableDecorator",
    "Reflector",
    "SetMetadata",
    "Throttle",
    "UseFilters",
    "UseGuards",
    "UseInterceptors",
    "UsePipes",
    "ValidationPipe",
    "WsArgumentsHost",
]
