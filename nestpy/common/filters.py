"""``BaseWsExceptionFilter``: NestJS 11's websocket error payloads, extendable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nestpy.common.context import ArgumentsHost
from nestpy.common.exceptions import WsException
from nestpy.logger import Logger

__all__ = ["INTERNAL_ERROR", "BaseWsExceptionFilter", "error_payload"]

INTERNAL_ERROR = "Internal server error"

_log = Logger("WsExceptionsHandler")

CauseFactory = Callable[[str, Any], Any]


def _default_cause(pattern: str, data: Any) -> Any:
    return {"pattern": pattern, "data": data}


def error_payload(
    exc: BaseException,
    pattern: str,
    data: Any,
    include_cause: bool = True,
    cause_factory: CauseFactory = _default_cause,
) -> Any:
    """The payload NestJS 11's ``BaseWsExceptionFilter`` emits for *exc*.

    ``WsException(dict)`` → the dict verbatim; ``WsException(str | list)`` →
    ``{"status": "error", "message": ...}``; anything else → ``"Internal server error"``;
    plus ``"cause"`` when *include_cause*.
    """
    if isinstance(exc, WsException):
        err = exc.get_error()
        if isinstance(err, dict):
            return err
        payload: dict[str, Any] = {"status": "error", "message": err}
    else:
        payload = {"status": "error", "message": INTERNAL_ERROR}
    if include_cause:
        payload["cause"] = cause_factory(pattern, data)
    return payload


class BaseWsExceptionFilter:
    """The default exception filter; extend it and call ``super().catch(...)`` to keep the
    standard behaviour after your own (logging, metrics...).

    ``catch`` emits ``exception`` to the calling client with :func:`error_payload` and logs
    errors that are not ``WsException`` with their traceback. It returns the payload, which
    also answers the caller's ack if it asked for one.

    Args:
        include_cause: add ``cause`` (``{"pattern", "data"}``) to string messages.
        cause_factory: build ``cause`` from ``(pattern, data)`` instead.

    .. versionadded:: 0.1
    """

    def __init__(
        self, include_cause: bool = True, cause_factory: CauseFactory | None = None
    ) -> None:
        self.include_cause = include_cause
        self.cause_factory = cause_factory or _default_cause

    async def catch(self, exception: BaseException, host: ArgumentsHost) -> Any:
        """Emit the standard payload for *exception* to the client; return it."""
        ws = host.switch_to_ws()
        payload = error_payload(
            exception, ws.get_pattern(), ws.get_data(), self.include_cause, self.cause_factory
        )
        if not isinstance(exception, WsException):
            _log.error(
                "unhandled error in handler",
                pattern=ws.get_pattern(),
                exc_info=(type(exception), exception, exception.__traceback__),
            )
        client = ws.get_client()
        if getattr(client, "connected", True):
            await client.emit("exception", payload)
        return payload
