"""``nestpy asyncapi`` and ``nestpy client``: load the application's classes and write its
contract. Nothing is instantiated and no port is opened.

The target is looked up as for ``nestpy start`` (argument, ``[tool.nestpy] app``, then
``app_module.py``); here it may also name a ``@WebSocketGateway`` class.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from nestpy.cli._discovery import CLIError, Project, parse_target

__all__ = ["dump_document", "load_target", "write_output"]


def load_target(target: str | None, project: Project) -> Any:
    """Import the root ``@Module`` (or a gateway class) named by *target*.

    Raises:
        CLIError: no target is known, it cannot be imported, or it is neither kind of class.
    """
    from nestpy import _metadata as md
    from nestpy.cli._discovery import load_app

    target = target or project.app
    if not target:
        raise CLIError(
            f"no application found in {project.root}: pass 'module:Class' (your root module "
            "or a gateway class) or set [tool.nestpy] app in pyproject.toml"
        )
    module_name, attr = parse_target(target)
    for path in (str(project.import_root), str(Path.cwd())):
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return load_app(target, project)  # its errors say what is wrong and what to do
    if isinstance(obj, type) and any(md.has_meta(k, md.GATEWAY) for k in obj.__mro__):
        return obj
    return load_app(target, project)


def dump_document(doc: dict[str, Any], fmt: str) -> str:
    """*doc* as ``json`` or ``yaml`` text.

    Raises:
        CLIError: YAML was asked for and PyYAML is not installed.
    """
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    try:
        import yaml
    except ImportError:
        raise CLIError(
            "writing YAML needs PyYAML: pip install 'nestpy-io[contracts]', or write JSON "
            "(-o asyncapi.json or --format json)"
        ) from None

    class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
        # Shared sub-schemas stay written out in full: anchors confuse readers of a contract.
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def text_block(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value else None  # descriptions read as written
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, text_block)

    text: str = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text


def write_output(text: str, output: Path | None) -> None:
    """Write *text* to *output*, or to stdout when it is None."""
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
