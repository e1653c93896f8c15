"""Guards over a real socket: refusal, sync/async, classes with DI, instances, global
guards, and class guards on the handshake."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
from conftest import Harness, Refused

from nestpy import Injectable, Module
from nestpy.common import (
    ExecutionContext,
    ReflectableDecorator,
    Reflector,
    SetMetadata,
    UseGuards,
)
from nestpy.websockets import (
    MessageBody,
    OnGatewayConnection,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WsException,
)

pytestmark = pytest.mark.e2e


def cause(pattern: str, data: Any) -> dict[str, Any]:
    return {"pattern": pattern, "data": data}


class AllowUnless:
    """Sync guard: refuses a body equal to *word*."""

    def __init__(self, word: str) -> None:
        self.word = word

    def can_activate(self, context: ExecutionContext) -> bool:
        return bool(context.switch_to_ws().get_data() != self.word)


class AsyncAllowUnless:
    """Async guard: refuses a body equal to *word*."""

    def __init__(self, word: str) -> None:
        self.word = word

    async def can_activate(self, context: ExecutionContext) -> bool:
        await asyncio.sleep(0)
        return bool(context.switch_to_ws().get_data() != self.word)


class RaisingGuard:
    def can_activate(self, context: ExecutionContext) -> bool:
        data = context.switch_to_ws().get_data()
        if data == "custom":
            raise WsException("You shall not pass")
        if data == "crash":
            raise RuntimeError("guard bug")
        return True


@WebSocketGateway(namespace="ns")
class GuardedGateway:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @UseGuards(AllowUnless("no"))
    @SubscribeMessage("sync")
    def sync_handler(self, data: Annotated[str, MessageBody()]) -> str:
        self.calls.append(data)
        return data

    @UseGuards(AsyncAllowUnless("no"))
    @SubscribeMessage("async")
    async def async_handler(self, data: Annotated[str, MessageBody()]) -> str:
        self.calls.append(data)
        return data

    @UseGuards(RaisingGuard)
    @SubscribeMessage("raising")
    def raising(self, data: Annotated[str, MessageBody()]) -> str:
        self.calls.append(data)
        return data

    @SubscribeMessage("open")
    def open(self, data: Annotated[str, MessageBody()]) -> str:
        return data


@Module(providers=[GuardedGateway])
class GuardedModule: ...


@pytest.mark.parametrize("event", ["sync", "async"])
async def test_false_guard_sends_forbidden_and_skips_the_handler(
    harness: Harness, event: str
) -> None:
    app = await harness.start(GuardedModule)
    client = await harness.connect(app)
    forbidden = {"status": "error", "message": "Forbidden resource", "cause": cause(event, "no")}
    assert await client.call(event, "no") == forbidden
    assert await client.receive("exception") == forbidden
    await client.emit(event, "no")  # without an ack: the exception event only
    assert await client.receive("exception") == forbidden
    assert await client.call(event, "yes") == "yes"
    assert app.get(GuardedGateway).calls == ["yes"]


@pytest.mark.allow_errors  # provokes server errors on purpose
async def test_guard_raising_ws_exception_or_crashing(harness: Harness) -> None:
    app = await harness.start(GuardedModule)
    client = await harness.connect(app)
    assert await client.call("raising", "custom") == {
        "status": "error", "message": "You shall not pass", "cause": cause("raising", "custom"),
    }
    assert await client.call("raising", "crash") == {
        "status": "error", "message": "Internal server error", "cause": cause("raising", "crash"),
    }
    assert await client.call("raising", "ok") == "ok"
    assert app.get(GuardedGateway).calls == ["ok"]


# ---------------------------------------------------------------------------- DI + Reflector


@Injectable()
class Sessions:
    """Which socket is logged in as whom."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}


@Injectable()
class RolesGuard:
    def __init__(self, sessions: Sessions, reflector: Reflector) -> None:
        self.sessions = sessions
        self.reflector = reflector

    async def can_activate(self, context: ExecutionContext) -> bool:
        if context.switch_to_ws().get_pattern() == "connection":
            return True  # authorisation is per message here
        required = self.reflector.get_all_and_override(
            "roles", [context.get_handler(), context.get_class()]
        )
        if not required:
            return True
        user = self.sessions.users.get(context.switch_to_ws().get_client().id, {})
        return bool(set(required) & set(user.get("roles", ())))


