"""The code shown in the docs is the code of the tested files (scripts/inline_docs.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_tool() -> ModuleType:
    name = "_inline_docs"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "inline_docs.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_every_inlined_snippet_equals_its_file() -> None:
    tool = load_tool()
    assert tool.pages(), "no pages found"
    stale = [str(p.relative_to(ROOT)) for p in tool.stale()]
    assert stale == [], f"run `python scripts/inline_docs.py` to regenerate {stale}"


def test_no_page_uses_an_include_directive() -> None:
    """GitHub shows include directives verbatim, so pages carry the code itself."""
    tool = load_tool()
    offenders = [
        str(p.relative_to(ROOT)) for p in tool.pages()
        if tool.convert(p.read_text(encoding="utf-8")) != p.read_text(encoding="utf-8")
    ]
    assert offenders == [], "run `python scripts/inline_docs.py --convert`"
    assert "pymdownx.snippets" not in (ROOT / "mkdocs.yml").read_text()


def test_a_stale_snippet_is_detected_and_regenerated() -> None:
    tool = load_tool()
    page = (
        "Text.\n\n<!-- inline: examples/chat/app.py#history -->\n```python\nold code\n```\n"
        "<!-- /inline -->\n"
    )
    fresh = tool.render(page)
    assert fresh != page
    assert "class HistoryService:" in fresh
    assert "--8<--" not in fresh  # region markers never reach the page
    assert fresh.startswith("Text.\n\n<!-- inline: examples/chat/app.py#history -->\n```python\n")
    assert tool.render(fresh) == fresh


def test_a_missing_region_is_an_error() -> None:
    tool = load_tool()
    with pytest.raises(tool.InlineError, match=r"start:nope"):
        tool.render("<!-- inline: examples/chat/app.py#nope -->\n<!-- /inline -->\n")


def test_check_mode_exits_nonzero_on_a_stale_page(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tool = load_tool()
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    page.write_text("<!-- inline: code.py -->\n```python\nx = 2\n```\n<!-- /inline -->\n")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    assert tool.main(["--check"]) == 1
    assert tool.main([]) == 0
    assert "x = 1\n" in page.read_text()
    assert tool.main(["--check"]) == 0
