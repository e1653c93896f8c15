"""What users implement: guards, pipes, interceptors and exception filters (Protocols).

Subclassing a Protocol explicitly (``class AuthGuard(CanActivate)``) is allowed and reads
well; any object with the right method works too. Every method may be sync or async:
nestpy decides how to call it once, at bootstrap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

from nestpy.common.context import ArgumentsHost, ExecutionContext

__all__ = [
    "ApplicationContext",
    "ArgumentMetadata",
    "CallHandler",
    "CanActivate",
    "ExceptionFilter",
    "NestInterceptor",
    "PipeTransform",
]

E_contra = TypeVar("E_contra", bound=BaseException, contravariant=True)
_T = TypeVar("_T")

#: ``call_next`` in ``intercept(context, call_next)``: runs the rest of the pipeline (inner
#: interceptors, pipes, the handler) and returns the handler's result. For an async-generator
#: handler the result is the async iterator, which an interceptor may wrap.
CallHandler = Callable[[], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ArgumentMetadata:
    """What a pipe's ``transform(value, metadata)`` learns about the parameter.

    Attributes:
        type: ``"body"`` (NestJS's paramtype for websocket payloads; pipes only run on
            message bodies, never on the socket or ack parameters).
        metatype: the parameter's annotation without ``Annotated`` extras (``Any`` if none).
        data: the ``MessageBody("key")`` key, or None for the whole body.

    .. versionadded:: 0.1
    """

    type: str
    metatype: Any
    data: str | None


@runtime_checkable
class CanActivate(Protocol):
    """A guard: decides whether a message (or, on a gateway class, a connection) may pass.

    .. versionadded:: 0.1
    """

    def can_activate(self, context: ExecutionContext) -> bool | Awaitable[bool]:
        """Return (or resolve to) True to let the call through; False answers the caller
        with ``WsException("Forbidden resource")``. Raise ``WsException`` for another
        message."""
        ...


@runtime_checkable
class PipeTransform(Protocol):
    """A pipe: transforms or rejects one message-body parameter before the handler runs.

    .. versionadded:: 0.1
    """

    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        """Return what the handler receives (or an awaitable of it); raise ``WsException``
        to reject the message."""
        ...


@runtime_checkable
class NestInterceptor(Protocol):
    """An interceptor: runs around the pipes and the handler.

    .. versionadded:: 0.1
    """

    def intercept(self, context: ExecutionContext, call_next: CallHandler) -> Awaitable[Any]:
        """``result = await call_next()`` runs the handler; return what the caller gets."""
        ...


@runtime_checkable
class ExceptionFilter(Protocol[E_contra]):
    """An exception filter: handles errors raised by guards, interceptors, pipes or the
    handler. Declare what it handles with ``@Catch(*types)`` (nothing = everything).

    .. versionadded:: 0.1
    """

    def catch(self, exception: E_contra, host: ArgumentsHost) -> Any:
        """Handle *exception*, e.g. ``await host.switch_to_ws().get_client().emit(...)``.

        A value returned (or awaited) other than None answers the caller's ack, if it asked
        for one; otherwise the ack gets the standard error payload.
        """
        ...


class ApplicationContext(Protocol):
    """The application's providers, as ``app.container`` and ``module.container`` give them
    (NestJS's ``INestApplicationContext``).

    .. versionadded:: 0.2
    """

    @overload
    def get(self, token: type[_T]) -> _T: ...

    @overload
    def get(self, token: Any) -> Any: ...

    def get(self, token: Any) -> Any:
        """The instance bound to *token* in any module (``app.get``'s lookup).

        Raises:
            UnknownElementError: no module provides *token*.
        """
        ...

    def instances(self) -> list[Any]:
        """Every non-transient instance, in lifecycle-hook order (modules in discovery order:
        their providers, then the module instance)."""
        ...