@SetMetadata("roles", ["member"])
@UseGuards(RolesGuard)
@WebSocketGateway(namespace="ns")
class RolesGateway:
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    @SetMetadata("roles", [])  # overrides the class's: public
    @SubscribeMessage("login")
    def login(self, client: Socket, roles: list[str]) -> str:  # the (client, data) form
        self.sessions.users[client.id] = {"roles": roles}
        return "ok"

    @SubscribeMessage("members")  # the class's ["member"]
    def members(self) -> str:
        return "members only"

    @SetMetadata("roles", ["admin"])
    @SubscribeMessage("admins")
    def admins(self) -> str:
        return "admins only"


@Module(providers=[Sessions, RolesGateway])
class RolesModule: ...


async def test_guard_injects_a_service_and_reads_roles_with_reflector(harness: Harness) -> None:
    app = await harness.start(RolesModule)
    member = await harness.connect(app)
    admin = await harness.connect(app)
    assert (await member.call("members"))["message"] == "Forbidden resource"
    assert await member.call("login", ["member"]) == "ok"
    assert await admin.call("login", ["member", "admin"]) == "ok"
    assert await member.call("members") == "members only"
    assert (await member.call("admins"))["message"] == "Forbidden resource"
    assert await admin.call("admins") == "admins only"
    # One Sessions singleton, injected into the guard and the gateway alike.
    assert len(app.get(Sessions).users) == 2
    assert app.get(RolesGateway).sessions is app.get(Sessions)


# ---------------------------------------------------------------------------- global guards


@Injectable()
class Blocklist:
    def __init__(self) -> None:
        self.words = {"spam"}


@Injectable()
class BlocklistGuard:
    def __init__(self, blocklist: Blocklist) -> None:
        self.blocklist = blocklist

    def can_activate(self, context: ExecutionContext) -> bool:
        return context.switch_to_ws().get_data() not in self.blocklist.words


@Module(providers=[Blocklist, GuardedGateway])
class GlobalGuardModule: ...


async def test_global_guard_class_is_built_with_di_and_applies_to_every_handler(
    harness: Harness,
) -> None:
    app = await harness.start(GlobalGuardModule, lambda a: a.use_global_guards(BlocklistGuard))
    client = await harness.connect(app)
    for event in ("open", "sync", "async"):
        assert (await client.call(event, "spam"))["message"] == "Forbidden resource"
        assert await client.call(event, "ham") == "ham"
    app.get(Blocklist).words.add("ham")
    assert (await client.call("open", "ham"))["message"] == "Forbidden resource"


# ---------------------------------------------------------------------------- handshake


class TokenGuard:
    """Class-level guard; records what it saw on the handshake."""

    seen: list[tuple[Any, ...]] = []

    async def can_activate(self, context: ExecutionContext) -> bool:
        ws = context.switch_to_ws()
        client = ws.get_client()
        if ws.get_pattern() == "connection":
            TokenGuard.seen.append(
                (context.get_class(), context.get_handler(), ws.get_data(), type(client))
            )
            if ws.get_data().get("token") == "expired":
                raise WsException("Token expired")
            return bool(ws.get_data().get("token") == "secret")
        return True


@UseGuards(TokenGuard)
@WebSocketGateway(namespace="ns")
class HandshakeGateway(OnGatewayConnection):
    def __init__(self) -> None:
        self.connected: list[str] = []

    def handle_connection(self, client: Socket, *args: Any) -> None:
        self.connected.append(client.id)

    @SubscribeMessage("ping")
    def ping(self) -> str:
        return "pong"


@Module(providers=[HandshakeGateway])
class HandshakeModule: ...


