"""``Logger(context)``: NestJS's logger API over structlog.

Output is pretty on a TTY and JSON lines otherwise; ``NESTPY_LOG_FORMAT=json|console``
forces one, ``NESTPY_LOG_LEVEL`` sets the level (default ``info``). Inside a gateway handler
every line carries ``sid``, ``namespace`` and ``event`` without the caller passing them: the
dispatcher stores them in one ``ContextVar`` per message, and the ``add_ws_context``
processor copies them into the event dict only when a line is actually logged (cheaper than
binding three contextvars per message).
"""

from __future__ import annotations

import logging
import os
import sys
from contextvars import ContextVar
from typing import Any

import structlog

__all__ = [
    "Logger", "add_ws_context", "configure_logging", "route_library_logs", "ws_context",
]

#: (sid, namespace, event) of the message being handled, or None outside handlers.
ws_context: ContextVar[tuple[str, str, str] | None] = ContextVar(
    "nestpy_ws_context", default=None
)

_configured = False

#: A user's own ``event=`` field travels under this key past structlog's positional
#: ``event`` (the message) and is restored by :func:`_restore_event`.
_EVENT_FIELD = "_nestpy_event"

#: Called with (level, event_dict) for every line at error level or above. Test tooling
#: (the error guard in nestpy's own test suite) listens here; empty in production.
error_taps: list[Any] = []


