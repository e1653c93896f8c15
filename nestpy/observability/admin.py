"""The Socket.IO Admin UI (``@socket.io/admin-ui``) through python-socketio's admin server.

python-socketio's ``InstrumentedAsyncServer`` (what ``AsyncServer.instrument()`` builds) does
the admin work: authentication, the UI's emit/join/leave/disconnect commands, statistics,
the socket list. Two things differ here:

* nestpy dispatches namespaces to compiled gateways, not to python-socketio's handler table,
  so the admin namespace is served by a small ``GatewayRuntime`` that forwards to it, and new
  connections are reported from the gateways' ``accept`` hooks;
* ``instrument()`` also patches python-engineio's ``AsyncSocket`` *class* (packet and byte
  counts per transport, a socket report per ping): process-wide, never undone, and not
  re-entrant (a second instrumented server in one process recurses without end). nestpy
  keeps only the per-server patches, so the UI shows no per-transport packet counts (nor
  byte counts of polling responses: nestpy's Engine.IO server has no ``_ok`` to wrap).

python-socketio private names used, written against python-socketio 5.18.1 (pinned in
pyproject, canaried by ``tests/compat/test_socketio_admin.py``): ``InstrumentedAsyncServer``'s
``_trigger_event``, ``_basic_enter_room``, ``_basic_leave_room``, ``_emit``,
``_handle_eio_connect``, ``_handle_eio_disconnect`` and ``_emit_server_stats`` (replaced: it
lists python-socketio's handler table, nestpy's namespaces are its gateways), the
name-mangled originals it calls (``_InstrumentedAsyncServer__trigger_event`` ...),
``AsyncServer._trigger_event`` and ``AsyncManager._timestamps``. No public seam exists: the
admin server is built as a set of patches on a running server (upstream ``instrument()``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from socketio.async_admin import HOSTNAME, PID, InstrumentedAsyncServer

from nestpy.exceptions import BootstrapError
from nestpy.observability._hooks import Accept, namespace_label, runtimes, wrap_runtime
from nestpy.websockets._engine import NestAsyncServer
from nestpy.websockets._runtime import GatewayRuntime, Handler

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


_MANGLED = "_InstrumentedAsyncServer__"


def _polling(session: Any) -> bool:
    """Whether an Engine.IO session is still on long-polling: nestpy's sessions say their
    ``transport``; python-engineio's say whether they ``upgraded``."""
    transport = getattr(session, "transport", None)
    if isinstance(transport, str):
        return transport == "polling"
    return not getattr(session, "upgraded", False)  # where the base class keeps the originals


