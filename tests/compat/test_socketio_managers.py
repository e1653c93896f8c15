"""Canary for python-socketio's client-manager internals nestpy relies on.

Written against python-socketio 5.18.1 (pinned ``>=5.18,<5.19`` in pyproject.toml). Users:
``nestpy/websockets/_fanout.py`` (fast broadcast), ``nestpy/websockets/_cluster.py``
(Redis/AMQP cluster managers), ``nestpy/websockets/_engine.py`` (packet class).
"""

from __future__ import annotations

import inspect

import pytest
import socketio
from _canary import check_params, check_source_mentions
from socketio import packet
from socketio.async_aiopika_manager import AsyncAioPikaManager
from socketio.async_pubsub_manager import AsyncPubSubManager
from socketio.async_redis_manager import AsyncRedisManager

CLUSTER = "nestpy/websockets/_cluster.py"

#: (class, private name, parameters): overridden or called by ClusterManager and friends
SEAMS = [
    # the documented subclass contract of a pub/sub manager
    (AsyncPubSubManager, "_publish", ["self", "data"]),
    (AsyncPubSubManager, "_listen", ["self"]),
    # overridden (excluded rooms resolved per node) and called (local delivery)
    (AsyncPubSubManager, "_handle_emit", ["self", "message"]),
    # ClusterAioPikaManager consumes without acks, on python-socketio's exchange and queue
    (AsyncAioPikaManager, "_exchange", ["self", "channel"]),
    (AsyncAioPikaManager, "_queue", ["self", "channel", "exchange"]),
]


@pytest.mark.parametrize(("owner", "name", "params"), SEAMS, ids=[s[1] for s in SEAMS])
def test_pubsub_manager_seam(owner: type, name: str, params: list[str]) -> None:
    check_params(owner, name, params, CLUSTER)


def test_pubsub_dispatch_goes_through_listen_and_handle_emit() -> None:
    """The listener loop reads ``_listen()`` and hands emits to ``_handle_emit``: nestpy's
    ``nestpy:*`` messages are consumed in ``_listen``, excluded rooms added in ``_handle_emit``."""
    check_source_mentions(AsyncPubSubManager._thread, ["self._listen()", "self._handle_emit("],
                          CLUSTER)
    check_source_mentions(AsyncPubSubManager.emit, ["self._publish("], CLUSTER)


@pytest.mark.parametrize("owner", [AsyncRedisManager, AsyncAioPikaManager])
def test_broker_listen_is_an_async_generator(owner: type) -> None:
    assert inspect.isasyncgenfunction(owner._listen), (
        f"{owner.__name__}._listen is no longer an async generator ({CLUSTER}: "
        "ClusterManager._broker_listen iterates it)"
    )


def test_manager_attributes_read_by_the_cluster_managers() -> None:
    redis = AsyncRedisManager("redis://127.0.0.1:1/0", write_only=True)
    for name in ("redis_url", "channel", "redis_options"):
        assert hasattr(redis, name), f"AsyncRedisManager.{name} is gone ({CLUSTER})"
    amqp = AsyncAioPikaManager("amqp://127.0.0.1:1/", write_only=True)
    for name in ("url", "channel"):
        assert hasattr(amqp, name), f"AsyncAioPikaManager.{name} is gone ({CLUSTER})"


def test_fast_fanout_reaches_the_server_send_packet_and_packet_class() -> None:
    server = socketio.AsyncServer()
    assert server.packet_class is packet.Packet, (
        "socketio.AsyncServer.packet_class is no longer socketio.packet.Packet "
        "(nestpy/websockets/_engine.py swaps it for _NestPacket only when it is)"
    )
    check_params(socketio.AsyncServer, "_send_packet", ["self", "eio_sid", "pkt"],
                 "nestpy/websockets/_fanout.py")
    manager = socketio.AsyncManager()
    for name in ("rooms", "get_participants", "eio_sid_from_sid", "get_rooms"):
        assert hasattr(manager, name), (
            f"socketio.AsyncManager.{name} is gone (nestpy/websockets/_fanout.py)"
        )


def test_packet_asks_its_class_whether_data_is_binary() -> None:
    """``_NestPacket`` overrides the ``data_is_binary`` classmethod that ``Packet.__init__``
    calls on every packet built."""
    static = inspect.getattr_static(packet.Packet, "data_is_binary")
    assert isinstance(static, classmethod), (
        "socketio.packet.Packet.data_is_binary is no longer a classmethod "
        "(nestpy/websockets/_engine.py: _NestPacket overrides it)"
    )
    check_source_mentions(packet.Packet.__init__, ["data_is_binary("],
                          "nestpy/websockets/_engine.py")
