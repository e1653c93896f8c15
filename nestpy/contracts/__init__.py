"""Contracts from the code: an AsyncAPI 3.0 document and TypeScript event maps.

``nestpy asyncapi`` and ``nestpy client --lang ts`` call these; nothing is instantiated or
served. See docs/contracts.md.
"""

from nestpy.contracts.asyncapi import build_asyncapi as build_asyncapi
from nestpy.contracts.typescript import build_typescript as build_typescript

__all__ = ["build_asyncapi", "build_typescript"]
