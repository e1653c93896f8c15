"""Read what a constructor needs, once, when the container is built.

Lookup order for one ``__init__`` parameter (written here, next to the lookup):
1. ``Annotated[T, Inject(token)]`` -> *token*;
2. ``Annotated[T, ...]`` without ``Inject`` -> ``T`` when it is a class;
3. a class annotation ``T`` (or ``T | None``) -> ``T``;
4. otherwise, a parameter with a default keeps its default; anything else is an error.
A parameter with a default is optional: the default is used when the token is not visible.
"""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Final, Union

from nestpy.exceptions import BootstrapError

from .decorators import Inject

__all__ = ["NO_DEFAULT", "Dependency", "constructor_dependencies", "factory_dependencies"]


class _NoDefault:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no default>"


NO_DEFAULT: Final[Any] = _NoDefault()


@dataclass(frozen=True, slots=True)
class Dependency:
    """One argument a constructor or factory needs.

    ``name`` is ``None`` for a factory's positional ``inject`` entries; ``token`` is
    ``NO_DEFAULT`` when the parameter is only filled by its default.
    """

    index: int
    name: str | None
    token: Any
    positional: bool
    default: Any = NO_DEFAULT

    @property
    def optional(self) -> bool:
        """Whether a default exists for when the token is not visible."""
        return self.default is not NO_DEFAULT


def factory_dependencies(tokens: tuple[Any, ...]) -> tuple[Dependency, ...]:
    """A factory's ``inject=[...]`` tokens, passed positionally in order."""
    return tuple(Dependency(i, None, tok, True) for i, tok in enumerate(tokens))


def constructor_dependencies(cls: type, where: str) -> tuple[Dependency, ...]:
    """Parse ``cls.__init__`` into dependencies.

    Args:
        cls: the class to build.
        where: the place for error messages, such as ``"module AppModule, provider Svc"``.

    Raises:
        BootstrapError: a parameter cannot be injected (no annotation, a forward reference that
            does not resolve, ``*args``/``**kwargs``); the message names the class, the
            parameter and the fix.
    """
    init: Any = cls.__init__  # type: ignore[misc]  # read, never called on an instance
    if getattr(init, "__name__", "") == "_no_init_or_replace_init":
        # A class subclassing a typing.Protocol (``class AuthGuard(CanActivate)``) inherits
        # the Protocol's placeholder __init__; the real one is the next in the MRO.
        init = next(
            (k.__dict__["__init__"] for k in cls.__mro__
             if getattr(k.__dict__.get("__init__"), "__name__", "_no_init_or_replace_init")
             != "_no_init_or_replace_init"),
            object.__init__,
        )
    if not inspect.isfunction(inspect.unwrap(init)):
        return ()  # object.__init__ or a C-level __init__ (dict, Exception...): nothing to inject
    signature = inspect.signature(init)
    params = list(signature.parameters.values())[1:]  # drop self
    deps: list[Dependency] = []
    for index, param in enumerate(params):
        place = f"[{where}] parameter {param.name!r} of {cls.__qualname__}.__init__"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise BootstrapError(
                f"{place} is {star}{param.name}, which cannot be injected. Declare each "
                f"dependency as its own annotated parameter (svc: Service, or "
                f"cfg: Annotated[dict, Inject('CONFIG')])."
            )
        default = NO_DEFAULT if param.default is param.empty else param.default
        positional = param.kind is param.POSITIONAL_ONLY
        if param.annotation is param.empty:
            if default is not NO_DEFAULT:
                continue  # nothing to inject; Python fills the default
            raise BootstrapError(
                f"{place} has no type annotation, so nestpy cannot tell what to inject. "
                f"Annotate it with a provider class ({param.name}: MyService) or a token "
                f"({param.name}: Annotated[T, Inject('TOKEN')])."
            )
        hint = _evaluate(init, param, place)
        token = _token_of(hint)
        if token is NO_DEFAULT:
            if default is not NO_DEFAULT:
                continue
            raise BootstrapError(
                f"{place} is annotated {hint!r}, which is not a class nestpy can inject. "
                f"Annotate it with a provider class, or name the token explicitly: "
                f"{param.name}: Annotated[{_short(hint)}, Inject(<token>)]."
            )
        deps.append(Dependency(index, param.name, token, positional, default))
    return tuple(deps)


def _evaluate(init: Any, param: inspect.Parameter, place: str) -> Any:
    """Resolve one parameter's annotation (string annotations included), extras kept."""
    # One parameter at a time, so that the error names the parameter that failed.
    shim = types.SimpleNamespace(
        __annotations__={param.name: param.annotation},
        __globals__=getattr(inspect.unwrap(init), "__globals__", {}),
    )
    try:
        hints = typing.get_type_hints(shim, include_extras=True)
    except Exception as exc:  # NameError for unknown names, others for malformed strings
        raise BootstrapError(
            f"{place} has the annotation {param.annotation!r}, which cannot be resolved "
            f"({exc}). Define (or import) that class at module level of "
            f"{getattr(init, '__module__', '?')} before the container is built, instead of "
            f"inside a function or under `if TYPE_CHECKING:`."
        ) from exc
    return hints[param.name]


def _token_of(hint: Any) -> Any:
    if typing.get_origin(hint) is Annotated:
        for extra in hint.__metadata__:
            if isinstance(extra, Inject) and extra.token is not None:
                return extra.token
        hint = hint.__origin__
    if isinstance(hint, type) and not _is_generic_alias(hint):
        return hint
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) == 1 and isinstance(members[0], type):
            return members[0]  # Optional[T] / T | None asks for T
    return NO_DEFAULT


def _is_generic_alias(hint: Any) -> bool:
    return isinstance(hint, types.GenericAlias)


def _short(hint: Any) -> str:
    return getattr(hint, "__qualname__", None) or repr(hint)
