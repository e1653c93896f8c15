"""docs/examples/logs.py logs what docs/logging.md shows (in a subprocess: the logging
configuration is process-wide)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import asyncio, importlib.util
spec = importlib.util.spec_from_file_location("logs", "docs/examples/logs.py")
ex = importlib.util.module_from_spec(spec); spec.loader.exec_module(ex)
from nestpy import NestFactory

async def main():
    app = await NestFactory.create(ex.AppModule)
    async with app:
        async with app.test_client("/orders") as client:
            assert await client.call("order", {"item": "tea"}) is True
            assert await client.call("order", {"item": "nothing"}) is False

asyncio.run(main())
"""


def run(level: str) -> list[dict[str, object]]:
    env = {**os.environ, "NESTPY_LOG_FORMAT": "json", "NESTPY_LOG_LEVEL": level}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("context") == "OrdersGateway"]


def test_lines_carry_the_context_fields_and_the_socket() -> None:
    lines = run("info")
    assert [(line["level"], line["message"]) for line in lines] == [
        ("info", "order received"), ("info", "order received"), ("warning", "empty order"),
    ]
    first = lines[0]
    assert first["item"] == "tea"
    assert first["namespace"] == "/orders" and first["event"] == "order"
    assert isinstance(first["sid"], str) and first["sid"]
    assert str(first["timestamp"]).endswith("Z")


def test_debug_lines_appear_at_debug_level() -> None:
    messages = [line["message"] for line in run("debug")]
    assert messages == ["order received", "order accepted", "order received", "empty order"]
