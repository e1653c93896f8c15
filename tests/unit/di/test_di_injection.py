"""Constructor injection and the custom provider recipes."""

from typing import Annotated, Optional

import pytest

from nestpy._di import Container, Inject, Injectable, Module, Provider, Scope
from nestpy.exceptions import BootstrapError


class Repo:
    def __init__(self, url: Annotated[str, Inject("DB_URL")]) -> None:
        self.url = url


@Injectable
class Service:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo


def test_class_and_token_injection() -> None:
    """A class annotation injects that class; Inject("TOKEN") injects the token's value."""

    @Module(providers=[Service, Repo, Provider("DB_URL", use_value="sqlite://")])
    class AppModule: ...

    c = Container.build(AppModule)
    c.instantiate()
    svc = c.get(Service)
    assert isinstance(svc, Service)
    assert svc.repo is c.get(Repo)
    assert svc.repo.url == "sqlite://"
    assert c.get("DB_URL") == "sqlite://"


def test_string_annotations_resolve_from_module_globals() -> None:
    """Forward references (strings) are resolved against the class's module."""

    class Late:
        def __init__(self, svc: "Service", repo: "Annotated[Repo, Inject(Repo)]") -> None:
            self.svc, self.repo = svc, repo

    @Module(providers=[Late, Service, Repo, Provider("DB_URL", use_value="x")])
    class AppModule: ...

    late = Container.build(AppModule).get(Late)
    assert isinstance(late.svc, Service)
    assert late.repo is late.svc.repo


def test_use_class_builds_another_class_for_the_token() -> None:
    class Cache:
        def get(self) -> str:
            return "base"

    class RedisCache(Cache):
        def __init__(self, url: Annotated[str, Inject("DB_URL")]) -> None:
            self.url = url

        def get(self) -> str:
            return "redis:" + self.url

    @Module(providers=[Provider(Cache, use_class=RedisCache), Provider("DB_URL", use_value="r")])
    class AppModule: ...

    assert Container.build(AppModule).get(Cache).get() == "redis:r"


def test_use_factory_receives_inject_tokens_in_order() -> None:
    calls: list[tuple[object, ...]] = []

    def make_dsn(host: str, port: int) -> str:
        calls.append((host, port))
        return f"{host}:{port}"

    @Module(
        providers=[
            Provider("HOST", use_value="db"),
            Provider("PORT", use_value=5432),
            Provider("DSN", use_factory=make_dsn, inject=["HOST", "PORT"]),
        ]
    )
    class AppModule: ...

    c = Container.build(AppModule)
    assert calls == []  # build() creates nothing
    c.instantiate()
    assert c.get("DSN") == "db:5432"
    assert c.get("DSN") == "db:5432"
    assert calls == [("db", 5432)]  # a singleton factory runs once


def test_use_existing_is_an_alias_to_the_same_instance() -> None:
    @Module(
        providers=[
            Service,
            Repo,
            Provider("DB_URL", use_value="x"),
            Provider("AliasedService", use_existing=Service),
        ]
    )
    class AppModule: ...

    c = Container.build(AppModule)
    assert c.get("AliasedService") is c.get(Service)
    # an alias is not a second instance: lifecycle hooks see Service once
    assert sum(1 for obj in c.instances() if isinstance(obj, Service)) == 1


def test_default_value_is_used_when_the_token_is_not_visible() -> None:
    class Tuning:
        def __init__(  # type: ignore[no-untyped-def]
            self,
            retries: Annotated[int, Inject("RETRIES")] = 3,
            timeout: Annotated[float, Inject("TIMEOUT")] = 1.5,
            label="plain",  # no annotation but a default: left to Python
        ) -> None:
            self.retries, self.timeout, self.label = retries, timeout, label

    @Module(providers=[Tuning, Provider("TIMEOUT", use_value=9.0)])
    class AppModule: ...

    t = Container.build(AppModule).get(Tuning)
    assert (t.retries, t.timeout, t.label) == (3, 9.0, "plain")


def test_optional_annotation_asks_for_the_class() -> None:
    class Metrics: ...

    class Handler:
        def __init__(self, metrics: Optional[Metrics] = None) -> None:  # noqa: UP045
            self.metrics = metrics

    class Handler2:
        def __init__(self, metrics: Metrics | None = None) -> None:
            self.metrics = metrics

    @Module(providers=[Handler, Handler2, Metrics])
    class WithMetrics: ...

    @Module(providers=[Handler])
    class WithoutMetrics: ...

    c = Container.build(WithMetrics)
    assert isinstance(c.get(Handler).metrics, Metrics)
    assert c.get(Handler2).metrics is c.get(Metrics)
    assert Container.build(WithoutMetrics).get(Handler).metrics is None


def test_keyword_only_and_positional_only_parameters() -> None:
    class A: ...

    class B:
        def __init__(self, a: A, /, *, label: Annotated[str, Inject("LABEL")]) -> None:
            self.a, self.label = a, label

    @Module(providers=[A, B, Provider("LABEL", use_value="L")])
    class AppModule: ...

    b = Container.build(AppModule).get(B)
    assert isinstance(b.a, A) and b.label == "L"


def test_module_class_gets_constructor_dependencies() -> None:
    class Svc: ...

    @Module(providers=[Svc])
    class AppModule:
        def __init__(self, svc: Svc) -> None:
            self.svc = svc

    c = Container.build(AppModule)
    c.instantiate()
    assert c.get(AppModule).svc is c.get(Svc)


