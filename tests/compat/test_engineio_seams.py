"""Canary for the python-engineio internals nestpy relies on.

Written against python-engineio 4.15.1 (``>=4.15.1,<5`` in pyproject.toml). Users:
``nestpy/websockets/_cluster.py`` and ``_node_common.py`` (start/stop with the aiohttp app
through the per-server ``_async["create_route"]`` driver entry, when the Engine.IO server is
python-engineio's own), ``nestpy/websockets/_transport.py`` (its ``_async`` mirrors it),
``nestpy/websockets/_servers.py`` (gateway options checked against the server signatures).
"""

from __future__ import annotations

import inspect

import engineio
import engineio.base_server

USERS = "nestpy/websockets/_cluster.py, _node_common.py, _transport.py"


def test_aiohttp_driver_table_has_create_route() -> None:
    server = engineio.AsyncServer(async_mode="aiohttp")
    drivers = getattr(server, "_async", None)
    assert isinstance(drivers, dict), f"engineio.AsyncServer._async is gone ({USERS})"
    route = drivers.get("create_route")
    assert callable(route), f"engineio.AsyncServer._async['create_route'] is gone ({USERS})"
    params = list(inspect.signature(route).parameters)
    assert params == ["app", "engineio_server", "engineio_endpoint"], (
        f"engineio.AsyncServer._async['create_route'] now takes {params} ({USERS})"
    )


def test_attach_goes_through_create_route() -> None:
    source = inspect.getsource(engineio.AsyncServer.attach)
    assert "self._async['create_route']" in source, (
        f"engineio.AsyncServer.attach no longer calls _async['create_route'] ({USERS})"
    )


def test_server_options_are_keyword_parameters_of_base_server_init() -> None:
    params = inspect.signature(engineio.base_server.BaseServer.__init__).parameters
    for name in ("ping_interval", "ping_timeout", "max_http_buffer_size", "cors_allowed_origins"):
        assert name in params, (
            f"engineio.base_server.BaseServer.__init__ lost {name!r} "
            "(nestpy/websockets/_servers.py lists gateway options from it)"
        )


def test_disconnect_reasons() -> None:
    reason = engineio.AsyncServer.reason
    for name in ("TRANSPORT_CLOSE", "TRANSPORT_ERROR", "PING_TIMEOUT", "SERVER_DISCONNECT"):
        assert hasattr(reason, name), (
            f"engineio.AsyncServer.reason.{name} is gone (nestpy/websockets/_transport.py)"
        )
