"""``nestpy.Logger`` and ``configure_logging``: output formats, levels, the ws context.

Formats are checked in a subprocess each: structlog's configuration is process-global and
a logger caches it on first use, so one process per configuration keeps tests independent.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nestpy.logger import add_ws_context, ws_context

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")

SCRIPT = """
from nestpy import Logger
log = Logger("Ctx")
log.debug("hidden unless debug")
log.info("hello", n=1)
log.warning("careful", what="x")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it broke")
"""


def run(env: dict[str, str], script: str = SCRIPT) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NESTPY_LOG")}
    full.update(env)
    full["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", script], env=full, capture_output=True, text=True, timeout=30,
        check=True,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_lines_when_stderr_is_not_a_tty() -> None:
    lines = json_lines(run({}).stderr)
    assert [x["message"] for x in lines] == ["hello", "careful", "it broke"]
    hello = lines[0]
    assert hello["context"] == "Ctx" and hello["n"] == 1 and hello["level"] == "info"
    assert hello["timestamp"].endswith("Z")
    assert lines[1]["level"] == "warning" and lines[1]["what"] == "x"
    # exception(): level error, with the traceback rendered into the line.
    assert lines[2]["level"] == "error"
    assert "Traceback" in lines[2]["exception"]
    assert "ZeroDivisionError" in lines[2]["exception"]


def test_console_format_by_env_var() -> None:
    out = ANSI.sub("", run({"NESTPY_LOG_FORMAT": "console"}).stderr)
    lines = [line for line in out.splitlines() if line.strip()]
    assert any("hello" in line and "n=1" in line for line in lines)
    assert "ZeroDivisionError" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])


def test_level_by_env_var() -> None:
    debug = json_lines(run({"NESTPY_LOG_LEVEL": "debug"}).stderr)
    assert debug[0]["message"] == "hidden unless debug" and debug[0]["level"] == "debug"
    warning = json_lines(run({"NESTPY_LOG_LEVEL": "WARNING"}).stderr)
    assert [x["message"] for x in warning] == ["careful", "it broke"]


def test_console_on_a_tty_and_json_forced_there() -> None:
    """The default follows stderr: a terminal gets the console renderer."""

    def on_tty(env: dict[str, str]) -> str:
        master, slave = pty.openpty()
        full = {k: v for k, v in os.environ.items() if not k.startswith("NESTPY_LOG")}
        full.update(env, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT], env=full, stderr=slave, stdout=subprocess.DEVNULL
        )
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(master)
        assert proc.wait(timeout=30) == 0
        return b"".join(chunks).decode(errors="replace")

    console = ANSI.sub("", on_tty({}))
    assert "hello" in console
    assert not console.lstrip().startswith("{")
    forced = on_tty({"NESTPY_LOG_FORMAT": "json"})
    first = forced.strip().splitlines()[0]
    assert json.loads(first)["message"] == "hello"


def test_bad_format_and_level_are_clear_errors() -> None:
    script = (
        "from nestpy.logger import configure_logging\n"
        "for kw in ({'fmt': 'xml'}, {'level': 'loud'}):\n"
        "    try:\n"
        "        configure_logging(**kw)\n"
        "    except ValueError as e:\n"
        "        print(e)\n"
    )
    out = run({}, script).stdout.splitlines()
    assert out == [
        "unknown log format 'xml'; use 'json' or 'console'",
        "unknown log level 'loud'; use debug, info, warning or error",
    ]


def test_an_application_that_configured_structlog_keeps_its_configuration() -> None:
    script = (
        "import structlog\n"
        "structlog.configure(processors=[structlog.processors.KeyValueRenderer()],"
        " logger_factory=structlog.PrintLoggerFactory())\n"
        "from nestpy import Logger\n"
        "Logger('Mine').info('own config', a=1)\n"
    )
    out = run({}, script).stdout
    assert "a=1" in out and "event='own config'" in out


def test_add_ws_context_processor() -> None:
    """Inside a handler (the dispatcher sets ws_context) lines carry sid/namespace/event."""
    assert add_ws_context(None, "info", {"message": "m"}) == {"message": "m"}
    token = ws_context.set(("sid1", "/chat", "join"))
    try:
        assert add_ws_context(None, "info", {"message": "m"}) == {
            "message": "m", "sid": "sid1", "namespace": "/chat", "event": "join",
        }
        # A field the caller passed explicitly wins.
        assert add_ws_context(None, "info", {"sid": "mine"})["sid"] == "mine"
    finally:
        ws_context.reset(token)


def test_logger_context_and_nest_aliases() -> None:
    script = (
        "from nestpy import Logger\n"
        "log = Logger('Svc')\n"
        "assert log.context == 'Svc'\n"
        "log.log('via log'); log.warn('via warn'); log.error('via error');"
        " log.fatal('via fatal'); log.verbose('via verbose')\n"
    )
    lines = json_lines(run({"NESTPY_LOG_LEVEL": "debug"}, script).stderr)
    assert [(x["message"], x["level"]) for x in lines] == [
        ("via log", "info"), ("via warn", "warning"), ("via error", "error"),
        ("via fatal", "critical"), ("via verbose", "debug"),
    ]


def test_an_event_field_is_kept_beside_the_message_at_every_level() -> None:
    # structlog's own name for the message is "event"; nestpy's lines keep a caller's
    # event= field (the Socket.IO event name) under "event" and the text under "message".
    script = (
        "from nestpy import Logger\n"
        "log = Logger('Gw')\n"
        "for name in ('debug', 'info', 'warning', 'error', 'fatal'):\n"
        "    getattr(log, name)(name, event='join')\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    log.exception('exception', event='join')\n"
    )
    lines = json_lines(run({"NESTPY_LOG_LEVEL": "debug"}, script).stderr)
    assert [(x["message"], x["event"]) for x in lines] == [
        (name, "join") for name in ("debug", "info", "warning", "error", "fatal", "exception")
    ]
    assert all("_nestpy_event" not in x for x in lines)


def test_library_records_join_the_json_stream_at_their_level() -> None:
    script = (
        "import logging\n"
        "from nestpy.logger import route_library_logs\n"
        "route_library_logs()\n"
        "lib = logging.getLogger('engineio.server')\n"
        "lib.setLevel(logging.DEBUG)\n"
        "lib.debug('a detail')\n"
        "lib.info('a session opened')\n"
        "lib.error('Invalid session s1 (further occurrences of this error will be logged"
        " with level INFO)')\n"
        "lib.warning('%s and %s', 'one argument')  # a broken record\n"
        "lib.info('still logging')\n"
    )
    result = run({"NESTPY_LOG_LEVEL": "debug"}, script)
    lines = json_lines("\n".join(
        line for line in result.stderr.splitlines() if line.startswith("{")
    ))
    assert [(x["message"], x["level"], x["context"]) for x in lines] == [
        ("a detail", "debug", "engineio.server"),
        ("a session opened", "info", "engineio.server"),
        # python-engineio's "log once" errors are bad client requests: warnings
        ("Invalid session s1", "warning", "engineio.server"),
        ("still logging", "info", "engineio.server"),
    ]
    # the broken record went to logging's own error report, not into the library
    assert "--- Logging error ---" in result.stderr