def add_ws_context(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: add ``sid``/``namespace``/``event`` of the current message.

    Add it to your own structlog chain if you configure structlog yourself.
    """
    ctx = ws_context.get()
    if ctx is not None:
        sid, namespace, event = ctx
        # Runs after EventRenamer, so "event" is free for the Socket.IO event name.
        event_dict.setdefault("sid", sid)
        event_dict.setdefault("namespace", namespace)
        event_dict.setdefault("event", event)
    return event_dict


def _restore_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # After EventRenamer: a user's own event= field (Logger("x").info("m", event="join")).
    if _EVENT_FIELD in event_dict:
        event_dict["event"] = event_dict.pop(_EVENT_FIELD)
    return event_dict


def _tap_errors(_logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    if error_taps and method in ("error", "exception", "critical", "fatal"):
        for tap in error_taps:
            tap(method, event_dict)
    return event_dict


def configure_logging(fmt: str | None = None, level: str | int | None = None) -> None:
    """Configure structlog for nestpy.

    Args:
        fmt: ``"json"`` or ``"console"``; default from ``NESTPY_LOG_FORMAT``, else console on
            a TTY and JSON otherwise.
        level: a level name or number; default from ``NESTPY_LOG_LEVEL``, else ``info``.
    """
    global _configured
    fmt = (fmt or os.environ.get("NESTPY_LOG_FORMAT") or "").lower() or (
        "console" if sys.stderr.isatty() else "json"
    )
    raw_level = level if level is not None else os.environ.get("NESTPY_LOG_LEVEL", "info")
    lvl = raw_level if isinstance(raw_level, int) else logging.getLevelName(raw_level.upper())
    if not isinstance(lvl, int):
        raise ValueError(f"unknown log level {raw_level!r}; use debug, info, warning or error")
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        # structlog calls the message "event"; nestpy's lines use "message" so that
        # "event" can carry the Socket.IO event name (DESIGN.md "Logger").
        structlog.processors.EventRenamer("message"),
        _restore_event,
        add_ws_context,
        _tap_errors,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if fmt == "json":
        processors += [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    elif fmt == "console":
        processors.append(structlog.dev.ConsoleRenderer(event_key="message"))
    else:
        raise ValueError(f"unknown log format {fmt!r}; use 'json' or 'console'")
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    _configured = True


def _ensure_configured() -> None:
    # Respect an application that configured structlog itself.
    if not _configured and not structlog.is_configured():
        configure_logging()


class Logger:
    """A named logger, as NestJS's ``new Logger(context)``.

    Methods take a message and keyword fields: ``logger.info("joined", room="a")``.
    """

    __slots__ = ("_context", "_log")

    def __init__(self, context: str = "") -> None:
        self._context = context
        self._log: Any = None

    @property
    def context(self) -> str:
        """The context name this logger stamps on each line."""
        return self._context

    def _logger(self) -> Any:
        log = self._log
        if log is None:
            _ensure_configured()
            log = structlog.get_logger("nestpy")
            if self._context:
                log = log.bind(context=self._context)
            self._log = log
        return log

    def debug(self, message: str, **fields: Any) -> None:
        """Log at debug level."""
        if "event" in fields:
            fields[_EVENT_FIELD] = fields.pop("event")
        self._logger().debug(message, **fields)

    def verbose(self, message: str, **fields: Any) -> None:
        """NestJS's ``verbose``: logged at debug level."""
        self.debug(message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        """Log at info level."""
        if "event" in fields:
            fields[_EVENT_FIELD] = fields.pop("event")
        self._logger().info(message, **fields)

    def log(self, message: str, **fields: Any) -> None:
        """NestJS's ``log``: logged at info level."""
        self.info(message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        """Log at warning level."""
        if "event" in fields:
            fields[_EVENT_FIELD] = fields.pop("event")
        self._logger().warning(message, **fields)

    warn = warning

    def error(self, message: str, **fields: Any) -> None:
        """Log at error level."""
        if "event" in fields:
            fields[_EVENT_FIELD] = fields.pop("event")
        self._logger().error(message, **fields)

    def exception(self, message: str, **fields: Any) -> None:
        """Log at error level with the current exception's traceback."""
        if "event" in fields:
            fields[_EVENT_FIELD] = fields.pop("event")
        self._logger().exception(message, **fields)

    def fatal(self, message: str, **fields: Any) -> None:
        """Log at critical level."""
        if "event" in fields:
            fields[_EVENT_FIELD] = fields.pop("event")
        self._logger().critical(message, **fields)


#: python-engineio/python-socketio/aiohttp loggers (and nestpy's Engine.IO server's, which
#: logs through stdlib logging) routed through nestpy's logging.
_LIBRARY_LOGGERS = ("engineio.server", "socketio.server", "aiohttp", "nestpy.engineio")

_CORS_REFUSAL = " is not an accepted origin."
_CLIENT_ERROR_SUFFIX = " (further occurrences of this error will be logged with level INFO)"


class _StructlogHandler(logging.Handler):
    """A stdlib handler that re-logs library records through a nestpy ``Logger``, so their
    lines join the JSON stream (one line each, traceback included) instead of breaking it."""

    def __init__(self) -> None:
        super().__init__()
        self._loggers: dict[str, Logger] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            log = self._loggers.get(record.name)
            if log is None:
                log = self._loggers[record.name] = Logger(record.name)
            message = record.getMessage()
            level = record.levelno
            fields: dict[str, Any] = {}
            if _CORS_REFUSAL in message:
                # A refused origin is the client's problem, not a server error; say the fix.
                origin = message.split(_CORS_REFUSAL, 1)[0]
                message = (
                    f"refused the handshake from origin {origin}: CORS is closed by default; "
                    "allow it with @WebSocketGateway(cors=[...]) (or cors=True for any origin)"
                )
                level = logging.WARNING
            elif _CLIENT_ERROR_SUFFIX in message:
                # python-engineio's "log once" errors are all bad client requests (invalid
                # transport, session or upgrade): a warning, not a server error.
                message = message.replace(_CLIENT_ERROR_SUFFIX, "")
                level = logging.WARNING
            if record.exc_info and record.exc_info[0] is not None:
                fields["exc_info"] = record.exc_info
            if level >= logging.ERROR:
                log.error(message, **fields)
            elif level >= logging.WARNING:
                log.warning(message, **fields)
            elif level >= logging.INFO:
                log.info(message, **fields)
            else:
                log.debug(message, **fields)
        except Exception:  # a logging handler never raises into the library
            self.handleError(record)


_library_handler: _StructlogHandler | None = None


def route_library_logs() -> None:
    """Send python-engineio, python-socketio and aiohttp log records through nestpy's
    structlog output (idempotent; called when the application starts).

    Loggers the application configured itself (a handler of its own) are left alone.
    python-engineio's own plain ``StreamHandler`` (added when a server is created, its text
    lines break the JSON stream) is replaced; the level it chose stays (``ERROR``, or
    ``INFO`` with the gateway option ``logger=True``). A logger without a level gets
    ``WARNING``.
    """
    global _library_handler
    if _library_handler is None:
        _library_handler = _StructlogHandler()
    for name in _LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        own = [h for h in lib.handlers if h is not _library_handler]
        if any(type(h) is not logging.StreamHandler for h in own):
            continue  # the application's own handler
        for h in own:  # python-engineio's default StreamHandler
            lib.removeHandler(h)
        if _library_handler not in lib.handlers:
            lib.addHandler(_library_handler)
        if lib.level == logging.NOTSET:
            lib.setLevel(logging.WARNING)
        lib.propagate = False
