"""Gateway option validation and mapping to python-socketio (``_servers.server_kwargs``)."""

from __future__ import annotations

from typing import Any

import pytest

from nestpy import BootstrapError
from nestpy.websockets._servers import GatewayOptionError, server_kwargs, validate_gateways
from nestpy.websockets.decorators import GatewayOptions


class Gw: ...


def opts(cors: Any = None, transports: tuple[str, ...] | None = None, port: int | None = None,
         path: str = "/socket.io", **server_options: Any) -> GatewayOptions:
    return GatewayOptions(port, "/", path, cors, transports, dict(server_options))


def test_python_socketio_and_engineio_options_pass_through() -> None:
    kwargs = server_kwargs(
        opts(ping_interval=5, ping_timeout=3, max_http_buffer_size=10, allow_upgrades=True,
             connect_timeout=1.5, per_message_deflate=True),
        Gw,
    )
    assert kwargs == {
        "ping_interval": 5, "ping_timeout": 3, "max_http_buffer_size": 10,
        "allow_upgrades": True, "connect_timeout": 1.5, "per_message_deflate": True,
    }


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("pingInterval", "ping_interval"),
        ("maxHttpBufferSize", "max_http_buffer_size"),
        ("ping_intervall", "ping_interval"),
        ("connectTimeout", "connect_timeout"),
        ("perMessageDeflate", "per_message_deflate"),
    ],
)
def test_misspelt_options_get_a_suggestion(name: str, hint: str) -> None:
    with pytest.raises(GatewayOptionError) as info:
        server_kwargs(opts(**{name: 1}), Gw)
    err = info.value
    assert isinstance(err, BootstrapError)
    assert (err.name, err.suggestion, err.gateway) == (name, hint, Gw)
    assert str(err).startswith("[gateway=Gw] unknown @WebSocketGateway option")
    assert f"did you mean {hint!r}?" in str(err)


def test_unknown_option_without_a_close_name() -> None:
    with pytest.raises(GatewayOptionError) as info:
        server_kwargs(opts(zzzz=1), Gw)
    assert info.value.suggestion is None
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("name", ["async_mode", "async_handlers", "namespaces"])
def test_reserved_options(name: str) -> None:
    with pytest.raises(GatewayOptionError, match=f"option '{name}' is set by nestpy; remove it"):
        server_kwargs(opts(**{name: 1}), Gw)


@pytest.mark.parametrize(
    ("cors", "expected"),
    [
        (None, {}),
        (False, {}),
        (True, {"cors_allowed_origins": "*"}),
        ("*", {"cors_allowed_origins": "*"}),
        (["http://a.example"], {"cors_allowed_origins": ["http://a.example"]}),
        ({"origin": True}, {"cors_allowed_origins": "*"}),
        (
            {"origin": "http://a.example", "credentials": True},
            {"cors_allowed_origins": "http://a.example", "cors_credentials": True},
        ),
    ],
)
def test_cors_mapping(cors: Any, expected: dict[str, Any]) -> None:
    assert server_kwargs(opts(cors=cors), Gw) == expected


def test_transports_become_a_list() -> None:
    assert server_kwargs(opts(transports=("websocket",)), Gw) == {"transports": ["websocket"]}


class A: ...


class B: ...


def test_validate_gateways_accepts_agreeing_and_separate_servers() -> None:
    validate_gateways([(A, opts(ping_interval=5)), (B, opts(ping_interval=5))])
    validate_gateways([(A, opts(ping_interval=5)), (B, opts(port=4000, ping_interval=9))])
    validate_gateways([(A, opts(ping_interval=5)), (B, opts(path="/other", ping_interval=9))])
    validate_gateways([(A, opts(ping_interval=5)), (B, opts())])  # B adopts A's server


def test_validate_gateways_refuses_disagreement() -> None:
    with pytest.raises(BootstrapError, match=r"\[gateway=B\] shares port app and path "):
        validate_gateways([(A, opts(ping_interval=5)), (B, opts(ping_interval=6))])
    missing = r"\[gateway=B\] sets server options \['ping_interval'\]"
    with pytest.raises(BootstrapError, match=missing):
        validate_gateways([(A, opts()), (B, opts(ping_interval=6))])
    with pytest.raises(GatewayOptionError):
        validate_gateways([(A, opts(bogus=1))])
