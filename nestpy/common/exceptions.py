"""``WsException``, defined below the websockets layer so pipes, guards and filters in
``nestpy.common`` can raise and recognise it without importing python-socketio.

Import it from ``nestpy.websockets`` (its documented home, as in NestJS).
"""

from __future__ import annotations

from typing import Any

from nestpy.exceptions import NestpyError

__all__ = ["WsException"]


class WsException(NestpyError):
    """An error meant for the client.

    ``WsException("text")`` reaches the caller as event ``exception`` with
    ``{"status": "error", "message": "text", "cause": {...}}``; ``WsException({...})``
    sends the dict verbatim (NestJS's ``BaseWsExceptionFilter`` rules); a list (what
    validation raises) becomes the ``message``. Raised from ``handle_connection`` or a
    handshake guard, it refuses the connection and the client receives ``connect_error``
    with the message.

    .. versionadded:: 0.1
    """

    def __init__(self, error: str | dict[str, Any] | list[Any]) -> None:
        self.error = error
        super().__init__(error if isinstance(error, str) else repr(error))

    def get_error(self) -> str | dict[str, Any] | list[Any]:
        """The payload given to the constructor (NestJS's ``getError()``)."""
        return self.error
