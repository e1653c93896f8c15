"""Every ```python block of docs/di.md runs, in order, in one namespace.

A ```text block right after a python block is the output that block prints.
"""

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).parents[3] / "docs" / "di.md"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.S)
#: Code inlined from a docs/examples file (scripts/inline_docs.py): run by tests/e2e/hardening.
INLINED = re.compile(r"<!-- inline: .*? -->.*?<!-- /inline -->", re.S)


def test_docs_examples_run_and_print_what_they_show() -> None:
    blocks = BLOCK.findall(INLINED.sub("", DOC.read_text()))
    assert sum(kind == "python" for kind, _ in blocks) >= 8
    namespace: dict[str, object] = {"__name__": "di_docs"}
    printed = ""
    for kind, code in blocks:
        if kind == "text":
            assert printed.strip() == code.strip()
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(DOC), "exec"), namespace)
        printed = out.getvalue()
