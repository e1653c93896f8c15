"""Canary for the python-socketio private names nestpy relies on.

``nestpy.websockets._engine`` lists them (written against python-socketio 5.18.1, the range
pinned in pyproject.toml). If an upgrade renames or reshapes one, this fails naming it,
before anything subtler breaks.
"""

from __future__ import annotations

import inspect

import pytest
import socketio

#: name on socketio.AsyncServer → the parameters nestpy calls or overrides it with
SEAMS: dict[str, list[str]] = {
    "_engineio_server_class": ["self"],
    "_handle_eio_connect": ["self", "eio_sid", "environ"],
    "_handle_eio_message": ["self", "eio_sid", "data"],
    "_handle_eio_disconnect": ["self", "eio_sid", "reason"],
    "_handle_connect": ["self", "eio_sid", "namespace", "data"],
    "_handle_event": ["self", "eio_sid", "namespace", "id", "data"],
    "_handle_ack": ["self", "eio_sid", "namespace", "id", "data"],
    "_handle_disconnect": ["self", "eio_sid", "namespace", "reason"],
    "_send_packet": ["self", "eio_sid", "pkt"],
}


@pytest.mark.parametrize("name", sorted(SEAMS))
def test_private_seam_is_still_there(name: str) -> None:
    attr = getattr(socketio.AsyncServer, name, None)
    assert attr is not None, f"socketio.AsyncServer.{name} is gone (nestpy overrides/calls it)"
    params = list(inspect.signature(attr).parameters)
    assert params == SEAMS[name], (
        f"socketio.AsyncServer.{name} changed its parameters: {params}, nestpy expects "
        f"{SEAMS[name]}"
    )


def test_engineio_server_is_built_through_the_seam() -> None:
    """BaseServer.__init__ builds ``self.eio`` from ``_engineio_server_class()`` and registers
    the three handlers with ``on()``: nestpy's bridge is what the server then runs on."""
    from nestpy.websockets._engine import NestAsyncServer
    from nestpy.websockets._transport import EngineBridge

    server = NestAsyncServer()
    assert isinstance(server.eio, EngineBridge), "socketio.AsyncServer._engineio_server_class"
    assert set(server.eio._handlers) == {"connect", "message", "disconnect"}, (
        "socketio.base_server.BaseServer.__init__ no longer registers eio.on(connect/message/"
        "disconnect)"
    )


def test_environ_and_manager_names() -> None:
    from nestpy.websockets._engine import NestAsyncServer

    server = NestAsyncServer()
    assert isinstance(server.environ, dict), "socketio.AsyncServer.environ"
    for name in ("pre_connect", "connect", "sid_from_eio_sid", "is_connected", "disconnect",
                 "get_participants", "get_namespaces"):
        assert callable(getattr(server.manager, name, None)), f"socketio.AsyncManager.{name}"
