"""``register_in_module`` (``nestpy.cli._codemod``): the libcst edit ``nestpy g`` makes to a
``@Module`` file, in the style of what is already there (tests/cli drive it through the CLI)."""

from __future__ import annotations

import pytest

from nestpy.cli._codemod import RegistrationError, register_in_module


def register(source: str, field: str = "providers") -> str:
    result = register_in_module(
        source, name="ChatService", from_module="demo.chat", field=field,  # type: ignore[arg-type]
        label="demo/app_module.py",
    )
    return result.source


def test_a_bare_decorator_gets_the_argument_and_the_import_goes_below_the_docstring() -> None:
    assert register('"""Root."""\n\n\n@Module\nclass AppModule: ...\n') == (
        '"""Root."""\n\nfrom demo.chat import ChatService\n\n\n'
        "@Module(providers=[ChatService])\nclass AppModule: ...\n"
    )


def test_a_file_without_imports_or_docstring_starts_with_the_import() -> None:
    assert register("@Module()\nclass AppModule: ...\n") == (
        "from demo.chat import ChatService\n\n\n"
        "@Module(providers=[ChatService])\nclass AppModule: ...\n"
    )


def test_a_missing_field_is_appended_after_the_other_arguments() -> None:
    source = "import nestpy\n\n\n@nestpy.Module(imports=[Other])\nclass AppModule: ...\n"
    assert register(source) == (
        "import nestpy\n\nfrom demo.chat import ChatService\n\n\n"
        "@nestpy.Module(imports=[Other], providers=[ChatService])\nclass AppModule: ...\n"
    )


@pytest.mark.parametrize("trailing_comma", [",", ""])
def test_multi_line_arguments_keep_their_comment_and_trailing_comma_style(
    trailing_comma: str,
) -> None:
    source = (
        "from nestpy import Module\n\n"
        f"@Module(\n    imports=[Other]{trailing_comma}  # the imports\n)\nclass AppModule: ...\n"
    )
    assert register(source) == (
        "from nestpy import Module\n\nfrom demo.chat import ChatService\n\n"
        "@Module(\n    imports=[Other],  # the imports\n"
        f"    providers=[ChatService]{trailing_comma}\n)\nclass AppModule: ...\n"
    )


@pytest.mark.parametrize(
    ("providers", "edited"),
    [
        ("[A, B]", "[A, B, ChatService]"),
        ("(A, B)", "(A, B, ChatService)"),
        ("(\n    A,\n)", "(\n    A,\n    ChatService,\n)"),
        ("[\n    A\n]", "[\n    A,\n    ChatService\n]"),  # one item on its own line
    ],
)
def test_lists_and_tuples_grow_in_their_own_style(providers: str, edited: str) -> None:
    source = f"from demo.a import A\n\n\n@Module(providers={providers})\nclass AppModule: ...\n"
    assert register(source) == (
        "from demo.a import A\nfrom demo.chat import ChatService\n\n\n"
        f"@Module(providers={edited})\nclass AppModule: ...\n"
    )


def test_the_import_goes_in_sorted_place_among_its_package() -> None:
    source = (
        "import os\nfrom demo.a import A\nfrom demo.z import Z\n\n@Module(providers=[A])\n"
        "class AppModule: ...\n"
    )
    assert register(source) == (
        "import os\nfrom demo.a import A\nfrom demo.chat import ChatService\n"
        "from demo.z import Z\n\n@Module(providers=[A, ChatService])\nclass AppModule: ...\n"
    )


def test_a_star_import_of_the_module_already_binds_the_name() -> None:
    source = "from demo.chat import *\n\n@Module(providers=[A])\nclass AppModule: ...\n"
    assert register(source) == source.replace("[A]", "[A, ChatService]")


def test_only_the_first_module_class_is_edited_whatever_else_is_decorated() -> None:
    source = (
        "from demo.a import A\n\n\n@dataclass\nclass Settings: ...\n\n\nclass Plain: ...\n\n\n"
        "@other\n@Module(providers=[A])\nclass AppModule: ...\n\n\n"
        "@Module(providers=[])\nclass Second: ...\n"
    )
    result = register_in_module(
        source, name="ChatService", from_module="demo.chat", field="providers", label="m.py"
    )
    assert result.module_class == "AppModule"
    assert "@Module(providers=[A, ChatService])" in result.source
    assert "@Module(providers=[])\nclass Second" in result.source


def test_imports_field_for_modules() -> None:
    assert "@Module(imports=[A, ChatService])" in register(
        "@Module(imports=[A])\nclass AppModule: ...\n", field="imports"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "@Module(providers=[*BASE, A])\nclass AppModule: ...\n",
            "providers= of AppModule in demo/app_module.py unpacks another list; add "
            "ChatService to it by hand, or pass --skip-import",
        ),
        (
            "class AppModule: ...\n",
            "no @Module class in demo/app_module.py; add ChatService to a module's providers "
            "by hand, or pass --skip-import",
        ),
    ],
)
def test_what_cannot_be_edited_safely_says_what_to_do(source: str, message: str) -> None:
    with pytest.raises(RegistrationError) as caught:
        register(source)
    assert str(caught.value) == message


def test_a_file_that_does_not_parse_is_left_to_be_fixed_first() -> None:
    with pytest.raises(RegistrationError) as caught:
        register("class AppModule:\n    def (\n")
    message = str(caught.value)  # libcst's own words in the middle
    assert message.startswith("demo/app_module.py does not parse (")
    assert message.endswith("); fix it first")
