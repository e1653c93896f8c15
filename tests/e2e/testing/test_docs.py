"""docs/testing.md runs: its ```python blocks, in order, form one pytest file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "testing.md"

#: The gateway test that `nestpy g gateway` generates and the docs promise, verbatim.
VERBATIM = """from nestpy.testing import Test
async def test_channels_gateway_replies() -> None:
    module = await Test.create_testing_module(providers=[ChannelsGateway]).compile()
    async with module.create_nest_application() as app:
        async with app.test_client("/channels") as client:
            await client.emit("ClientToServer", "hi")
            assert await client.receive("ServerToClient", timeout=2) == "Hello Client!"
"""


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_quick_example_is_in_the_docs_verbatim() -> None:
    assert VERBATIM in _blocks()


def test_docs_examples_pass_through_the_plugin(pytester: pytest.Pytester) -> None:
    blocks = _blocks()
    shutil.copy(ROOT / "examples" / "channels" / "app.py", pytester.path / "app.py")
    header = "from app import AppModule, ChannelsGateway\n\n"
    pytester.makepyfile(test_docs_examples=header + "\n\n".join(blocks))
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    tests = sum(len(re.findall(r"^async def test_", block, re.M)) for block in blocks)
    assert tests >= 7
    result.assert_outcomes(passed=tests)
