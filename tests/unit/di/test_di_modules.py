"""Module graph: visibility, exports, @Global, dynamic modules, cycles, overrides."""

from typing import Annotated, Any

import pytest

from nestpy._di import (
    Container,
    DynamicModule,
    Global,
    Inject,
    Injectable,
    Module,
    Provider,
)
from nestpy._di.scanner import ProviderCycleError
from nestpy.exceptions import (
    BootstrapError,
    CircularDependencyError,
    ModuleVisibilityError,
    UnknownDependencyError,
    UnknownElementError,
)


class Db: ...


class UsersService:
    def __init__(self, db: Db) -> None:
        self.db = db


# --- visibility ---------------------------------------------------------------------------


def test_missing_provider_error_names_module_token_and_dependent() -> None:
    @Module(providers=[UsersService])
    class UsersModule: ...

    with pytest.raises(UnknownDependencyError) as info:
        Container.build(UsersModule)
    err = info.value
    assert (err.token, err.module, err.dependent, err.index) == (Db, UsersModule, UsersService, 0)
    msg = str(err)
    assert "Db" in msg and "UsersModule" in msg and "UsersService" in msg


def test_missing_string_token_is_named_in_the_message() -> None:
    class Mailer:
        def __init__(self, url: str, key: Annotated[str, Inject("API_KEY")]) -> None: ...

    @Module(providers=[Mailer, Provider(str, use_value="u")])
    class MailModule: ...

    with pytest.raises(UnknownDependencyError) as info:
        Container.build(MailModule)
    assert "'API_KEY'" in str(info.value) and "MailModule" in str(info.value)
    assert info.value.index == 1


def test_provider_not_exported_is_invisible_to_importers() -> None:
    @Module(providers=[Db])  # no exports
    class DbModule: ...

    @Module(imports=[DbModule], providers=[UsersService])
    class UsersModule: ...

    with pytest.raises(UnknownDependencyError, match="UsersModule"):
        Container.build(UsersModule)


def test_exports_are_not_transitive_without_reexport() -> None:
    @Module(providers=[Db], exports=[Db])
    class DbModule: ...

    @Module(imports=[DbModule])
    class MiddleModule: ...

    @Module(imports=[MiddleModule], providers=[UsersService])
    class UsersModule: ...

    with pytest.raises(UnknownDependencyError):
        Container.build(UsersModule)


def test_reexporting_an_imported_module_exports_its_exports() -> None:
    @Module(providers=[Db, Provider("DB_NAME", use_value="main")], exports=[Db, "DB_NAME"])
    class DbModule: ...

    @Module(imports=[DbModule], exports=[DbModule])
    class CoreModule: ...

    @Module(imports=[CoreModule], providers=[UsersService])
    class UsersModule: ...

    c = Container.build(UsersModule)
    c.instantiate()
    db_node = next(n for n in c.modules if n.cls is DbModule)
    users_node = next(n for n in c.modules if n.cls is UsersModule)
    assert users_node.visible[Db] is db_node  # owner, not the re-exporter
    assert c.get(UsersService).db is c.get(Db)


def test_reexporting_a_single_imported_token() -> None:
    @Module(providers=[Db], exports=[Db])
    class DbModule: ...

    @Module(imports=[DbModule], exports=[Db])  # re-export one provider it can see
    class CoreModule: ...

    @Module(imports=[CoreModule], providers=[UsersService])
    class AppModule: ...

    assert isinstance(Container.build(AppModule).get(UsersService).db, Db)


def test_exporting_what_the_module_cannot_see_is_a_visibility_error() -> None:
    @Module(providers=[Db], exports=[UsersService])
    class DbModule: ...

    with pytest.raises(ModuleVisibilityError) as info:
        Container.build(DbModule)
    assert "DbModule" in str(info.value) and "UsersService" in str(info.value)


def test_exporting_a_module_that_is_not_imported_is_a_visibility_error() -> None:
    @Module()
    class OtherModule: ...

    @Module(exports=[OtherModule])
    class AppModule: ...

    with pytest.raises(ModuleVisibilityError, match="does not import"):
        Container.build(AppModule)


def test_singleton_lives_once_in_its_owner_across_modules() -> None:
    @Module(providers=[Db], exports=[Db])
    class DbModule: ...

    @Module(imports=[DbModule], providers=[UsersService], exports=[UsersService])
    class UsersModule: ...

    class Orders:
        def __init__(self, db: Db, users: UsersService) -> None:
            self.db, self.users = db, users

    @Module(imports=[DbModule, UsersModule], providers=[Orders])
    class AppModule: ...

    c = Container.build(AppModule)
    c.instantiate()
    orders = c.get(Orders)
    assert orders.db is orders.users.db is c.get(Db)
    assert sum(isinstance(obj, Db) for obj in c.instances()) == 1


