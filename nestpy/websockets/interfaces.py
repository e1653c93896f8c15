"""Gateway lifecycle hooks (NestJS's ``OnGatewayInit`` / ``Connection`` / ``Disconnect``).

Subclass them to document intent and get type checking; the bootstrapper calls a hook only
when the gateway overrides it (the base methods are no-ops and are never called).
Every hook may be sync or async. The client and server parameters are typed ``Any`` so that
Socket.IO gateways (``Socket``, ``Server``) and plain WebSocket gateways (``WsClient``,
``WsServer``) can both annotate their overrides precisely.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any


class OnGatewayInit:
    """Implement ``after_init(server)``: called once the gateway's server exists."""

    def after_init(self, server: Any) -> Awaitable[None] | None:
        """Called once, after the gateway's ``Server`` is created and injected."""
        return None


class OnGatewayConnection:
    """Implement ``handle_connection(client, *args)``: called for every new connection.

    Raise ``WsException`` or return ``False`` to refuse it; the client then receives
    ``connect_error`` with the message. Emits made here reach the client after the
    connection acknowledgement.
    """

    def handle_connection(self, client: Any, *args: Any) -> Any:
        """Called when *client* connects to the gateway's namespace."""
        return None


class OnGatewayDisconnect:
    """Implement ``handle_disconnect(client, reason=None)``: called when a client leaves."""

    def handle_disconnect(self, client: Any, reason: str | None = None) -> Any:
        """Called when *client* disconnects; *reason* is Socket.IO's reason string."""
        return None
