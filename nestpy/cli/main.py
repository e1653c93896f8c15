"""``nestpy`` console script: ``new``, ``generate`` (``g``), ``start``, ``info``, and the
contract commands ``asyncapi`` and ``client``.

Only click is imported at module level; each command imports its own machinery when it
runs, so ``nestpy g ...`` stays fast and never loads python-socketio or aiohttp.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from nestpy.__about__ import __version__

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["cli", "main"]

_ALIASES = {"g": "generate"}


class _AliasedGroup(click.Group):
    """A click group that also answers to the Nest CLI's short command names (``g``)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, _ALIASES.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # Report the full name (``generate``), so usage lines read the same for both spellings.
        _, cmd, rest = super().resolve_command(ctx, args)
        return (cmd.name if cmd else None), cmd, rest


def _console() -> Console:
    from rich.console import Console

    # rich colours only on a terminal and honours NO_COLOR; highlight=False keeps file
    # names and numbers from being recoloured at random.
    return Console(highlight=False, soft_wrap=True)


@click.group(cls=_AliasedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="nestpy")
def cli() -> None:
    """nestpy: NestJS-style Socket.IO gateways for Python.

    \b
    Commands: new, generate (g), start, info, asyncapi, client.
    Run "nestpy COMMAND --help" for the options of one command.
    """


@cli.command(short_help="Create a project with a sample gateway and its tests.")
@click.argument("name")
@click.option(
    "--directory",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create the project (default: ./NAME in kebab-case).",
)
@click.option("--dry-run", is_flag=True, help="List the files without writing anything.")
def new(name: str, directory: Path | None, dry_run: bool) -> None:
    """Create a new nestpy project NAME with a sample gateway and its tests."""
    from nestpy.cli import _project
    from nestpy.cli.generate import apply_changes, print_changes

    target, changes = _project.plan_new(name, directory)
    console = _console()
    print_changes(changes, root=target.parent, dry_run=dry_run, console=console)
    if not dry_run:
        apply_changes(changes)
        _project.print_next_steps(target, console)


_SCHEMATIC_HELP = """Generate a SCHEMATIC named NAME in the current project.

\b
Schematics (alias):
  gateway (ga)      Socket.IO gateway + test; registered in the nearest module's providers
  module (mo)       @Module; added to the parent module's imports
  service (s)       @Injectable service + test; registered in the nearest module's providers
  guard (gu)        CanActivate guard + test
  pipe (pi)         PipeTransform pipe + test
  interceptor (itc) NestInterceptor + test
  filter (f)        exception filter + test

\b
NAME may be kebab-, snake-, camel- or PascalCase (chat-room, chat_room, ChatRoom) and may
start with directories (admin/chat-room). "nestpy g gateway channels" creates
channels/channels_gateway.py with class ChannelsGateway under the project's package.
"""


@cli.command(help=_SCHEMATIC_HELP, short_help="Generate a gateway, module, service, guard...")
@click.argument("schematic")
@click.argument("name")
@click.option("--path", "-p", help="Directory, relative to the project's package, to put it in.")
@click.option("--flat", is_flag=True, help="Do not create a directory named after NAME.")
@click.option("--no-spec", "no_spec", is_flag=True, help="Do not generate a test file.")
@click.option(
    "--skip-import", is_flag=True, help="Do not register the new class in the nearest module."
)
@click.option("--dry-run", "-n", is_flag=True, help="Show what would change; write nothing.")
@click.option("--force", "-f", is_flag=True, help="Overwrite files that already exist.")
@click.option("--ws", is_flag=True, help="A plain WebSocket gateway (NestJS's WsAdapter).")
def generate(
    schematic: str,
    name: str,
    path: str | None,
    flat: bool,
    no_spec: bool,
    skip_import: bool,
    dry_run: bool,
    force: bool,
    ws: bool,
) -> None:
    from nestpy.cli._discovery import find_project
    from nestpy.cli.generate import apply_changes, plan_generate, print_changes, resolve_schematic

    kind = resolve_schematic(schematic)
    project = find_project(Path.cwd())
    changes = plan_generate(
        kind,
        name,
        project=project,
        path=path,
        flat=flat,
        spec=not no_spec,
        skip_import=skip_import,
        force=force,
        ws=ws,
    )
    print_changes(changes, root=project.root, dry_run=dry_run, console=_console())
    if not dry_run:
        apply_changes(changes)