def test_same_class_provided_by_two_modules_gives_two_singletons() -> None:
    @Module(providers=[Db], exports=[Db])
    class A: ...

    @Module(providers=[Db], exports=[Db])
    class B: ...

    @Module(imports=[A, B])
    class AppModule: ...

    c = Container.build(AppModule)
    dbs = [obj for obj in c.instances() if isinstance(obj, Db)]
    assert len(dbs) == 2 and dbs[0] is not dbs[1]
    # modules of equal distance keep discovery order (A, then B); imports are searched in
    # declaration order, so AppModule sees A's Db
    assert c.get(Db) is dbs[0]


# --- @Global ------------------------------------------------------------------------------


def test_global_module_exports_are_visible_everywhere() -> None:
    @Global()
    @Module(providers=[Db], exports=[Db])
    class DbModule: ...

    @Module(providers=[UsersService])  # does not import DbModule
    class UsersModule: ...

    @Module(imports=[DbModule, UsersModule])
    class AppModule: ...

    c = Container.build(AppModule)
    assert c.get(UsersService).db is c.get(Db)


def test_bare_global_decorator_works_too() -> None:
    @Global
    @Module(providers=[Db], exports=[Db])
    class DbModule: ...

    @Module(providers=[UsersService])
    class UsersModule: ...

    @Module(imports=[UsersModule, DbModule])
    class AppModule: ...

    assert isinstance(Container.build(AppModule).get(UsersService).db, Db)


def test_global_module_only_shares_exports() -> None:
    @Global()
    @Module(providers=[Db])
    class DbModule: ...

    @Module(providers=[UsersService])
    class UsersModule: ...

    @Module(imports=[DbModule, UsersModule])
    class AppModule: ...

    with pytest.raises(UnknownDependencyError, match="UsersModule"):
        Container.build(AppModule)


# --- dynamic modules ----------------------------------------------------------------------


class ConfigService:
    def __init__(self, options: Annotated[dict[str, Any], Inject("CONFIG_OPTIONS")]) -> None:
        self.options = options

    def get(self, key: str) -> Any:
        return self.options[key]


@Module(providers=[ConfigService], exports=[ConfigService])
class ConfigModule:
    @classmethod
    def for_root(cls, options: dict[str, Any], *, is_global: bool = False) -> DynamicModule:
        return DynamicModule(
            cls,
            providers=[Provider("CONFIG_OPTIONS", use_value=options)],
            exports=["CONFIG_OPTIONS"],
            global_=is_global,
        )


class Greeter:
    def __init__(self, config: ConfigService) -> None:
        self.greeting = config.get("greeting")


def test_dynamic_module_for_root() -> None:
    @Module(imports=[ConfigModule.for_root({"greeting": "hi"})], providers=[Greeter])
    class AppModule: ...

    c = Container.build(AppModule)
    assert c.get(Greeter).greeting == "hi"
    assert c.get("CONFIG_OPTIONS") == {"greeting": "hi"}
    node = next(n for n in c.modules if n.cls is ConfigModule)
    assert node.dynamic is not None and node.distance == 1


def test_same_dynamic_module_object_is_one_module() -> None:
    config = ConfigModule.for_root({"greeting": "hey"})

    @Module(imports=[config], providers=[Greeter], exports=[Greeter, config])
    class FeatureModule: ...

    class Other:
        def __init__(self, config: ConfigService, greeter: Greeter) -> None:
            self.config, self.greeter = config, greeter

    @Module(imports=[config, FeatureModule], providers=[Other])
    class AppModule: ...

    c = Container.build(AppModule)
    assert sum(n.cls is ConfigModule for n in c.modules) == 1
    other = c.get(Other)
    assert other.config is c.get(ConfigService)
    assert other.greeter.greeting == "hey"


def test_two_for_root_calls_are_two_modules() -> None:
    @Module(
        imports=[ConfigModule.for_root({"greeting": "a"})], providers=[Greeter], exports=[Greeter]
    )
    class A: ...

    @Module(
        imports=[ConfigModule.for_root({"greeting": "b"})],
        providers=[Provider("B_GREETER", use_class=Greeter)],
        exports=["B_GREETER"],
    )
    class B: ...

    @Module(imports=[A, B])
    class AppModule: ...

    c = Container.build(AppModule)
    assert sum(n.cls is ConfigModule for n in c.modules) == 2
    assert c.get(Greeter).greeting == "a"
    assert c.get("B_GREETER").greeting == "b"


