"""Scope.REQUEST through the request_scope_key context variable, and scope rules."""

import asyncio
import gc

import pytest

from nestpy import _metadata
from nestpy._di import Container, Injectable, Module, Provider, Scope
from nestpy._di.scopes import RequestKey, end_request, request_context, request_scope_key
from nestpy.exceptions import BootstrapError, ScopeError


@Injectable(scope=Scope.REQUEST)
class RequestState:
    created = 0

    def __init__(self) -> None:
        RequestState.created += 1
        self.items: list[str] = []


class PerRequestService:
    """A singleton by declaration, request-scoped through its dependency (scope bubbling)."""

    def __init__(self, state: RequestState) -> None:
        self.state = state


class Clock: ...


@Module(providers=[RequestState, PerRequestService, Clock], exports=[RequestState])
class RequestModule: ...


def test_one_instance_per_request_key() -> None:
    c = Container.build(RequestModule)
    c.instantiate()
    with request_context():
        first = c.get(RequestState)
        assert c.get(RequestState) is first
        assert c.get(PerRequestService).state is first
        assert c.get(PerRequestService) is c.get(PerRequestService)
    with request_context():
        second = c.get(RequestState)
    assert second is not first


def test_request_scope_key_set_directly_by_a_dispatcher() -> None:
    c = Container.build(RequestModule)
    key = RequestKey()
    token = request_scope_key.set(key)
    try:
        a = c.get(RequestState)
        assert c.get(RequestState) is a
    finally:
        request_scope_key.reset(token)
    token = request_scope_key.set(key)  # the same key again: same request, same instance
    try:
        assert c.get(RequestState) is a
    finally:
        request_scope_key.reset(token)


def test_instances_die_with_a_weak_referenceable_key() -> None:
    c = Container.build(RequestModule)
    key = RequestKey()
    token = request_scope_key.set(key)
    created = RequestState.created
    c.get(RequestState)
    request_scope_key.reset(token)
    del key
    gc.collect()
    token = request_scope_key.set(RequestKey())
    try:
        c.get(RequestState)
    finally:
        request_scope_key.reset(token)
    assert RequestState.created == created + 2


def test_non_weakrefable_keys_are_kept_until_end_request() -> None:
    c = Container.build(RequestModule)
    token = request_scope_key.set("sid-1")
    try:
        a = c.get(RequestState)
        assert c.get(RequestState) is a
        end_request("sid-1")
        assert c.get(RequestState) is not a
    finally:
        request_scope_key.reset(token)
        end_request("sid-1")


def test_resolving_outside_a_request_is_a_clear_error() -> None:
    c = Container.build(RequestModule)
    c.instantiate()  # request-scoped providers are not built at bootstrap
    with pytest.raises(ScopeError, match=r"RequestState is request-scoped.*request_context"):
        c.get(RequestState)
    assert all(not isinstance(obj, (RequestState, PerRequestService)) for obj in c.instances())
    assert any(isinstance(obj, Clock) for obj in c.instances())


async def test_concurrent_tasks_get_their_own_request_instances() -> None:
    c = Container.build(RequestModule)

    async def handle(name: str) -> tuple[RequestState, RequestState]:
        with request_context():
            first = c.get(RequestState)
            first.items.append(name)
            await asyncio.sleep(0)  # let the other task run in between
            return first, c.get(PerRequestService).state

    (a1, a2), (b1, b2) = await asyncio.gather(handle("a"), handle("b"))
    assert a1 is a2 and b1 is b2 and a1 is not b1
    assert (a1.items, b1.items) == (["a"], ["b"])


def test_request_scoped_singleton_lives_in_its_owner_module() -> None:
    class Consumer:
        def __init__(self, state: RequestState) -> None:
            self.state = state

    @Module(imports=[RequestModule], providers=[Consumer])
    class AppModule: ...

    c = Container.build(AppModule)
    with request_context():
        assert c.get(Consumer).state is c.get(RequestState)


# --- gateways and module classes ---------------------------------------------------------


def _gateway(cls: type) -> type:
    _metadata.set_meta(cls, _metadata.GATEWAY, {"namespace": "/"})
    return cls


def test_transient_gateway_is_a_bootstrap_error_naming_it() -> None:
    @_gateway
    @Injectable(scope=Scope.TRANSIENT)
    class ChatGateway: ...

    @Module(providers=[ChatGateway])
    class AppModule: ...

    with pytest.raises(BootstrapError, match=r"Gateway .*ChatGateway .*TRANSIENT"):
        Container.build(AppModule)


def test_gateway_made_request_scoped_by_a_dependency_is_an_error() -> None:
    @_gateway
    class ChatGateway:
        def __init__(self, state: RequestState) -> None: ...

    @Module(imports=[RequestModule], providers=[ChatGateway])
    class AppModule: ...

    with pytest.raises(BootstrapError) as info:
        Container.build(AppModule)
    assert "ChatGateway" in str(info.value) and "RequestState" in str(info.value)


def test_gateway_scope_from_provider_scope_is_checked() -> None:
    @_gateway
    class ChatGateway: ...

    @Module(providers=[Provider(ChatGateway, use_class=ChatGateway, scope=Scope.REQUEST)])
    class AppModule: ...

    with pytest.raises(BootstrapError, match="REQUEST"):
        Container.build(AppModule)


def test_find_lists_singleton_gateways_with_their_module() -> None:
    @_gateway
    class ChatGateway: ...

    @Module(providers=[ChatGateway, Clock])
    class AppModule: ...

    c = Container.build(AppModule)
    [(gateway, node)] = c.find(_metadata.GATEWAY)
    assert isinstance(gateway, ChatGateway) and node.cls is AppModule


def test_module_class_cannot_inject_a_request_scoped_provider() -> None:
    @Module(imports=[RequestModule])
    class AppModule:
        def __init__(self, state: RequestState) -> None: ...

    with pytest.raises(BootstrapError, match=r"Module class .*AppModule.*request-scoped"):
        Container.build(AppModule)


def test_request_scoped_factory_runs_once_per_request() -> None:
    calls: list[int] = []

    def make() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    @Module(providers=[Provider("CTX", use_factory=make, scope=Scope.REQUEST)])
    class AppModule: ...

    c = Container.build(AppModule)
    c.instantiate()
    assert calls == []
    with request_context():
        assert c.get("CTX") is c.get("CTX")
    with request_context():
        assert c.get("CTX") == {"n": 2}
