"""Put the code of tested files into the Markdown docs, so pages read well on GitHub too.

A page marks where code goes; the script writes the code between the markers::

    <!-- inline: examples/chat/app.py#guard -->
    ```python
    ...written by this script...
    ```
    <!-- /inline -->

``path`` is relative to the repository root; ``#region`` picks the lines between
``--8<-- [start:region]`` and ``--8<-- [end:region]`` comment lines in that file (any comment
syntax); without it the whole file is shown. Marker lines never reach the page.
``<!-- inline: api:nestpy.websockets.Socket -->`` writes a table of a class's public
members instead, from their signatures and docstrings.

    python scripts/inline_docs.py            # rewrite every page under docs/ (and examples/)
    python scripts/inline_docs.py --check    # exit 1 naming the pages that are out of date
    python scripts/inline_docs.py --convert  # turn pymdownx.snippets includes into markers

``tests/unit/test_docs_inline.py`` runs ``--check``'s logic, so CI fails when a tested file
changed and its page was not regenerated.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where pages live: the docs and the examples' READMEs.
PAGES = ("docs/**/*.md", "examples/**/README.md")

_BLOCK = re.compile(
    r"(?P<open><!-- inline: (?P<target>[^ #]+)(?:#(?P<region>[\w-]+))? -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /inline -->)",
    re.S,
)
_MARKER = re.compile(r"--8<-- \[(?P<kind>start|end):(?P<name>[\w-]+)\]")
_INCLUDE = re.compile(
    r'^(?P<fence>```+)(?P<lang>\w*)\n--8<-- "(?P<target>[^":]+)(?::(?P<region>[\w-]+))?"\n'
    r"(?P=fence)\n",
    re.M,
)
_LANGUAGES = {
    ".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript",
    ".html": "html", ".css": "css", ".sh": "bash", ".toml": "toml", ".yml": "yaml",
    ".yaml": "yaml", ".json": "json", ".conf": "nginx", ".service": "ini", ".ini": "ini",
    ".txt": "text",
}


class InlineError(Exception):
    """A marker names a file or region that does not exist."""


def language(path: Path) -> str:
    """The fence language for *path* (``Dockerfile`` and ``Containerfile`` included)."""
    if path.name in ("Dockerfile", "Containerfile"):
        return "dockerfile"
    return _LANGUAGES.get(path.suffix, "text")


def extract(path: Path, region: str | None) -> str:
    """The code of *path* (or of its *region*), without marker lines, dedented."""
    if not path.is_file():
        raise InlineError(f"{path.relative_to(ROOT)} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    if region is not None:
        starts = [i for i, line in enumerate(lines) if _is_marker(line, "start", region)]
        ends = [i for i, line in enumerate(lines) if _is_marker(line, "end", region)]
        if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
            raise InlineError(
                f"{path.relative_to(ROOT)} needs exactly one '--8<-- [start:{region}]' line "
                f"followed by one '--8<-- [end:{region}]' line"
            )
        lines = lines[starts[0] + 1 : ends[0]]
    kept = [line for line in lines if not _MARKER.search(line)]
    return textwrap.dedent("\n".join(kept)).strip("\n") + "\n"


def _is_marker(line: str, kind: str, region: str) -> bool:
    match = _MARKER.search(line)
    return match is not None and match["kind"] == kind and match["name"] == region


def members_table(dotted: str) -> str:
    """A Markdown table of the public members of class *dotted* (``package.Class``), in
    definition order, each with its signature and the first line of its docstring."""
    import importlib
    import inspect

    module_name, _, class_name = dotted.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise InlineError(f"api:{dotted} cannot be imported ({exc})") from None
    rows = ["| member | |", "|---|---|"]
    # Plain attributes are described in the class docstring's "Attributes:" section.
    section = re.search(r"^Attributes:\n((?:    .*\n?)+)", inspect.cleandoc(cls.__doc__ or ""),
                        re.M)
    for attr in re.finditer(r"^    (\w+): (.*(?:\n {8}.*)*)", section[1] if section else "",
                            re.M):
        rows.append(f"| `{attr[1]}` | {' '.join(attr[2].split())} |")
    seen: dict[int, str] = {}
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if id(value) in seen:  # `in_ = to`
            rows.append(f"| `{name}` | the same as `{seen[id(value)]}` |")
            continue
        seen[id(value)] = name
        if isinstance(value, property):
            call, doc = f"`{name}`", value.__doc__
        elif inspect.isfunction(value):
            params = list(inspect.signature(value).parameters.values())[1:]
            shown = ", ".join(
                str(p.replace(annotation=inspect.Parameter.empty)) for p in params
            )
            prefix = "await " if inspect.iscoroutinefunction(value) else ""
            call, doc = f"`{prefix}{name}({shown})`", value.__doc__
        else:
            continue
        summary = inspect.cleandoc(doc or "").split("\n\n")[0].replace("\n", " ")
        summary = summary.replace("|", "\\|")  # a pipe would end the table cell
        rows.append(f"| {call} | {summary} |")
    return "\n".join(rows) + "\n"


def render(page: str) -> str:
    """*page* with every inline block's body regenerated from its file."""

    def block(match: re.Match[str]) -> str:
        if match["target"].startswith("api:"):
            return f"{match['open']}{members_table(match['target'][4:])}{match['close']}"
        target = ROOT / match["target"]
        code = extract(target, match["region"])
        fence = "````" if "```" in code else "```"
        return f"{match['open']}{fence}{language(target)}\n{code}{fence}\n{match['close']}"

    return _BLOCK.sub(block, page)


def convert(page: str) -> str:
    """Turn pymdownx.snippets includes (a fence holding ``--8<-- "path:region"``) into markers."""

    def include(match: re.Match[str]) -> str:
        region = f"#{match['region']}" if match["region"] else ""
        return f"<!-- inline: {match['target']}{region} -->\n<!-- /inline -->\n"

    return _INCLUDE.sub(include, page)


def pages() -> list[Path]:
    """Every page the script maintains."""
    found: set[Path] = set()
    for pattern in PAGES:
        found.update(p for p in ROOT.glob(pattern) if "node_modules" not in p.parts)
    return sorted(found)


def stale() -> list[Path]:
    """Pages whose inlined code differs from the files."""
    return [p for p in pages() if render(p.read_text(encoding="utf-8")) != p.read_text("utf-8")]


def main(argv: list[str] | None = None) -> int:
    """Rewrite, check or convert the pages; the exit status says whether all is well."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report stale pages, change nothing")
    mode.add_argument("--convert", action="store_true", help="snippets includes → markers")
    args = parser.parse_args(argv)
    try:
        if args.check:
            out_of_date = stale()
            for path in out_of_date:
                print(f"{path.relative_to(ROOT)} is out of date: "
                      "run python scripts/inline_docs.py", file=sys.stderr)
            return 1 if out_of_date else 0
        for path in pages():
            text = path.read_text(encoding="utf-8")
            new = render(convert(text) if args.convert else text)
            if new != text:
                path.write_text(new, encoding="utf-8")
                print(f"updated {path.relative_to(ROOT)}")
    except InlineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
