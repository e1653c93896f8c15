"""Every ```python block of docs/di.md runs, in order, in one namespace.

A ```text block right after a python block is the output that block prints.
"""

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).parents[3] / "docs" / "di.md"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.S)


def test_docs_examples_run_and_print_what_they_show() -> None:
    blocks = BLOCK.findall(DOC.read_text())
    assert sum(kind == "python" for kind, _ in blocks) >= 8
    namespace: dict[str, object] = {"__name__": "di_docs"}
    printed = ""
    for kind, code in blocks:
        if kind == "text":
            assert printed.strip() == code.strip()
            continue
        if code.lstrip().startswith("--8<--"):
            continue  # an included docs/examples file: run by tests/e2e/hardening
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(DOC), "exec"), namespace)
        printed = out.getvalue()
