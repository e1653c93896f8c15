"""Scope.REQUEST from gateways: one instance per connected socket, dropped at disconnect;
Scope.TRANSIENT through Inject(): per-message state (issue 10, defect 7)."""

from __future__ import annotations

import gc
import weakref
from typing import Annotated, Any

import pytest
from hardening_support import Serve, eventually

from nestpy import Inject, Injectable, Module, NestFactory, Scope, UnknownDependencyError
from nestpy.common import ExecutionContext, UseGuards
from nestpy.testing import ConnectionRefused
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e

alive: list[weakref.ref[Any]] = []


@Injectable()
class Counter:
    """A singleton: shared by every socket."""

    def __init__(self) -> None:
        self.total = 0


@Injectable(scope=Scope.REQUEST)
class Session:
    """Per connected socket."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.messages: list[str] = []
        alive.append(weakref.ref(self))


@Injectable(scope=Scope.TRANSIENT)
class Scratch:
    """Per message."""

    def __init__(self) -> None:
        self.notes: list[str] = []


@WebSocketGateway(namespace="scoped")
class ScopedGateway:
    @SubscribeMessage("say")
    def say(
        self,
        text: Annotated[str, MessageBody()],
        session: Annotated[Session, Inject()],
        scratch: Annotated[Scratch, Inject()],
    ) -> dict[str, Any]:
        session.messages.append(text)
        session.counter.total += 1
        scratch.notes.append(text)
        return {"mine": session.messages, "total": session.counter.total, "scratch": scratch.notes}

    @SubscribeMessage("plain")
    def plain(self, text: Annotated[str, MessageBody()]) -> str:
        return text  # no Inject(): pays nothing for scopes


@Module(providers=[Counter, Session, Scratch, ScopedGateway])
class ScopedModule: ...


async def test_request_scope_is_one_instance_per_socket(serve_app: Serve) -> None:
    alive.clear()
    app = await serve_app(ScopedModule)
    async with app.test_client("/scoped") as a, app.test_client("/scoped") as b:
        assert await a.call("say", "a1") == {"mine": ["a1"], "total": 1, "scratch": ["a1"]}
        assert await a.call("say", "a2") == {"mine": ["a1", "a2"], "total": 2, "scratch": ["a2"]}
        assert await b.call("say", "b1") == {"mine": ["b1"], "total": 3, "scratch": ["b1"]}
        assert await a.call("plain", "x") == "x"
        assert len(alive) == 2  # one Session per socket, not per message
    # Disconnected: each socket's Session is dropped.

    def all_dropped() -> bool:
        gc.collect()
        return all(ref() is None for ref in alive)

    await eventually(all_dropped, what="sessions dropped after disconnect")


@WebSocketGateway(namespace="nope")
class InvisibleGateway:
    @SubscribeMessage("x")
    def x(self, session: Annotated[Session, Inject()]) -> None: ...


@Module(providers=[InvisibleGateway])
class InvisibleModule: ...


async def test_an_injected_handler_parameter_must_be_visible_at_create() -> None:
    with pytest.raises(UnknownDependencyError, match="Session needed by InvisibleGateway"):
        await NestFactory.create(InvisibleModule)


@Injectable(scope=Scope.REQUEST)
class Quota:
    """Per socket: how many messages this connection may still send."""

    def __init__(self) -> None:
        self.left = 2


class QuotaGuard:
    """A guard built per socket: it receives that socket's Quota."""

    def __init__(self, quota: Quota) -> None:
        self.quota = quota

    def can_activate(self, context: ExecutionContext) -> bool:
        client = context.switch_to_ws().get_client()
        if context.switch_to_ws().get_pattern() == "connection":
            return client.handshake.auth.get("ok") is True
        self.quota.left -= 1
        return self.quota.left >= 0


@UseGuards(QuotaGuard)
@WebSocketGateway(namespace="quota")
class QuotaGateway:
    @SubscribeMessage("send")
    def send(self, quota: Annotated[Quota, Inject()]) -> int:
        return quota.left  # the same instance the guard got


@Module(providers=[Quota, QuotaGateway])
class QuotaModule: ...


async def test_a_guard_with_a_request_scoped_dependency_is_per_socket(serve_app: Serve) -> None:
    app = await serve_app(QuotaModule)
    with pytest.raises(ConnectionRefused, match="Forbidden resource"):
        await app.test_client("/quota", auth={"ok": False}).connect()
    async with (
        app.test_client("/quota", auth={"ok": True}) as a,
        app.test_client("/quota", auth={"ok": True}) as b,
    ):
        assert await a.call("send") == 1
        assert await a.call("send") == 0
        forbidden = await a.call("send")
        assert forbidden["message"] == "Forbidden resource"
        assert await b.call("send") == 1  # b has its own quota
