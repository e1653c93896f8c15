"""Installation is told truthfully: no page sends readers to PyPI for nestpy-io yet."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "nestpy" / "cli" / "templates" / "project"
#: `pip install nestpy-io`, `pip install "nestpy-io[speed]"`, ... (an install from PyPI)
FROM_PYPI = re.compile(r"pip install (?:-U |--upgrade )?['\"]?nestpy-io\b(?![^\n]*--find-links)")


def pages() -> list[Path]:
    found = [*ROOT.glob("docs/**/*.md"), *ROOT.glob("examples/**/README.md"),
             *TEMPLATES.glob("*.jinja")]
    return [p for p in found if "node_modules" not in p.parts]


def test_no_page_installs_nestpy_io_from_pypi() -> None:
    offenders = {}
    for page in pages():
        for line in page.read_text(encoding="utf-8").splitlines():
            # "once nestpy-io is on PyPI, `pip install nestpy-io` will ..." is allowed
            if FROM_PYPI.search(line) and "will" not in line:
                offenders.setdefault(str(page.relative_to(ROOT)), []).append(line.strip())
    assert offenders == {}


def test_the_installation_page_and_the_project_readme_say_not_on_pypi_yet() -> None:
    for page in (ROOT / "docs" / "installation.md", TEMPLATES / "README.md.jinja"):
        text = " ".join(page.read_text().replace("*", "").split())
        assert "is not on PyPI yet" in text, page
    assert "installation.md" in (ROOT / "mkdocs.yml").read_text()
