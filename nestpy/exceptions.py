"""nestpy's exception hierarchy: one root, errors that name the place and the fix."""

from __future__ import annotations

from typing import Any


class NestpyError(Exception):
    """Root of every error nestpy raises itself."""


class BootstrapError(NestpyError):
    """The application cannot be assembled: a wiring, marker or option mistake.

    Raised by ``NestFactory.create`` before any socket is opened.
    """


class UnknownDependencyError(BootstrapError):
    """A provider needs a token that its module cannot see."""

    def __init__(
        self, token: Any, module: Any, *, dependent: Any = None, index: int | None = None
    ) -> None:
        self.token = token
        self.module = module
        self.dependent = dependent
        self.index = index
        super().__init__(str(self))

    def __str__(self) -> str:
        tok = _name(self.token)
        mod = _name(self.module)
        where = ""
        if self.dependent is not None:
            where = f" needed by {_name(self.dependent)}"
            if self.index is not None:
                where += f" (argument #{self.index})"
        return (
            f"Nest can't resolve {tok}{where} in module {mod}. "
            f"Make {tok} available to {mod}: add it to {mod}'s providers, or import a module "
            f"that exports it (mark that module @Global() to share it everywhere)."
        )


class ModuleVisibilityError(BootstrapError):
    """A module exports a token it neither provides nor imports."""


class CircularDependencyError(BootstrapError):
    """Providers or modules depend on each other in a cycle."""


class LateRegistrationError(NestpyError):
    """Something was registered on an application after it was sealed (started)."""


class ScopeError(NestpyError):
    """A scoped provider was resolved where its scope is not active (REQUEST outside a request)."""


class UnknownElementError(NestpyError, LookupError):
    """``app.get(token)`` found no module that provides *token*."""


def _name(obj: Any) -> str:
    if isinstance(obj, type):
        return obj.__qualname__
    if isinstance(obj, str):
        return repr(obj)
    return getattr(obj, "__qualname__", None) or repr(obj)
