"""Built-in pipes: ``ValidationPipe`` and the ``Parse*Pipe`` family.

Unlike NestJS, whose built-in pipes throw HTTP exceptions that a gateway turns into
"Internal server error", these raise ``WsException`` so the client learns what was wrong:
``{"status": "error", "message": "Validation failed (numeric string is expected)"}``.
Every pipe takes ``exception_factory`` to raise something else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, get_origin

import pydantic

from nestpy.common.exceptions import WsException
from nestpy.common.interfaces import ArgumentMetadata

__all__ = [
    "DefaultValuePipe",
    "ParseBoolPipe",
    "ParseFloatPipe",
    "ParseIntPipe",
    "ParseUUIDPipe",
    "ValidationPipe",
    "format_validation_errors",
]

ErrorFactory = Callable[[Any], BaseException]

#: What ValidationPipe leaves to the implicit validation (NestJS skips primitives too).
_SKIPPED: frozenset[Any] = frozenset({Any, object, None, str, int, float, bool, bytes})


def _skipped(metatype: Any) -> bool:
    try:
        return metatype in _SKIPPED
    except TypeError:  # an unhashable annotation is never a primitive
        return False

_INT = re.compile(r"-?\d+")
_UUID: dict[str | None, re.Pattern[str]] = {
    None: re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I),
    **{
        v: re.compile(rf"[0-9a-f]{{8}}-[0-9a-f]{{4}}-{v}[0-9a-f]{{3}}-[89ab][0-9a-f]{{3}}-"
                      r"[0-9a-f]{12}", re.I)
        for v in ("3", "4", "5", "7")
    },
}


def format_validation_errors(
    exc: pydantic.ValidationError, prefix: str | None = None
) -> list[dict[str, str]]:
    """One ``{"field", "error"}`` entry per failing field; dotted paths for nested ones
    (``"items.0.qty"``), prefixed with the ``MessageBody`` key if any; ``"body"`` when the
    whole body is wrong."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        parts = [str(p) for p in err.get("loc", ())]
        if prefix:
            parts.insert(0, prefix)
        out.append({"field": ".".join(parts) or "body", "error": str(err.get("msg", ""))})
    return out


class _ParsePipe:
    """Shared options: ``optional`` lets None through; ``exception_factory`` builds the
    error from the message."""

    _expected = ""

    def __init__(
        self, *, optional: bool = False, exception_factory: ErrorFactory | None = None
    ) -> None:
        self.optional = optional
        self.exception_factory = exception_factory

    def _fail(self) -> BaseException:
        message = f"Validation failed ({self._expected} is expected)"
        if self.exception_factory is not None:
            return self.exception_factory(message)
        return WsException(message)


class ParseIntPipe(_ParsePipe):
    """An integer, or a string of digits (``"-12"``), to ``int``.

    Anything else: ``"Validation failed (numeric string is expected)"`` (NestJS's message).

    .. versionadded:: 0.1
    """

    _expected = "numeric string"

    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        """Parse *value* to ``int``."""
        if value is None and self.optional:
            return None
        if type(value) is int:
            return value
        if isinstance(value, str) and _INT.fullmatch(value):
            return int(value)
        raise self._fail()


class ParseFloatPipe(_ParsePipe):
    """A number, or a numeric string (``"1.5"``, ``"1e3"``), to a finite ``float``.

    .. versionadded:: 0.1
    """

    _expected = "numeric string"

    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        """Parse *value* to ``float``."""
        if value is None and self.optional:
            return None
        if isinstance(value, bool):
            raise self._fail()
        if isinstance(value, (int, float, str)):
            try:
                result = float(value)
            except ValueError:
                raise self._fail() from None
            if math.isfinite(result):
                return result
        raise self._fail()


class ParseBoolPipe(_ParsePipe):
    """``True``/``"true"`` → True, ``False``/``"false"`` → False; anything else fails
    with ``"Validation failed (boolean string is expected)"``.

    .. versionadded:: 0.1
    """

    _expected = "boolean string"

    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        """Parse *value* to ``bool``."""
        if value is None and self.optional:
            return None
        if value is True or value == "true":
            return True
        if value is False or value == "false":
            return False
        raise self._fail()


class ParseUUIDPipe(_ParsePipe):
    """Check that *value* is a UUID string (of *version* "3", "4", "5" or "7" if given)
    and return it unchanged (annotate the parameter ``uuid.UUID`` to get an object).

    Failure: ``"Validation failed (uuid is expected)"`` (``"uuid v4"`` with a version).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        version: str | int | None = None,
        optional: bool = False,
        exception_factory: ErrorFactory | None = None,
    ) -> None:
        super().__init__(optional=optional, exception_factory=exception_factory)
        key = str(version) if version is not None else None
        if key not in _UUID:
            raise ValueError(f"ParseUUIDPipe version must be 3, 4, 5 or 7, got {version!r}")
        self.version = key
        self._pattern = _UUID[key]
        self._expected = f"uuid v{key}" if key else "uuid"

    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        """Return *value* if it is a UUID string."""
        if value is None and self.optional:
            return None
        if isinstance(value, str) and self._pattern.fullmatch(value):
            return value
        raise self._fail()


class DefaultValuePipe:
    """Replace a missing value (None, or a float NaN) with *default*.

    Put it before parsing pipes: ``MessageBody("page", DefaultValuePipe(1), ParseIntPipe)``.

    .. versionadded:: 0.1
    """

    def __init__(self, default: Any) -> None:
        self.default = default

    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        """*value*, or the default when it is missing."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.default
        return value


