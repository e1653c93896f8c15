"""The ``connection_state_recovery`` gateway option: accepted, checked, misspellings named."""

from __future__ import annotations

from typing import Any

import pytest

from nestpy import BootstrapError, Module, NestFactory
from nestpy.websockets import WebSocketGateway
from nestpy.websockets._recovery import RecoveryStore
from nestpy.websockets._servers import GatewayOptionError, server_kwargs
from nestpy.websockets.decorators import GatewayOptions


class Gw: ...


def opts(**server_options: Any) -> GatewayOptions:
    return GatewayOptions(None, "/", "/socket.io", None, None, dict(server_options))


def test_the_option_passes_through_and_camel_case_is_corrected() -> None:
    value = {"max_disconnection_duration": 30}
    assert server_kwargs(opts(connection_state_recovery=value), Gw) == {
        "connection_state_recovery": value
    }
    with pytest.raises(GatewayOptionError) as info:
        server_kwargs(opts(connectionStateRecovery=value), Gw)
    assert info.value.suggestion == "connection_state_recovery"


def test_values() -> None:
    assert RecoveryStore.from_option(None) is None
    assert RecoveryStore.from_option(False) is None
    store = RecoveryStore.from_option(True)
    assert store is not None
    assert (store.max_disconnection_duration, store.skip_middlewares) == (120.0, True)
    store = RecoveryStore.from_option({"max_disconnection_duration": 5, "skip_middlewares": False})
    assert store is not None
    assert (store.max_disconnection_duration, store.skip_middlewares) == (5.0, False)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['maxDisconnectionDuration'\]"):
        RecoveryStore.from_option({"maxDisconnectionDuration": 5})
    with pytest.raises(ValueError, match="max_disconnection_duration must be > 0"):
        RecoveryStore.from_option({"max_disconnection_duration": 0})
    with pytest.raises(ValueError, match="must be a dict"):
        RecoveryStore.from_option(120)


async def test_a_bad_value_fails_at_bootstrap() -> None:
    @WebSocketGateway(namespace="r", connection_state_recovery={"max_packets": 0})
    class Bad:
        pass

    @Module(providers=[Bad])
    class M:
        pass

    with pytest.raises(BootstrapError, match=r"^\[gateway=.*Bad\] connection_state_recovery: .*"
                       "max_packets and max_sessions >= 1"):
        app = await NestFactory.create(M)
        await app.close()
