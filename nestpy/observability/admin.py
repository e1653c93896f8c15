"""The Socket.IO Admin UI (``@socket.io/admin-ui``) through python-socketio's ``instrument()``.

nestpy dispatches namespaces to compiled gateways, not to python-socketio's handler table,
so the admin namespace is served by a small runtime that forwards to python-socketio's
``InstrumentedAsyncServer`` (authentication, the admin UI's emit/join/leave/disconnect
commands); its server statistics and socket list come from python-socketio unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from nestpy.exceptions import BootstrapError
from nestpy.websockets._engine import GatewayRuntime, Handler, NestAsyncServer

if TYPE_CHECKING:
    from nestpy.websockets.socket import Socket

__all__ = ["attach_admin", "check_auth"]

_COMMANDS = {"emit": "admin_emit", "join": "admin_enter_room", "leave": "admin_leave_room",
             "_disconnect": "admin_disconnect"}


def check_auth(auth: Any) -> None:
    """Refuse anything that would leave the admin namespace open.

    Raises:
        ValueError: *auth* is missing, empty, or not ``{"username", "password"}`` (or a
            list of such, or a callable deciding on the client's ``auth``).
    """
    def valid(entry: Any) -> bool:
        return (
            isinstance(entry, Mapping)
            and set(entry) == {"username", "password"}
            and all(isinstance(v, str) and v for v in entry.values())
        )

    if callable(auth):
        return
    if valid(auth) or (isinstance(auth, list) and auth and all(valid(a) for a in auth)):
        return
    raise ValueError(
        "enable_admin_ui() needs credentials: auth={'username': ..., 'password': ...} (non-"
        "empty strings), a list of such, or a callable(auth) -> bool; the admin UI can "
        "disconnect and message every client, so it is never open"
    )


class _Timestamps(dict[str, float]):
    """python-socketio's per-socket connection times. nestpy connects sockets without its
    ``connect`` event, so a socket may leave without an entry: deleting it is not an error."""

    def __delitem__(self, key: str) -> None:
        self.pop(key, None)


def attach_admin(
    sio: NestAsyncServer,
    auth: Any,
    *,
    namespace: str = "/admin",
    read_only: bool = False,
    mode: str = "development",
    server_stats_interval: float = 2.0,
) -> Any:
    """Instrument *sio* and serve the admin namespace on it; returns the instrumentation.

    Raises:
        BootstrapError: a gateway already serves *namespace*.
    """
    check_auth(auth)
    if sio.gateway_for(namespace) is not None:
        raise BootstrapError(
            f"enable_admin_ui(namespace={namespace!r}): a gateway already serves that "
            "namespace; pass another namespace="
        )
    admin = sio.instrument(
        auth=auth, namespace=namespace, read_only=read_only, mode=mode,
        server_stats_interval=server_stats_interval,
    )
    if hasattr(sio.manager, "_timestamps"):
        sio.manager._timestamps = _Timestamps(sio.manager._timestamps)
    from socketio.exceptions import ConnectionRefusedError as Refused

    async def accept(sock: Socket) -> dict[str, Any] | None:
        try:
            await admin.admin_connect(sock.id, sock._environ, sock.handshake.auth)
        except Refused as exc:
            return {"message": str(exc.error_args.get("message", "authentication failed"))}
        return None

    async def on_disconnect(sock: Socket, reason: str | None) -> None:
        return None

    def command(method: Callable[..., Any]) -> Handler:
        async def run(sock: Socket, body: Any, ack_id: int | None) -> None:
            args = body if isinstance(body, list) else [body]
            await method(sock.id, *args)
            if ack_id is not None:
                await sio.send_ack(sock, ack_id, [])

        return Handler(run, inline=False)

    handlers = {} if read_only or mode != "development" else {
        event: command(getattr(admin, name)) for event, name in _COMMANDS.items()
    }
    sio.add_gateway(GatewayRuntime("SocketIOAdminUI", namespace, handlers, accept, on_disconnect))
    return admin
