"""Contracts from the code: an AsyncAPI 3.0 document and TypeScript event maps.

``nestpy asyncapi`` and ``nestpy client --lang ts`` call these; nothing is served or built.
"""

from nestpy.contracts.asyncapi import build_asyncapi as build_asyncapi

__all__ = ["build_asyncapi"]
