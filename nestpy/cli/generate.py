"""Schematics: render files from templates and register providers in the nearest module.

Everything is planned in memory first (a list of :class:`Change`); nothing touches the disk
until the whole plan is known to be valid, so an error (an existing file, a module that
cannot be edited) leaves the project exactly as it was, and ``--dry-run`` is just "print the
plan".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from rich.console import Console
from rich.markup import escape

from nestpy.cli._codemod import Field, RegistrationError, register_in_module
from nestpy.cli._discovery import CLIError, Project
from nestpy.cli._names import Name, normalise

__all__ = [
    "SCHEMATICS",
    "Change",
    "Schematic",
    "apply_changes",
    "plan_generate",
    "print_changes",
    "render",
    "resolve_schematic",
]

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class Schematic:
    """One kind of thing ``nestpy generate`` can create.

    Attributes:
        name: the full name (``gateway``), also the file and class suffix.
        alias: the short name (``ga``), as in the Nest CLI.
        register: the ``@Module`` field the new class is added to, or None.
        spec: whether a test file is generated next to it by default.
    """

    name: str
    alias: str
    register: Field | None
    spec: bool

    @property
    def suffix(self) -> str:
        """The class-name suffix: ``Gateway``."""
        return self.name.capitalize()


SCHEMATICS: tuple[Schematic, ...] = (
    Schematic("gateway", "ga", "providers", spec=True),
    # A module only groups providers; like the Nest CLI, no test is generated for it.
    Schematic("module", "mo", "imports", spec=False),
    Schematic("service", "s", "providers", spec=True),
    # Guards, pipes, interceptors and filters are attached with @UseGuards(...) and friends,
    # not listed as providers, so they are not registered in a module.
    Schematic("guard", "gu", None, spec=True),
    Schematic("pipe", "pi", None, spec=True),
    Schematic("interceptor", "itc", None, spec=True),
    Schematic("filter", "f", None, spec=True),
)


def resolve_schematic(name: str) -> Schematic:
    """Return the schematic called *name* or aliased *name*.

    Raises:
        CLIError: no such schematic; the message lists the valid ones.
    """
    for schematic in SCHEMATICS:
        if name in (schematic.name, schematic.alias):
            return schematic
    valid = ", ".join(f"{s.name} ({s.alias})" for s in SCHEMATICS)
    raise CLIError(f"unknown schematic {name!r}; use one of: {valid}")


@dataclass(frozen=True, slots=True)
class Change:
    """One file the command creates or updates (``before`` is the old text of an update)."""

    path: Path
    action: Literal["CREATE", "UPDATE"]
    content: str
    before: str | None = None


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # Python source, not HTML
)


def render(template: str, **context: object) -> str:
    """Render ``templates/<template>`` with *context*."""
    return _env.get_template(template).render(**context)


def _file_change(path: Path, content: str, force: bool, conflicts: list[Path]) -> Change | None:
    if not path.exists():
        return Change(path, "CREATE", content)
    before = path.read_text(encoding="utf-8")
    if before == content:
        return None
    if not force:
        conflicts.append(path)
        return None
    return Change(path, "UPDATE", content, before)


def _package_inits(top: Path, leaf: Path) -> Iterable[Path]:
    """``__init__.py`` for each directory from *top* (exclusive) to *leaf* that is new."""
    rel = leaf.relative_to(top)
    for i in range(1, len(rel.parts) + 1):
        directory = top.joinpath(*rel.parts[:i])
        if not directory.exists():
            yield directory / "__init__.py"


def _find_module_file(start: Path, stop: Path, exclude: Path | None) -> Path | None:
    """The nearest ``*_module.py`` in *start* or its parents, up to *stop* inclusive.

    Lookup order inside one directory: ``<dirname>_module.py``, then ``app_module.py``,
    then the first ``*_module.py`` in name order.
    """
    directory = start
    while True:
        if directory.is_dir():
            found = sorted(p for p in directory.glob("*_module.py") if p != exclude)
            preferred = [directory / f"{directory.name}_module.py", directory / "app_module.py"]
            for candidate in [*preferred, *found]:
                if candidate in found:
                    return candidate
        if directory == stop or directory == directory.parent or stop not in directory.parents:
            return None
        directory = directory.parent


def _base_dir(project: Project, path: str | None, segments: Sequence[Name]) -> Path:
    base = project.source_root
    if path:
        raw = Path(path)
        base = (raw if raw.is_absolute() else project.source_root / raw).resolve()
        if base != project.import_root and project.import_root not in base.parents:
            raise CLIError(
                f"--path {path} is outside {project.import_root}, so generated code could not "
                f"be imported; pick a directory inside it"
            )
        bad = [p for p in base.relative_to(project.import_root).parts if not p.isidentifier()]
        if bad:
            raise CLIError(
                f"--path {path}: {bad[0]!r} is not a valid package name; use letters, digits "
                f"and '_' only"
            )
    return base.joinpath(*(s.snake for s in segments))


def plan_generate(
    schematic: Schematic,
    raw_name: str,
    *,
    project: Project,
    path: str | None = None,
    flat: bool = False,
    spec: bool = True,
    skip_import: bool = False,
    force: bool = False,
    ws: bool = False,
) -> list[Change]:
    """Plan the files for one ``nestpy generate`` run, without touching the disk.

    *ws*: a plain WebSocket gateway (NestJS's ``WsAdapter``) instead of a Socket.IO one.

    Raises:
        CLIError: a bad name or path, an existing file without *force*, no module to register
            in (gateways and services), a module file that cannot be edited, or *ws* for
            another schematic than a gateway.
    """
    if ws and schematic.name != "gateway":
        raise CLIError(f"--ws applies to gateways only, not to a {schematic.name}")
    template = f"{schematic.name}_ws" if ws else schematic.name
    parts = raw_name.replace("\\", "/").strip("/").split("/")
    segments = [normalise(p, what="directory name") for p in parts[:-1]]
    name = normalise(parts[-1])
    if len(name.words) > 1 and name.words[-1] == schematic.name:
        # ``nestpy g gateway chat-gateway`` means ChatGateway, not ChatGatewayGateway.
        name = Name(name.words[:-1])
    base = _base_dir(project, path, segments)
    target_dir = base if flat else base / name.snake
    file = target_dir / f"{name.snake}_{schematic.name}.py"
    class_name = name.pascal + schematic.suffix
    module = project.dotted(file)
    context = {
        "class_name": class_name,
        "snake": name.snake,
        "kebab": name.kebab,
        "pascal": name.pascal,
        "module": module,
        "namespace": name.kebab,
    }

    changes: list[Change] = []
    conflicts: list[Path] = []
    changes += [Change(p, "CREATE", "") for p in _package_inits(project.import_root, target_dir)]
    main = _file_change(file, render(f"{template}.py.jinja", **context), force, conflicts)
    changes += [main] if main else []

    if spec and schematic.spec:
        tests = project.root / "tests"
        anchor = (
            project.source_root
            if project.source_root in (target_dir, *target_dir.parents)
            else project.import_root
        )
        test_dir = tests / target_dir.relative_to(anchor)
        changes += [Change(p, "CREATE", "") for p in _package_inits(project.root, test_dir)]
        test_file = test_dir / f"test_{name.snake}_{schematic.name}.py"
        test = _file_change(
            test_file, render(f"{template}_test.py.jinja", **context), force, conflicts
        )
        changes += [test] if test else []

    if conflicts:
        shown = ", ".join(_rel(p, project.root) for p in conflicts)
        raise CLIError(f"{shown} already exists; pass --force to overwrite, or pick another name")

    if schematic.register and not skip_import:
        update = _plan_registration(
            schematic, project, file=file, class_name=class_name, module=module
        )
        changes += [update] if update else []
    return changes


def _plan_registration(
    schematic: Schematic, project: Project, *, file: Path, class_name: str, module: str
) -> Change | None:
    assert schematic.register is not None
    # A new module registers in its *parent* module, never in itself.
    start = file.parent.parent if schematic.name == "module" else file.parent
    stop = (
        project.source_root
        if project.source_root in (start, *start.parents)
        else (project.import_root)
    )
    module_file = _find_module_file(start, stop, exclude=file)
    if module_file is None:
        if schematic.name == "module":
            return None  # a root module has no parent to be imported into
        raise CLIError(
            f"no *_module.py in {_rel(start, project.root)} or its parents to register "
            f"{class_name} in; create one (nestpy g module NAME) or pass --skip-import"
        )
    before = module_file.read_text(encoding="utf-8")
    try:
        result = register_in_module(
            before,
            name=class_name,
            from_module=module,
            field=schematic.register,
            label=_rel(module_file, project.root),
        )
    except RegistrationError as exc:
        raise CLIError(str(exc)) from None
    if result.source == before:
        return None
    return Change(module_file, "UPDATE", result.source, before)


def apply_changes(changes: Iterable[Change]) -> None:
    """Write every change to disk, creating directories as needed."""
    for change in changes:
        change.path.parent.mkdir(parents=True, exist_ok=True)
        change.path.write_text(change.content, encoding="utf-8")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


_STYLE = {"CREATE": "green", "UPDATE": "yellow"}


def print_changes(
    changes: Sequence[Change], *, root: Path, dry_run: bool, console: Console
) -> None:
    """Print one ``CREATE``/``UPDATE`` line per change (with a diff for updates on dry runs)."""
    for change in changes:
        size = len(change.content.encode("utf-8"))
        style = _STYLE[change.action]
        console.print(
            f"[bold {style}]{change.action}[/] {escape(_rel(change.path, root))} ({size} bytes)"
        )
        if dry_run and change.before is not None:
            label = _rel(change.path, root)
            diff = difflib.unified_diff(
                change.before.splitlines(keepends=True),
                change.content.splitlines(keepends=True),
                fromfile=f"a/{label}",
                tofile=f"b/{label}",
            )
            for line in diff:
                line = line.rstrip("\n")
                colour = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
                console.print(f"[{colour}]{escape(line)}[/]" if colour else escape(line))
    if not changes:
        console.print("Nothing to do: everything is already in place.")
    if dry_run:
        console.print("[bold]Dry run:[/] nothing was written.")
