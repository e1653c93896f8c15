"""Canary for python-socketio's admin server internals (``socketio.async_admin``).

Written against python-socketio 5.18.1 (pinned ``>=5.18,<5.19``); the user is
``nestpy/observability/admin.py``, which subclasses ``InstrumentedAsyncServer`` and installs
only its per-server patches.
"""

from __future__ import annotations

import pytest
import socketio
from _canary import check_params, check_source_mentions
from socketio.async_admin import InstrumentedAsyncServer

ADMIN = "nestpy/observability/admin.py"

#: the methods _NestAdmin installs on the server and manager, or overrides
SEAMS = [
    ("_trigger_event", ["self", "event", "namespace", "args"]),
    ("_basic_enter_room", ["self", "sid", "namespace", "room", "eio_sid"]),
    ("_basic_leave_room", ["self", "sid", "namespace", "room"]),
    ("_emit", ["self", "event", "data", "namespace", "room", "skip_sid", "callback", "kwargs"]),
    ("_handle_eio_connect", ["self", "eio_sid", "environ"]),
    ("_handle_eio_disconnect", ["self", "eio_sid", "reason"]),
    ("_emit_server_stats", ["self"]),
    ("serialize_socket", ["self", "sid", "namespace", "eio_sid"]),
    ("admin_connect", ["self", "sid", "environ", "client_auth"]),
]


@pytest.mark.parametrize(("name", "params"), SEAMS, ids=[s[0] for s in SEAMS])
def test_instrumented_server_method(name: str, params: list[str]) -> None:
    check_params(InstrumentedAsyncServer, name, params, ADMIN)


def test_patched_methods_call_the_mangled_originals_nestpy_stores() -> None:
    """_NestAdmin.instrument stores the originals under the name-mangled attributes the
    upstream replacements call."""
    check_source_mentions(
        InstrumentedAsyncServer,
        ["self.sio.__trigger_event(", "self.sio.manager.__basic_enter_room(",
         "self.sio.manager.__basic_leave_room(", "self.sio.manager.__emit("],
        ADMIN,
    )
    check_source_mentions(InstrumentedAsyncServer, ["manager._timestamps"], ADMIN)
    check_params(socketio.AsyncServer, "_trigger_event", ["self", "event", "namespace", "args"],
                 ADMIN)


def test_state_the_stats_loop_reads() -> None:
    admin = InstrumentedAsyncServer(socketio.AsyncServer(), auth=False, mode="production")
    for name in ("stop_stats_event", "stats_task", "admin_queue", "event_buffer",
                 "server_stats_interval", "server_id", "admin_namespace", "mode"):
        assert hasattr(admin, name), f"InstrumentedAsyncServer.{name} is gone ({ADMIN})"
