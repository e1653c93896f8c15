"""``parse_handler`` (``nestpy._pipeline.params``): handler signatures nestpy refuses at
bootstrap, each with the place and the fix (the common mistakes are driven through
``NestFactory.create`` in tests/e2e/hardening/test_hardening_bootstrap.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from nestpy import Inject
from nestpy._pipeline.markers import Ack, MessageBody
from nestpy._pipeline.params import HandlerContextError, ParamKind, parse_handler


class Gateway:
    """Stands for the gateway class the handlers belong to (named in every message)."""


class Opaque:
    """A class pydantic cannot validate a message body as."""


def refusal(fn: Any) -> str:
    with pytest.raises(HandlerContextError) as caught:
        parse_handler(Gateway, fn)
    text = str(caught.value)
    assert text.startswith(f"[gateway=Gateway, handler={fn.__name__}] ")
    return text


def test_varargs_are_not_message_parameters() -> None:
    def handler(self: Any, data: Annotated[int, MessageBody()], *args: Any, **kw: Any) -> None:
        pass

    sig = parse_handler(Gateway, handler)
    assert [(p.name, p.kind) for p in sig.params] == [("data", ParamKind.BODY)]


def test_an_unresolvable_annotation_says_to_import_the_name() -> None:
    def handler(self: Any, data: Annotated[NotImported, MessageBody()]) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    assert refusal(handler).endswith(
        "cannot resolve type hints (name 'NotImported' is not defined); import the names "
        "used in annotations at module level"
    )


def test_an_uncalled_marker_on_an_untyped_parameter_shows_a_placeholder_type() -> None:
    def handler(self: Any, data: Annotated[Any, MessageBody]) -> None:
        pass

    assert "write Annotated[<type>, MessageBody()]" in refusal(handler)


def test_two_markers_on_one_parameter() -> None:
    def handler(self: Any, data: Annotated[int, MessageBody(), Ack()]) -> None:
        pass

    assert "parameter 'data' has several markers" in refusal(handler)


def test_inject_needs_a_token_or_a_class() -> None:
    def handler(self: Any, service: Annotated[Any, Inject()]) -> None:
        pass

    assert "parameter 'service' uses Inject() without a token or a class annotation" in refusal(
        handler
    )


def test_the_marker_less_form_takes_at_most_client_and_data() -> None:
    def handler(self: Any, client: Any, data: Any, extra: Any) -> None:
        pass

    assert "a handler without markers takes at most (client, data)" in refusal(handler)


def test_plain_generators_are_refused() -> None:
    def handler(self: Any, data: Annotated[int, MessageBody()]) -> Iterator[int]:
        yield data

    assert "plain generators are not supported; use an async generator" in refusal(handler)


def test_a_body_type_that_cannot_be_validated_is_refused_at_bootstrap() -> None:
    def handler(self: Any, data: Annotated[Opaque, MessageBody()]) -> None:
        pass

    text = refusal(handler)
    assert f"parameter 'data': cannot validate a message body as {Opaque!r}" in text
    assert "annotate it with a pydantic model, a dataclass, a JSON type" in text
