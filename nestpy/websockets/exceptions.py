"""``WsException``: the error a gateway raises to tell the caller what went wrong."""

from __future__ import annotations

from typing import Any

from nestpy.exceptions import NestpyError


class WsException(NestpyError):
    """An error meant for the client.

    ``WsException("text")`` reaches the caller as event ``exception`` with
    ``{"status": "error", "message": "text", "cause": {...}}``; ``WsException({...})``
    sends the dict verbatim (NestJS's ``BaseWsExceptionFilter`` rules). Raised from
    ``handle_connection`` or a handshake guard, it refuses the connection and the client
    receives ``connect_error`` with the message.
    """

    def __init__(self, error: str | dict[str, Any]) -> None:
        self.error = error
        super().__init__(error if isinstance(error, str) else repr(error))

    def get_error(self) -> str | dict[str, Any]:
        """The payload given to the constructor (NestJS's ``getError()``)."""
        return self.error
