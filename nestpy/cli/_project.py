"""``nestpy new``: the files of a fresh project, planned in memory like any schematic."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from nestpy.cli._discovery import CLIError
from nestpy.cli._names import normalise
from nestpy.cli.generate import Change, render

__all__ = ["PROJECT_FILES", "plan_new", "print_next_steps"]

#: (template under ``templates/``, destination with ``{package}`` filled in)
PROJECT_FILES = (
    ("project/pyproject.toml.jinja", "pyproject.toml"),
    ("project/README.md.jinja", "README.md"),
    ("project/gitignore.jinja", ".gitignore"),
    ("project/main.py.jinja", "main.py"),
    ("project/package_init.py.jinja", "{package}/__init__.py"),
    ("project/app_module.py.jinja", "{package}/app_module.py"),
    ("project/empty.jinja", "{package}/events/__init__.py"),
    ("gateway.py.jinja", "{package}/events/events_gateway.py"),
    ("project/empty.jinja", "tests/__init__.py"),
    ("project/test_app.py.jinja", "tests/test_app.py"),
    ("project/empty.jinja", "tests/events/__init__.py"),
    ("gateway_test.py.jinja", "tests/events/test_events_gateway.py"),
)


def plan_new(raw_name: str, directory: Path | None) -> tuple[Path, list[Change]]:
    """Plan a project called *raw_name* in *directory* (default ``./<kebab-name>``).

    Returns:
        The project directory and the files to create in it.

    Raises:
        CLIError: a bad name, or a directory that exists and is not empty.
    """
    from nestpy.__about__ import __version__

    name = normalise(raw_name, what="project name")
    target = (directory or Path(name.kebab)).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CLIError(
            f"{target} already exists and is not empty; pick another NAME or --directory"
        )
    package = name.snake
    release = __version__.split("+")[0]
    context = {
        "project": name.kebab,
        "package": package,
        "title": " ".join(w.capitalize() for w in name.words),
        "nestpy_version": release,
        # the sample gateway, rendered by the same templates as ``nestpy g gateway events``
        "class_name": "EventsGateway",
        "snake": "events",
        "kebab": "events",
        "pascal": "Events",
        "namespace": "events",
        "module": f"{package}.events.events_gateway",
    }
    changes = [
        Change(target / dest.format(package=package), "CREATE", render(tpl, **context))
        for tpl, dest in PROJECT_FILES
    ]
    return target, changes


def print_next_steps(target: Path, console: Console) -> None:
    """Tell the user how to install, test and run the new project."""
    try:
        shown = target.relative_to(Path.cwd())
    except ValueError:
        shown = target
    console.print(f"\n[bold green]Created {shown}.[/] Next steps:")
    for step in (f"cd {shown}", 'pip install -e ".[test]"', "pytest", "nestpy start"):
        console.print(f"  {escape(step)}")
