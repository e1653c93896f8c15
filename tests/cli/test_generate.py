"""``nestpy generate``/``g``: files, names, registration, dry-run and no-overwrite.

Every test runs the real console script in a project made by ``nestpy new``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]
Tree = Callable[[Path], dict[str, str]]


def _classes(path: Path) -> list[str]:
    return [n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)]


def test_g_gateway_channels(nestpy: Run, project: Path) -> None:
    """The issue's example: files, class, namespace, test, and the provider registered."""
    result = nestpy("g", "gateway", "channels", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "CREATE demo/channels/__init__.py (0 bytes)",
        f"CREATE demo/channels/channels_gateway.py "
        f"({(project / 'demo/channels/channels_gateway.py').stat().st_size} bytes)",
        "CREATE tests/channels/__init__.py (0 bytes)",
        f"CREATE tests/channels/test_channels_gateway.py "
        f"({(project / 'tests/channels/test_channels_gateway.py').stat().st_size} bytes)",
        f"UPDATE demo/app_module.py ({(project / 'demo/app_module.py').stat().st_size} bytes)",
    ]
    gateway = project / "demo" / "channels" / "channels_gateway.py"
    source = gateway.read_text()
    assert _classes(gateway) == ["ChannelsGateway"]
    assert '@WebSocketGateway(namespace="channels")' in source
    for hook in ("def after_init", "def handle_connection", "def handle_disconnect"):
        assert hook in source
    assert source.count("@SubscribeMessage(") == 1
    test = (project / "tests" / "channels" / "test_channels_gateway.py").read_text()
    assert "from demo.channels.channels_gateway import ChannelsGateway" in test
    assert 'app.test_client("/channels")' in test
    module = (project / "demo" / "app_module.py").read_text()
    assert "from demo.channels.channels_gateway import ChannelsGateway" in module
    assert "providers=[EventsGateway, ChannelsGateway]" in module


def test_generate_and_g_and_alias_are_the_same(nestpy: Run, project: Path, tree: Tree) -> None:
    before = tree(project)
    outputs = []
    for argv in (("generate", "gateway"), ("g", "gateway"), ("g", "ga")):
        assert nestpy(*argv, "chat", cwd=project).returncode == 0
        outputs.append(tree(project))
        for path in set(outputs[-1]) - set(before):
            (project / path).unlink()
        (project / "demo/app_module.py").write_text(before["demo/app_module.py"])
        for d in ("demo/chat", "tests/chat"):
            (project / d).rmdir()
    assert outputs[0] == outputs[1] == outputs[2]


@pytest.mark.parametrize("raw", ["chat-room", "ChatRoom", "chat_room", "chatRoom", "CHAT_ROOM"])
def test_names_are_normalised_from_any_case(nestpy: Run, project: Path, raw: str) -> None:
    assert nestpy("g", "ga", raw, cwd=project).returncode == 0
    gateway = project / "demo" / "chat_room" / "chat_room_gateway.py"
    assert _classes(gateway) == ["ChatRoomGateway"]
    assert '@WebSocketGateway(namespace="chat-room")' in gateway.read_text()
    assert (project / "tests" / "chat_room" / "test_chat_room_gateway.py").is_file()


def test_a_trailing_schematic_word_is_not_doubled(nestpy: Run, project: Path) -> None:
    assert nestpy("g", "service", "ChatService", cwd=project).returncode == 0
    assert _classes(project / "demo" / "chat" / "chat_service.py") == ["ChatService"]


# (schematic, alias, class, registered field or None, has a test)
SCHEMATICS = [
    ("gateway", "ga", "ChatGateway", "providers", True),
    ("module", "mo", "ChatModule", "imports", False),
    ("service", "s", "ChatService", "providers", True),
    ("guard", "gu", "ChatGuard", None, True),
    ("pipe", "pi", "ChatPipe", None, True),
    ("interceptor", "itc", "ChatInterceptor", None, True),
    ("filter", "f", "ChatFilter", None, True),
]


@pytest.mark.parametrize(("schematic", "alias", "cls", "field", "has_test"), SCHEMATICS)
def test_every_schematic(
    nestpy: Run,
    project: Path,
    schematic: str,
    alias: str,
    cls: str,
    field: str | None,
    has_test: bool,
) -> None:
    result = nestpy("g", alias, "chat", cwd=project)
    assert result.returncode == 0, result.stderr
    source = project / "demo" / "chat" / f"chat_{schematic}.py"
    assert cls in _classes(source)
    test = project / "tests" / "chat" / f"test_chat_{schematic}.py"
    assert test.is_file() is has_test
    if has_test:
        ast.parse(test.read_text())
        assert f"from demo.chat.chat_{schematic} import {cls}" in test.read_text()
    module = (project / "demo" / "app_module.py").read_text()
    if field is None:
        assert "UPDATE" not in result.stdout
        assert cls not in module
    else:
        assert f"from demo.chat.chat_{schematic} import {cls}" in module
        assert f"{field}=[" in module
        registered = ast.parse(module).body[-1]
        assert isinstance(registered, ast.ClassDef)
        call = registered.decorator_list[0]
        assert isinstance(call, ast.Call)
        values = {kw.arg: ast.unparse(kw.value) for kw in call.keywords}
        assert cls in values[field]