class ValidationPipe:
    """Validate a message-body parameter against its annotation with pydantic v2.

    Works for pydantic models, dataclasses and any type pydantic understands (``list[int]``,
    ``TypedDict``...). nestpy already validates annotated bodies without any pipe; use
    ``ValidationPipe`` globally or per handler for its options. Where it applies, it
    replaces that implicit validation (the body is validated once). Like NestJS's, it
    leaves primitives (``str``, ``int``, ``float``, ``bool``, ``bytes``) and ``Any`` to the
    implicit validation, which runs after every pipe.

    Failures raise ``WsException`` with a list of ``{"field", "error"}`` entries, so the
    caller receives ``{"status": "error", "message": [...], "cause": ...}``.

    Args:
        transform: return the converted value (the model instance). With False the original
            value is returned once it is known to be valid (NestJS's default is False; here
            the default is True because the implicit validation converts too).
        whitelist: with ``transform=False``, return only the model's declared fields.
        forbid_non_whitelisted: reject a body carrying undeclared fields of a model (one
            ``"Extra inputs are not permitted"`` entry per field).
        strict: pydantic strict mode (no ``"1"`` → ``1`` coercion).
        expected_type: validate against this type instead of the annotation.
        exception_factory: build the exception from the error list.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        transform: bool = True,
        whitelist: bool = False,
        forbid_non_whitelisted: bool = False,
        strict: bool | None = None,
        expected_type: Any = None,
        exception_factory: ErrorFactory | None = None,
    ) -> None:
        self.transform_result = transform
        self.whitelist = whitelist
        self.forbid_non_whitelisted = forbid_non_whitelisted
        self.strict = strict
        self.expected_type = expected_type
        self.exception_factory = exception_factory
        self._cache: dict[Any, Callable[[Any, str | None], Any] | None] = {}

    def _validator(self, metatype: Any) -> Callable[[Any, str | None], Any] | None:
        try:
            return self._cache[metatype]
        except KeyError:
            pass
        except TypeError:  # an unhashable annotation: build every time
            return self._build(metatype)
        fn = self._cache[metatype] = self._build(metatype)
        return fn

    def validates(self, metatype: Any) -> bool:
        """Whether this pipe validates a parameter annotated *metatype*.

        Like NestJS's, it leaves primitives (``str``, ``int``, ``float``, ``bool``,
        ``bytes``) and ``Any`` alone; nestpy validates those from the annotation after every
        pipe ran (so ``DefaultValuePipe`` can fill a value first).
        """
        target = self.expected_type if self.expected_type is not None else metatype
        return not _skipped(target)

    def _build(self, metatype: Any) -> Callable[[Any, str | None], Any] | None:
        if _skipped(metatype):
            return None
        strict = self.strict
        fields: frozenset[str] | None = None
        # get_origin: on Python 3.10 ``list[int]`` passes ``isinstance(..., type)`` and then
        # makes ``issubclass`` raise
        if (
            isinstance(metatype, type)
            and get_origin(metatype) is None
            and issubclass(metatype, pydantic.BaseModel)
        ):
            names = set(metatype.model_fields)
            names.update(f.alias for f in metatype.model_fields.values() if f.alias)
            fields = frozenset(names)
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(metatype)
        forbid = self.forbid_non_whitelisted and fields is not None
        transform, whitelist = self.transform_result, self.whitelist
        factory = self.exception_factory

        def run(value: Any, key: str | None) -> Any:
            errors: list[dict[str, str]] = []
            if forbid and isinstance(value, dict):
                assert fields is not None
                prefix = f"{key}." if key else ""
                errors = [
                    {"field": f"{prefix}{name}", "error": "Extra inputs are not permitted"}
                    for name in value
                    if name not in fields
                ]
            try:
                result = adapter.validate_python(value, strict=strict)
            except pydantic.ValidationError as exc:
                errors.extend(format_validation_errors(exc, key))
                result = None
            if errors:
                raise factory(errors) if factory is not None else WsException(errors)
            if transform:
                return result
            return adapter.dump_python(result, by_alias=True) if whitelist else value

        return run

    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        """Validate *value* against the parameter's type; see the class docstring."""
        validator = self._validator(
            self.expected_type if self.expected_type is not None else metadata.metatype
        )
        if validator is None:
            return value
        return validator(value, metadata.data)
