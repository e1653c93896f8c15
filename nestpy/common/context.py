"""``ExecutionContext``: what guards, interceptors and filters see of a websocket call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ArgumentsHost", "ExecutionContext", "WsArgumentsHost"]


class ExecutionContext:
    """The current call: gateway class, handler, client, data and event pattern.

    ``switch_to_ws()`` returns the same object viewed as a ``WsArgumentsHost``
    (``get_client()``, ``get_data()``, ``get_pattern()``), as in NestJS. The same class serves
    every transport: the client is whatever the gateway's transport connects.
    """

    __slots__ = ("_client", "_cls", "_data", "_handler", "_pattern")

    def __init__(
        self,
        cls: type,
        handler: Callable[..., Any] | None,
        client: Any,
        data: Any,
        pattern: str,
    ) -> None:
        self._cls = cls
        self._handler = handler
        self._client = client
        self._data = data
        self._pattern = pattern

    def get_class(self) -> type:
        """The gateway class handling the call."""
        return self._cls

    def get_handler(self) -> Callable[..., Any] | None:
        """The handler function (the undecorated class attribute), or None."""
        return self._handler

    def get_type(self) -> str:
        """Always ``"ws"`` for gateway calls."""
        return "ws"

    def get_args(self) -> tuple[Any, Any, str]:
        """``(client, data, pattern)``."""
        return (self._client, self._data, self._pattern)

    def get_arg_by_index(self, index: int) -> Any:
        """One element of ``get_args()``."""
        return self.get_args()[index]

    def switch_to_ws(self) -> ExecutionContext:
        """This context as a websocket arguments host."""
        return self

    def get_client(self) -> Any:
        """The calling client: a ``Socket``, or a ``WsClient`` in a plain WebSocket gateway."""
        return self._client

    def get_data(self) -> Any:
        """The message body (the handshake ``auth`` for connection guards)."""
        return self._data

    def get_pattern(self) -> str:
        """The event name (``"connection"`` for connection guards)."""
        return self._pattern

    def __repr__(self) -> str:
        return f"ExecutionContext(class={self._cls.__qualname__}, pattern={self._pattern!r})"


#: NestJS names: filters receive an ``ArgumentsHost``; here it is the same object.
ArgumentsHost = ExecutionContext
WsArgumentsHost = ExecutionContext