def test_provider_goes_to_the_nearest_module(nestpy: Run, project: Path) -> None:
    assert nestpy("g", "module", "admin", cwd=project).returncode == 0
    app_module = (project / "demo" / "app_module.py").read_text()
    assert "imports=[AdminModule]" in app_module
    result = nestpy("g", "gateway", "audit", "--path", "admin", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "demo/admin/audit/audit_gateway.py").is_file()
    assert (project / "tests/admin/audit/test_audit_gateway.py").is_file()
    assert "UPDATE demo/admin/admin_module.py" in result.stdout
    admin = (project / "demo" / "admin" / "admin_module.py").read_text()
    assert "from demo.admin.audit.audit_gateway import AuditGateway" in admin
    assert "providers=[AuditGateway]" in admin
    assert (project / "demo" / "app_module.py").read_text() == app_module


def test_name_with_directories_and_flat(nestpy: Run, project: Path) -> None:
    assert nestpy("g", "s", "billing/invoice", "--flat", cwd=project).returncode == 0
    assert _classes(project / "demo/billing/invoice_service.py") == ["InvoiceService"]
    assert (project / "demo/billing/__init__.py").is_file()
    assert (project / "tests/billing/test_invoice_service.py").is_file()
    module = (project / "demo" / "app_module.py").read_text()
    assert "from demo.billing.invoice_service import InvoiceService" in module


def test_no_spec_skips_the_test(nestpy: Run, project: Path) -> None:
    result = nestpy("g", "ga", "quiet", "--no-spec", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "demo/quiet/quiet_gateway.py").is_file()
    assert not (project / "tests" / "quiet").exists()


def test_registration_keeps_formatting_and_comments(nestpy: Run, project: Path) -> None:
    module = project / "demo" / "app_module.py"
    original = '''"""Root."""

from nestpy import Module  # the decorator

from demo.events.events_gateway import EventsGateway
from demo.zeta import Zeta


@Module(
    imports=[],  # none yet
    providers=[
        EventsGateway,  # the sample
        Zeta,   # odd spacing kept
    ],
)
class AppModule:  # root
    """Root module."""
'''
    module.write_text(original)
    assert nestpy("g", "s", "chat", cwd=project).returncode == 0
    assert module.read_text() == original.replace(
        "from demo.events.events_gateway import EventsGateway\n",
        "from demo.chat.chat_service import ChatService\n"
        "from demo.events.events_gateway import EventsGateway\n",
    ).replace(
        "        Zeta,   # odd spacing kept\n",
        "        Zeta,   # odd spacing kept\n        ChatService,\n",
    )


def test_registration_is_idempotent(nestpy: Run, project: Path) -> None:
    assert nestpy("g", "ga", "chat", cwd=project).returncode == 0
    module = (project / "demo" / "app_module.py").read_text()
    result = nestpy("g", "ga", "chat", "--force", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "UPDATE" not in result.stdout
    assert "Nothing to do" in result.stdout
    assert (project / "demo" / "app_module.py").read_text() == module
    assert module.count("import ChatGateway") == 1


def test_dry_run_writes_nothing_and_shows_the_diff(nestpy: Run, project: Path, tree: Tree) -> None:
    before = tree(project)
    result = nestpy("g", "ga", "channels", "--dry-run", cwd=project)
    assert result.returncode == 0, result.stderr
    assert tree(project) == before
    lines = result.stdout.splitlines()
    assert lines[0] == "CREATE demo/channels/__init__.py (0 bytes)"
    assert lines[1].startswith("CREATE demo/channels/channels_gateway.py (")
    assert any(line.startswith("UPDATE demo/app_module.py (") for line in lines)
    assert "--- a/demo/app_module.py" in lines
    assert "+from demo.channels.channels_gateway import ChannelsGateway" in lines
    assert "-    providers=[EventsGateway]," in lines
    assert "+    providers=[EventsGateway, ChannelsGateway]," in lines
    assert lines[-1] == "Dry run: nothing was written."


def test_existing_files_are_never_overwritten_without_force(
    nestpy: Run, project: Path, tree: Tree
) -> None:
    assert nestpy("g", "ga", "chat", cwd=project).returncode == 0
    gateway = project / "demo" / "chat" / "chat_gateway.py"
    gateway.write_text("# edited by hand\n")
    before = tree(project)
    result = nestpy("g", "ga", "chat", cwd=project)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: demo/chat/chat_gateway.py already exists; pass --force to overwrite, "
        "or pick another name"
    )
    assert tree(project) == before
    forced = nestpy("g", "ga", "chat", "--force", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert "UPDATE demo/chat/chat_gateway.py" in forced.stdout
    assert "class ChatGateway" in gateway.read_text()


def test_forced_dry_run_diffs_the_overwritten_file(nestpy: Run, project: Path) -> None:
    assert nestpy("g", "pi", "trim", cwd=project).returncode == 0
    pipe = project / "demo" / "trim" / "trim_pipe.py"
    pipe.write_text("# mine\n")
    result = nestpy("g", "pi", "trim", "--force", "--dry-run", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "-# mine" in result.stdout.splitlines()
    assert pipe.read_text() == "# mine\n"


@pytest.mark.e2e
def test_generated_code_is_ruff_clean(nestpy: Run, project: Path) -> None:
    """What the CLI writes passes the linter nestpy itself uses (imports sorted, no unused)."""
    for schematic, alias, *_ in SCHEMATICS:
        assert nestpy("g", alias, f"x-{schematic}", cwd=project).returncode == 0
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ruff")),
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            "E,F,W,I,B,UP",
            "--target-version",
            "py310",
            "--line-length",
            "100",
            ".",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.e2e
def test_generated_code_is_mypy_strict_clean(nestpy: Run, project: Path, tmp_path: Path) -> None:
    """Users who run ``mypy --strict`` get no error from generated code (or its tests)."""
    for _, alias, *_rest in SCHEMATICS:
        assert nestpy("g", alias, "chat", cwd=project).returncode == 0
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "demo",
            "tests",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