@cli.command(short_help="Run the application (optionally with --reload).")
@click.argument("target", required=False, metavar="[MODULE:CLASS]")
@click.option("--host", help="Interface to bind (default: the application's own default).")
@click.option("--port", type=click.IntRange(0, 65535), help="Application port to listen on.")
@click.option("--reload", is_flag=True, help="Restart when a .py file of the project changes.")
def start(target: str | None, host: str | None, port: int | None, reload: bool) -> None:
    """Run the application: MODULE:CLASS, else [tool.nestpy] app in pyproject.toml, else
    the AppModule found in app_module.py."""
    from nestpy.cli import _start
    from nestpy.cli._discovery import find_project

    project = find_project(Path.cwd())
    if reload:
        _start.run_with_reload(target, project, host=host, port=port, console=_console())
    else:
        _start.run(target, project, host=host, port=port)


@cli.command(short_help="Print versions of nestpy, its dependencies and Python.")
def info() -> None:
    """Print the versions of nestpy, its dependencies, Python and the platform."""
    from nestpy.cli._info import print_info

    print_info(_console())


@cli.command(short_help="Write the AsyncAPI 3.0 document of the application's gateways.")
@click.argument("target", required=False, metavar="[MODULE:CLASS]")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (.json → JSON, .yaml/.yml → YAML); stdout when omitted.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json"]),
    help="Output format (default: from the file's extension; YAML on stdout).",
)
@click.option("--title", help="info.title (default: the root module's name).")
@click.option("--api-version", default="1.0.0", show_default=True, help="info.version.")
@click.option("--server", "servers", multiple=True, metavar="URL",
              help="A server URL to list (ws://host:port); repeatable.")
def asyncapi(
    target: str | None, output: Path | None, fmt: str | None, title: str | None,
    api_version: str, servers: tuple[str, ...],
) -> None:
    """Write the AsyncAPI 3.0 document of MODULE:CLASS (the root module, or a gateway class;
    default as for "nestpy start"), built from the code without running it."""
    from nestpy.cli import _contracts
    from nestpy.cli._discovery import CLIError, find_project
    from nestpy.contracts import build_asyncapi
    from nestpy.exceptions import BootstrapError

    if fmt is None:
        fmt = "json" if output is not None and output.suffix.lower() == ".json" else "yaml"
    project = find_project(Path.cwd())
    app = _contracts.load_target(target, project)
    try:
        doc = build_asyncapi(app, title=title, version=api_version, servers=list(servers))
    except (BootstrapError, TypeError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    _contracts.write_output(_contracts.dump_document(doc, fmt), output)


@cli.command(short_help="Write typed client declarations (TypeScript) for the gateways.")
@click.argument("target", required=False, metavar="[MODULE:CLASS]")
@click.option("--lang", type=click.Choice(["ts"]), default="ts", show_default=True,
              help="Language of the declarations.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (e.g. src/socket-events.ts); stdout when omitted.")
@click.option("--namespace", "-n", help="Namespace exported as ServerToClientEvents / "
              "ClientToServerEvents (default: the only one).")
def client(target: str | None, lang: str, output: Path | None, namespace: str | None) -> None:
    """Write ServerToClientEvents / ClientToServerEvents for socket.io-client's typed
    Socket<...> from MODULE:CLASS (default as for "nestpy start")."""
    from nestpy.cli import _contracts
    from nestpy.cli._discovery import CLIError, find_project
    from nestpy.contracts.typescript import build_typescript
    from nestpy.exceptions import BootstrapError

    project = find_project(Path.cwd())
    app = _contracts.load_target(target, project)
    try:
        text = build_typescript(app, namespace=namespace)
    except (BootstrapError, TypeError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    _contracts.write_output(text, output)


def main() -> None:
    """Entry point of the ``nestpy`` console script."""
    cli(prog_name="nestpy")


if __name__ == "__main__":
    main()