async def test_class_guard_refuses_the_handshake_with_connect_error(harness: Harness) -> None:
    TokenGuard.seen.clear()
    app = await harness.start(HandshakeModule)
    with pytest.raises(Refused) as refused:
        await harness.connect(app, auth={"token": "wrong"})
    assert refused.value.data == {"message": "Forbidden resource"}
    with pytest.raises(Refused) as refused:
        await harness.connect(app, auth={"token": "expired"})
    assert refused.value.data == {"message": "Token expired"}
    assert app.get(HandshakeGateway).connected == []  # handle_connection never ran
    client = await harness.connect(app, auth={"token": "secret"})
    assert await client.call("ping") == "pong"
    assert len(app.get(HandshakeGateway).connected) == 1
    assert TokenGuard.seen == [
        (HandshakeGateway, HandshakeGateway.handle_connection, {"token": t}, Socket)
        for t in ("wrong", "expired", "secret")
    ]


# ---------------------------------------------------------------------------- Reflector API

Public: ReflectableDecorator[bool] = Reflector.create_decorator()


@Injectable()
class ScopeGuard:
    """Records what Reflector reads; refuses "deny" unless the handler is @Public."""

    seen: list[Any] = []

    def __init__(self, reflector: Reflector) -> None:
        self.reflector = reflector

    def can_activate(self, context: ExecutionContext) -> bool:
        if context.switch_to_ws().get_pattern() == "connection":
            return True
        targets = [context.get_handler(), context.get_class()]
        public = self.reflector.get(Public, context.get_handler())
        ScopeGuard.seen.append((
            self.reflector.get_all_and_merge("scopes", targets),
            self.reflector.get_all("scopes", targets),
            public,
        ))
        return bool(public) or context.switch_to_ws().get_data() != "deny"


@SetMetadata("scopes", ["read"])
@UseGuards(ScopeGuard)
@WebSocketGateway(namespace="ns")
class ScopedBase:
    """Class-level guards and metadata are inherited by subclasses (NestJS reads them
    through the prototype chain)."""

    @SetMetadata("scopes", ["write"])
    @SubscribeMessage("write")
    def write(self, data: Any) -> str:
        return "written"

    @Public(True)
    @SubscribeMessage("open")
    def open(self, data: Any) -> str:
        return "open"


@WebSocketGateway(namespace="ns")
class ScopedGateway(ScopedBase):
    @SubscribeMessage("read")
    def read(self, data: Any) -> str:
        return "read"


@Module(providers=[ScopedGateway])
class ScopedModule: ...


async def test_reflector_typed_decorator_merge_and_inherited_metadata(harness: Harness) -> None:
    ScopeGuard.seen.clear()
    app = await harness.start(ScopedModule)
    client = await harness.connect(app)
    assert await client.call("write", "x") == "written"
    assert await client.call("read", "x") == "read"
    assert (await client.call("read", "deny"))["message"] == "Forbidden resource"
    assert await client.call("open", "deny") == "open"
    assert ScopeGuard.seen == [
        (["write", "read"], [["write"], ["read"]], None),
        (["read"], [None, ["read"]], None),
        (["read"], [None, ["read"]], None),
        (["read"], [None, ["read"]], True),
    ]


# ---------------------------------------------------------------------------- ExecutionContext


class ArgsGuard:
    """Records the NestJS-style argument accessors of the context it is given."""

    seen: list[Any] = []

    def can_activate(self, context: ExecutionContext) -> bool:
        client, data, pattern = context.get_args()
        ArgsGuard.seen.append((
            context.get_type(), type(client), data, pattern, context.get_arg_by_index(1),
            context.get_arg_by_index(0) is context.switch_to_ws().get_client(), repr(context),
        ))
        return True


@WebSocketGateway(namespace="ns")
class ArgsGateway:
    @UseGuards(ArgsGuard)
    @SubscribeMessage("look")
    def look(self, data: Any) -> str:
        return "seen"


@Module(providers=[ArgsGateway])
class ArgsModule: ...


async def test_the_context_args_are_client_data_and_pattern(harness: Harness) -> None:
    ArgsGuard.seen.clear()
    app = await harness.start(ArgsModule)
    client = await harness.connect(app)
    assert await client.call("look", {"n": 1}) == "seen"
    assert ArgsGuard.seen == [(
        "ws", Socket, {"n": 1}, "look", {"n": 1}, True,
        "ExecutionContext(class=ArgsGateway, pattern='look')",
    )]