def test_singleton_is_default_and_transient_gives_new_instances() -> None:
    class Single: ...

    @Injectable(scope=Scope.TRANSIENT)
    class Fresh: ...

    class UsesFresh:
        def __init__(self, a: Fresh, b: Fresh) -> None:
            self.a, self.b = a, b

    @Module(
        providers=[
            Single,
            Fresh,
            UsesFresh,
            Provider("f", use_factory=object, scope=Scope.TRANSIENT),
        ]
    )
    class AppModule: ...

    c = Container.build(AppModule)
    assert c.get(Single) is c.get(Single)
    assert c.get(Fresh) is not c.get(Fresh)
    user = c.get(UsesFresh)
    assert user.a is not user.b
    assert c.get("f") is not c.get("f")
    # transient instances are not lifecycle-hook targets
    assert not any(isinstance(obj, Fresh) for obj in c.instances())


def test_scope_default_is_an_alias_of_singleton() -> None:
    assert Scope.DEFAULT is Scope.SINGLETON


def test_classes_with_c_level_init_need_nothing() -> None:
    class Registry(dict[str, int]): ...

    @Module(providers=[Registry])
    class AppModule: ...

    assert Container.build(AppModule).get(Registry) == {}


# --- errors ---------------------------------------------------------------------------------


def test_unannotated_parameter_is_a_bootstrap_error_naming_it() -> None:
    class Bad:
        def __init__(self, thing) -> None:  # type: ignore[no-untyped-def]
            self.thing = thing

    @Module(providers=[Bad])
    class AppModule: ...

    with pytest.raises(BootstrapError) as info:
        Container.build(AppModule)
    msg = str(info.value)
    assert "Bad.__init__" in msg and "'thing'" in msg and "AppModule" in msg
    assert "Inject('TOKEN')" in msg  # the fix


def test_star_args_is_a_bootstrap_error() -> None:
    class Bad:
        def __init__(self, *deps: object) -> None: ...

    @Module(providers=[Bad])
    class AppModule: ...

    with pytest.raises(BootstrapError, match=r"\*deps"):
        Container.build(AppModule)


def test_unresolvable_forward_reference_names_parameter_and_fix() -> None:
    class Bad:
        def __init__(self, dep: "NoSuchClass") -> None:  # type: ignore[name-defined]  # noqa: F821
            self.dep = dep

    @Module(providers=[Bad])
    class AppModule: ...

    with pytest.raises(BootstrapError) as info:
        Container.build(AppModule)
    msg = str(info.value)
    assert "'dep'" in msg and "NoSuchClass" in msg and "module level" in msg


def test_non_class_annotation_without_inject_is_an_error() -> None:
    class Bad:
        def __init__(self, names: list[str]) -> None: ...

    @Module(providers=[Bad])
    class AppModule: ...

    with pytest.raises(BootstrapError, match=r"'names'.*Inject"):
        Container.build(AppModule)


def test_provider_needs_exactly_one_recipe() -> None:
    with pytest.raises(BootstrapError, match="exactly one"):
        Provider("X")
    with pytest.raises(BootstrapError, match="exactly one"):
        Provider("X", use_value=1, use_factory=lambda: 2)
    assert Provider("X", use_value=None).kind == "value"  # None is a value


def test_async_factory_is_refused_with_the_fix() -> None:
    async def connect() -> object:
        return object()

    with pytest.raises(BootstrapError, match="lifecycle hook"):
        Provider("DB", use_factory=connect)


def test_factory_returning_an_awaitable_is_refused_when_called() -> None:
    async def connect() -> object:
        return object()

    @Module(providers=[Provider("DB", use_factory=lambda: connect())])
    class AppModule: ...

    c = Container.build(AppModule)
    with pytest.raises(BootstrapError, match="awaitable"):
        c.instantiate()


def test_non_provider_entry_is_an_error() -> None:
    @Module(providers=["oops"])
    class AppModule: ...

    with pytest.raises(BootstrapError, match=r"AppModule providers\[0\]"):
        Container.build(AppModule)


def test_constructor_errors_propagate_unchanged() -> None:
    class Boom:
        def __init__(self) -> None:
            raise RuntimeError("boom")

    @Module(providers=[Boom])
    class AppModule: ...

    c = Container.build(AppModule)  # nothing built yet
    with pytest.raises(RuntimeError, match="boom"):
        c.instantiate()


def test_dataclass_providers_are_injected_by_field() -> None:
    from dataclasses import dataclass

    @dataclass
    class Settings:
        repo: Repo
        name: Annotated[str, Inject("NAME")] = "default"

    @Module(providers=[Settings, Repo, Provider("DB_URL", use_value="x")])
    class AppModule: ...

    settings = Container.build(AppModule).get(Settings)
    assert settings.name == "default" and settings.repo.url == "x"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"use_value": 1, "inject": ["A"]}, "only applies to use_factory"),
        ({"use_class": len}, "must be a class"),
        ({"use_factory": 42}, "must be callable"),
        ({"use_value": 1, "scope": "singleton"}, "nestpy Scope"),
    ],
)
def test_provider_argument_mistakes(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BootstrapError, match=message):
        Provider("X", **kwargs)  # type: ignore[arg-type]


def test_unhashable_tokens_and_bad_overrides_are_bootstrap_errors() -> None:
    @Module(providers=[Provider(["not", "hashable"], use_value=1)])
    class AppModule: ...

    with pytest.raises(BootstrapError, match="not hashable"):
        Container.build(AppModule)

    @Module(providers=[Repo])
    class Other: ...

    with pytest.raises(BootstrapError, match=r"overrides\[Repo\] must be a Provider"):
        Container.build(Other, overrides={Repo: object()})  # type: ignore[dict-item]
    with pytest.raises(LookupError, match="not hashable"):
        Container.build(Module()(type("Empty", (), {}))).get([])


def test_injectable_rejects_a_non_scope() -> None:
    with pytest.raises(BootstrapError, match="nestpy Scope"):
        Injectable(scope="request")  # type: ignore[call-overload]
