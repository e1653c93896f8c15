"""Mistakes end with a non-zero exit and one line on stderr saying what to do."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]
Tree = Callable[[Path], dict[str, str]]


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_unknown_schematic_lists_the_valid_ones(nestpy: Run, project: Path, tree: Tree) -> None:
    before = tree(project)
    line = _one_error_line(nestpy("g", "controller", "chat", cwd=project))
    assert line == (
        "Error: unknown schematic 'controller'; use one of: gateway (ga), module (mo), "
        "service (s), guard (gu), pipe (pi), interceptor (itc), filter (f)"
    )
    assert tree(project) == before


@pytest.mark.parametrize("name", ["9lives", "chat room!", "chat.room", "-chat"])
def test_bad_name(nestpy: Run, project: Path, tree: Tree, name: str) -> None:
    before = tree(project)
    result = nestpy("g", "ga", "--", name, cwd=project)
    line = _one_error_line(result)
    assert f"invalid name {name!r}: start with a letter" in line
    assert tree(project) == before


def test_keyword_name(nestpy: Run, project: Path) -> None:
    line = _one_error_line(nestpy("g", "s", "class", cwd=project))
    assert "'class' is a Python keyword" in line


def test_no_module_to_register_in(nestpy: Run, tmp_path: Path) -> None:
    line = _one_error_line(nestpy("g", "ga", "chat"))
    assert line == (
        "Error: no *_module.py in chat or its parents to register ChatGateway in; "
        "create one (nestpy g module NAME) or pass --skip-import"
    )
    assert list(tmp_path.iterdir()) == []
    result = nestpy("g", "ga", "chat", "--skip-import")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "chat" / "chat_gateway.py").is_file()
    assert (tmp_path / "tests" / "chat" / "test_chat_gateway.py").is_file()


def test_a_root_module_needs_no_parent(nestpy: Run, tmp_path: Path) -> None:
    result = nestpy("g", "module", "app", "--flat")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "app_module.py").is_file()
    assert "UPDATE" not in result.stdout


def test_module_file_that_cannot_be_edited(nestpy: Run, project: Path, tree: Tree) -> None:
    module = project / "demo" / "app_module.py"
    module.write_text(
        "from nestpy import Module\n\nPROVIDERS = []\n\n\n"
        "@Module(providers=PROVIDERS)\nclass AppModule: ...\n"
    )
    before = tree(project)
    line = _one_error_line(nestpy("g", "s", "chat", cwd=project))
    assert line == (
        "Error: providers= of AppModule in demo/app_module.py is not a list; add "
        "ChatService to it by hand, or pass --skip-import"
    )
    assert tree(project) == before


def test_path_outside_the_project(nestpy: Run, project: Path) -> None:
    line = _one_error_line(nestpy("g", "s", "chat", "--path", "../../elsewhere", cwd=project))
    assert "is outside" in line and "pick a directory inside it" in line


def test_start_with_a_missing_module(nestpy: Run, project: Path) -> None:
    line = _one_error_line(nestpy("start", "demo.nope:AppModule", cwd=project))
    assert line.startswith("Error: cannot import 'demo.nope' (no module named 'demo.nope')")
    assert line.endswith("run nestpy in your project root or fix the target")


def test_start_with_a_missing_class(nestpy: Run, project: Path) -> None:
    line = _one_error_line(nestpy("start", "demo.app_module:Nope", cwd=project))
    assert line == (
        "Error: module 'demo.app_module' has no attribute 'Nope': pass the root module class "
        "as 'demo.app_module:ClassName'"
    )


def test_start_with_something_that_is_not_a_module(nestpy: Run, project: Path) -> None:
    target = "demo.events.events_gateway:EventsGateway"
    line = _one_error_line(nestpy("start", target, cwd=project))
    assert line == f"Error: {target} is not a @Module class; pass your root module"


def test_start_without_any_application(nestpy: Run, tmp_path: Path) -> None:
    line = _one_error_line(nestpy("start"))
    assert "no application found" in line and "[tool.nestpy] app" in line


def test_start_with_a_malformed_target(nestpy: Run, tmp_path: Path) -> None:
    line = _one_error_line(nestpy("start", "not a target"))
    assert "invalid application target 'not a target'" in line
