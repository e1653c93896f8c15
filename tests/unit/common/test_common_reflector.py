"""``Reflector`` and ``SetMetadata`` (``nestpy.common``): reading custom metadata of handlers
and gateway classes, as NestJS's ``Reflector`` does (tests/e2e/pipeline drive it from guards)."""

from __future__ import annotations

from typing import Any

from nestpy.common import ReflectableDecorator, Reflector, SetMetadata

reflector = Reflector()


def test_decorators_show_their_key() -> None:
    assert repr(Reflector.create_decorator("roles")) == "ReflectableDecorator('roles')"
    assert repr(Reflector.create_decorator()) == "ReflectableDecorator()"


def test_two_keys_on_one_target_and_a_typed_decorator() -> None:
    Admin: ReflectableDecorator[bool] = Reflector.create_decorator()

    @Admin(True)
    @SetMetadata("roles", ["a"])
    @SetMetadata("scope", "x")
    def handler() -> None: ...

    assert reflector.get("roles", handler) == ["a"]
    assert reflector.get("scope", handler) == "x"
    assert reflector.get(Admin, handler) is True
    assert reflector.get(Reflector.create_decorator(), handler) is None  # another unique key


def test_override_takes_the_first_value_that_is_set_and_not_none() -> None:
    @SetMetadata("roles", None)
    def unset() -> None: ...

    @SetMetadata("roles", ["admin"])
    class Gateway: ...

    def plain() -> None: ...

    assert reflector.get_all_and_override("roles", [unset, Gateway]) == ["admin"]
    assert reflector.get_all_and_override("roles", [plain, unset]) is None
    assert reflector.get_all_and_override("roles", []) is None


def test_merge_joins_lists_and_scalars_and_merges_mappings_with_earlier_targets_winning() -> None:
    @SetMetadata("roles", ["a", "b"])
    @SetMetadata("limits", {"rate": 1})
    def handler() -> None: ...

    @SetMetadata("roles", "c")
    @SetMetadata("limits", {"rate": 10, "burst": 5})
    class Gateway: ...

    @SetMetadata("roles", ("d",))
    class Other: ...

    def plain() -> None: ...

    assert reflector.get_all_and_merge("roles", [handler, Gateway, Other]) == ["a", "b", "c", "d"]
    assert reflector.get_all_and_merge("limits", [handler, Gateway]) == {"rate": 1, "burst": 5}
    assert reflector.get_all_and_merge("roles", [plain]) is None


def test_a_subclass_reads_its_own_value_before_its_bases() -> None:
    @SetMetadata("roles", ["base"])
    @SetMetadata("tier", 1)
    class Base: ...

    @SetMetadata("roles", ["child"])
    class Child(Base): ...

    values: list[Any] = reflector.get_all("roles", [Child, Base])
    assert values == [["child"], ["base"]]
    assert reflector.get("tier", Child) == 1
