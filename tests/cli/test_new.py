"""``nestpy new``: the project skeleton, run through the real console script."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_new_creates_the_documented_tree(nestpy: Run, tmp_path: Path) -> None:
    result = nestpy("new", "demo")
    assert result.returncode == 0, result.stderr
    files = sorted(
        p.relative_to(tmp_path / "demo").as_posix()
        for p in (tmp_path / "demo").rglob("*")
        if p.is_file()
    )
    assert files == [
        ".gitignore",
        "README.md",
        "demo/__init__.py",
        "demo/app_module.py",
        "demo/events/__init__.py",
        "demo/events/events_gateway.py",
        "main.py",
        "pyproject.toml",
        "tests/__init__.py",
        "tests/events/__init__.py",
        "tests/events/test_events_gateway.py",
        "tests/test_app.py",
    ]
    for name in files:
        assert f"CREATE demo/{name} (" in result.stdout
    assert 'pip install -e ".[test]"' in result.stdout


def test_new_project_depends_on_nestpy_io_never_nestpy(project: Path) -> None:
    config = tomllib.loads((project / "pyproject.toml").read_text())
    deps = config["project"]["dependencies"]
    assert [d for d in deps if d.startswith("nestpy")] == [d for d in deps if "nestpy-io" in d]
    assert any(d.startswith("nestpy-io>=") for d in deps)
    test_extra = " ".join(config["project"]["optional-dependencies"]["test"])
    assert "pytest-aiohttp" in test_extra and "pytest>=" in test_extra
    assert config["tool"]["nestpy"]["app"] == "demo.app_module:AppModule"
    assert config["tool"]["pytest"]["ini_options"]["asyncio_mode"] == "auto"


def test_new_project_python_files_parse(project: Path) -> None:
    for path in project.rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path))
    module = (project / "demo" / "app_module.py").read_text()
    assert "from demo.events.events_gateway import EventsGateway" in module
    assert "providers=[EventsGateway]" in module


def test_new_normalises_the_name(nestpy: Run, tmp_path: Path) -> None:
    result = nestpy("new", "ChatServer")
    assert result.returncode == 0, result.stderr
    root = tmp_path / "chat-server"
    assert (root / "chat_server" / "app_module.py").is_file()
    assert 'name = "chat-server"' in (root / "pyproject.toml").read_text()


def test_new_with_directory(nestpy: Run, tmp_path: Path) -> None:
    result = nestpy("new", "demo", "--directory", "somewhere/else")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "somewhere" / "else" / "demo" / "app_module.py").is_file()


def test_new_refuses_a_non_empty_directory(
    nestpy: Run, tmp_path: Path, tree: Callable[[Path], dict[str, str]]
) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "keep.txt").write_text("mine")
    result = nestpy("new", "demo")
    assert result.returncode == 1
    assert "already exists and is not empty" in result.stderr
    assert tree(tmp_path / "demo") == {"keep.txt": "mine"}


def test_new_dry_run_writes_nothing(nestpy: Run, tmp_path: Path) -> None:
    result = nestpy("new", "demo", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "CREATE demo/demo/app_module.py" in result.stdout
    assert "Dry run: nothing was written." in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_new_rejects_a_bad_name(nestpy: Run, tmp_path: Path) -> None:
    result = nestpy("new", "9lives")
    assert result.returncode == 1
    assert "invalid project name '9lives'" in result.stderr
    assert list(tmp_path.iterdir()) == []