class _NestAdmin(InstrumentedAsyncServer):  # type: ignore[misc]
    """python-socketio's admin server with per-server patches only (module docstring)."""

    def instrument(self) -> None:
        sio = self.sio
        if self.mode == "development":
            sio.manager._timestamps = _Timestamps()
            setattr(sio, _MANGLED + "trigger_event", sio._trigger_event)
            sio._trigger_event = self._trigger_event
            manager = sio.manager
            for name in ("basic_enter_room", "basic_leave_room", "emit"):
                setattr(manager, _MANGLED + name, getattr(manager, name))
            manager.basic_enter_room = self._basic_enter_room
            manager.basic_leave_room = self._basic_leave_room
            manager.emit = self._emit
        sio.eio.on("connect", self._handle_eio_connect)
        sio.eio.on("disconnect", self._handle_eio_disconnect)
        ok = getattr(sio.eio, "_ok", None)
        if ok is not None:  # python-engineio's HTTP responses; nestpy's engine has none
            setattr(sio.eio, _MANGLED + "ok", ok)
            sio.eio._ok = self._eio_http_response

    def uninstrument(self) -> None:
        """Nothing process-wide was patched; the server's own patches end with it."""

    def serialize_socket(
        self, sid: str, namespace: str, eio_sid: str | None = None
    ) -> dict[str, Any]:
        """python-socketio's socket summary for the admin UI, reading the Engine.IO session
        from nestpy's engine (``eio.sockets``) instead of python-engineio's ``_get_socket``."""
        if eio_sid is None:
            eio_sid = self.sio.manager.eio_sid_from_sid(sid)
        session = self.sio.eio.sockets.get(eio_sid)
        environ: dict[str, Any] = self.sio.environ.get(eio_sid, {})
        tm = self.sio.manager._timestamps.get(sid, 0)
        return {
            "id": sid,
            "clientId": eio_sid,
            "transport": "polling" if session is not None and _polling(session) else "websocket",
            "nsp": namespace,
            "data": {},
            "handshake": {
                "address": environ.get("REMOTE_ADDR", ""),
                "headers": {k[5:].lower(): v for k, v in environ.items()
                            if k.startswith("HTTP_")},
                "query": {k: v[0] if len(v) == 1 else v
                          for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()},
                "secure": environ.get("wsgi.url_scheme", "") == "https",
                "url": environ.get("PATH_INFO", ""),
                "issued": tm * 1000,
                "time": datetime.fromtimestamp(tm, timezone.utc).isoformat() if tm else "",
            },
            "rooms": self.sio.manager.get_rooms(sid, namespace),
        }

    def namespaces(self) -> list[str]:
        """The namespaces nestpy serves on this server (python-socketio's handler table
        does not list them)."""
        return sorted({namespace_label(rt) for rt in runtimes(self.sio)})

    async def _emit_server_stats(self) -> None:
        # python-socketio's loop, with nestpy's namespaces
        start_time = time.time()
        while not self.stop_stats_event.is_set():
            await self.sio.sleep(self.server_stats_interval)
            rooms = self.sio.manager.rooms
            await self.sio.emit("server_stats", {
                "serverId": self.server_id,
                "hostname": HOSTNAME,
                "pid": PID,
                "uptime": time.time() - start_time,
                "clientsCount": len(self.sio.eio.sockets),
                "pollingClientsCount": len(
                    [s for s in self.sio.eio.sockets.values() if _polling(s)]
                ),
                "aggregatedEvents": self.event_buffer.get_and_clear(),
                "namespaces": [
                    {"name": nsp, "socketsCount": len(rooms.get(nsp, {None: []}).get(None, []))}
                    for nsp in self.namespaces()
                ],
            }, namespace=self.admin_namespace)
            while self.admin_queue:
                event, args = self.admin_queue.pop(0)
                await self.sio.emit(event, args, namespace=self.admin_namespace)

    async def report_connected(self, sock: Socket) -> None:
        """Tell connected admin UIs about *sock* once its connection is complete."""
        for _ in range(100):  # accept() runs before CONNECT is sent: wait for it (bounded)
            if sock.connected:
                break
            await asyncio.sleep(0.01)
        else:
            return
        t = time.time()
        self.sio.manager._timestamps[sock.id] = t
        await self.sio.emit("socket_connected", (
            self.serialize_socket(sock.id, sock.namespace, sock._eio_sid),
            datetime.fromtimestamp(t, timezone.utc).isoformat(),
        ), namespace=self.admin_namespace)


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
    admin = _NestAdmin(
        sio, auth=auth, namespace=namespace, read_only=read_only, mode=mode,
        server_stats_interval=server_stats_interval,
    )
    from socketio.exceptions import ConnectionRefusedError as Refused

    if mode == "development":
        tasks: set[asyncio.Task[None]] = set()

        def report(_ns: str, original: Accept) -> Accept:
            async def reported(sock: Socket) -> dict[str, Any] | None:
                refusal = await original(sock)
                if refusal is None:
                    task = asyncio.ensure_future(admin.report_connected(sock))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                return refusal

            return reported

        for runtime in runtimes(sio):
            wrap_runtime(runtime, accept=report)

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