def test_global_dynamic_module() -> None:
    @Module(providers=[Greeter])
    class FeatureModule: ...

    @Module(imports=[ConfigModule.for_root({"greeting": "g"}, is_global=True), FeatureModule])
    class AppModule: ...

    assert Container.build(AppModule).get(Greeter).greeting == "g"


def test_import_that_is_not_a_module_is_an_error() -> None:
    class NotAModule: ...

    @Module(imports=[NotAModule])
    class AppModule: ...

    with pytest.raises(BootstrapError, match=r"AppModule imports\[0\].*@Module"):
        Container.build(AppModule)


def test_none_import_hints_at_a_circular_python_import() -> None:
    @Module(imports=[None])
    class AppModule: ...

    with pytest.raises(BootstrapError, match="circular Python import"):
        Container.build(AppModule)


# --- cycles -------------------------------------------------------------------------------


class Chicken:
    def __init__(self, egg: "Egg") -> None: ...


class Egg:
    def __init__(self, chicken: Chicken) -> None: ...


def test_provider_cycle_error_shows_the_path() -> None:
    @Module(providers=[Chicken, Egg])
    class FarmModule: ...

    with pytest.raises(CircularDependencyError) as info:
        Container.build(FarmModule)
    assert "Chicken -> Egg -> Chicken" in str(info.value)
    assert isinstance(info.value, ProviderCycleError)
    assert info.value.path == [Chicken, Egg, Chicken]


def test_cycle_through_tokens_and_modules() -> None:
    @Module(
        providers=[
            Provider("A", use_factory=lambda b: b, inject=["B"]),
            Provider("B", use_existing="C"),
        ],
        exports=["A"],
    )
    class Left: ...

    @Module(
        imports=[Left],
        providers=[Provider("C", use_factory=lambda a: a, inject=["A"])],
        exports=["C"],
    )
    class Right: ...

    # Left imports Right too (re-decorated: Python needs both classes to exist first).
    # Module import cycles are allowed; provider cycles are not.
    Module(
        imports=[Right],
        providers=[
            Provider("A", use_factory=lambda b: b, inject=["B"]),
            Provider("B", use_existing="C"),
        ],
        exports=["A"],
    )(Left)
    # discovery starts at the root (Right), so the path starts at its provider
    with pytest.raises(CircularDependencyError, match="'C' -> 'A' -> 'B' -> 'C'"):
        Container.build(Right)


def test_module_import_cycles_are_allowed() -> None:
    @Module(providers=[Db], exports=[Db])
    class A: ...

    @Module(imports=[A], providers=[UsersService], exports=[UsersService])
    class B: ...

    Module(imports=[B], providers=[Db], exports=[Db])(A)  # close the cycle A <-> B

    c = Container.build(B)
    assert [n.cls for n in c.modules] == [A, B]
    assert isinstance(c.get(UsersService).db, Db)


# --- overrides, get -----------------------------------------------------------------------


def test_overrides_replace_a_provider_wherever_it_is_declared() -> None:
    class FakeDb(Db): ...

    @Module(providers=[Db], exports=[Db])
    class DbModule: ...

    @Module(imports=[DbModule], providers=[UsersService])
    class AppModule: ...

    fake = FakeDb()
    c = Container.build(AppModule, overrides={Db: Provider(Db, use_value=fake)})
    assert c.get(UsersService).db is fake
    assert c.get(Db) is fake


def test_get_finds_providers_of_any_module_and_module_instances() -> None:
    @Module(providers=[Db])  # not exported: the root cannot see it
    class DbModule: ...

    @Module(imports=[DbModule])
    class AppModule: ...

    c = Container.build(AppModule)
    assert isinstance(c.get(Db), Db)
    assert isinstance(c.get(DbModule), DbModule)


def test_get_of_unknown_token_is_a_clear_error() -> None:
    @Module()
    class AppModule: ...

    c = Container.build(AppModule)
    with pytest.raises(UnknownElementError, match=r"No module provides 'nope'.*AppModule"):
        c.get("nope")
    with pytest.raises(LookupError):
        c.get(Db)


def test_module_distances_follow_the_longest_import_path() -> None:
    @Module()
    class Leaf: ...

    @Module(imports=[Leaf])
    class Mid: ...

    @Module(imports=[Leaf, Mid])
    class AppModule: ...

    c = Container.build(AppModule)
    assert [(n.cls, n.distance) for n in c.modules] == [(Leaf, 2), (Mid, 1), (AppModule, 0)]


def test_injectable_decorator_only_records_metadata() -> None:
    @Injectable
    class Plain: ...

    assert Plain.__nestpy__ == {"injectable": Plain.__nestpy__["injectable"]}  # type: ignore[attr-defined]
