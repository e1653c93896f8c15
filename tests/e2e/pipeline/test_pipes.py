"""Pipes and type-driven validation over a real socket."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any

import pytest
from conftest import Harness
from pydantic import BaseModel, Field

from nestpy import Injectable, Module
from nestpy.common import (
    ArgumentMetadata,
    DefaultValuePipe,
    ParseFloatPipe,
    ParseIntPipe,
    UsePipes,
    ValidationPipe,
)
from nestpy.websockets import MessageBody, Socket, SubscribeMessage, WebSocketGateway, WsException

pytestmark = pytest.mark.e2e


class Item(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]{3}$")
    qty: int = Field(gt=0)


class Address(BaseModel):
    city: str = Field(min_length=1)


class Order(BaseModel):
    customer: str
    address: Address
    items: list[Item] = Field(min_length=1)


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Calls:
    def __init__(self) -> None:
        self.received: list[Any] = []


@Injectable()
class Upper:
    """An injectable async pipe."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        await asyncio.sleep(0)
        self.calls.received.append((value, metadata))
        return value.upper() if isinstance(value, str) else value


class Reject:
    """A sync pipe that refuses a value with WsException."""

    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        if value == "BAD":  # it runs after Upper
            raise WsException("bad value")
        return value


@WebSocketGateway(namespace="ns")
class PipesGateway:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    @SubscribeMessage("order")
    def order(self, order: Annotated[Order, MessageBody()]) -> dict[str, Any]:
        self.calls.received.append(order)
        return {"customer": order.customer, "qty": sum(i.qty for i in order.items)}

    @SubscribeMessage("address")
    async def address(self, address: Annotated[Address, MessageBody("address")]) -> str:
        return address.city

    @SubscribeMessage("point")
    def point(self, p: Annotated[Point, MessageBody()]) -> list[float]:
        assert isinstance(p, Point)
        return [p.x, p.y]

    @SubscribeMessage("ints")
    def ints(self, values: Annotated[list[int], MessageBody()]) -> int:
        return sum(values)

    @SubscribeMessage("page")
    def page(
        self,
        page: Annotated[int, MessageBody("page", DefaultValuePipe(1), ParseIntPipe)],
        ratio: Annotated[float, MessageBody("ratio", DefaultValuePipe(0.5), ParseFloatPipe)],
    ) -> list[Any]:
        return [page, ratio]

    @UsePipes(Upper, Reject)
    @SubscribeMessage("shout")
    async def shout(self, text: Annotated[str, MessageBody()]) -> str:
        return text

    @UsePipes(Upper)
    @SubscribeMessage("untyped")
    def untyped(self, client: Socket, data: Any) -> Any:  # the (client, data) form
        return data

    @UsePipes(ValidationPipe(transform=False))
    @SubscribeMessage("raw")
    def raw(self, item: Annotated[Item, MessageBody()]) -> Any:
        return item  # the original dict, known to be valid

    @UsePipes(ValidationPipe(transform=False, whitelist=True))
    @SubscribeMessage("whitelisted")
    def whitelisted(self, item: Annotated[Item, MessageBody()]) -> Any:
        return item

    @UsePipes(ValidationPipe(strict=True))
    @SubscribeMessage("strict")
    def strict(self, item: Annotated[Item, MessageBody()]) -> int:
        return item.qty

    @UsePipes(ValidationPipe(expected_type=Point))
    @SubscribeMessage("expected")
    def expected(self, client: Socket, p: Any) -> list[float]:
        return [p.x, p.y]


@Module(providers=[Calls, PipesGateway])
class PipesModule: ...


async def test_model_body_is_validated_and_converted_without_a_pipe(harness: Harness) -> None:
    app = await harness.start(PipesModule)
    client = await harness.connect(app)
    body = {"customer": "ann", "address": {"city": "Oslo"},
            "items": [{"sku": "ABC", "qty": "2"}, {"sku": "XYZ", "qty": 3}]}
    assert await client.call("order", body) == {"customer": "ann", "qty": 5}
    assert isinstance(app.get(Calls).received[0], Order)


async def test_validation_error_payload_has_the_exact_shape(harness: Harness) -> None:
    app = await harness.start(PipesModule)
    client = await harness.connect(app)
    body = {"address": {"city": ""}, "items": [{"sku": "ABC", "qty": 1}, {"sku": "abc", "qty": 0}]}
    expected = {
        "status": "error",
        "message": [
            {"field": "customer", "error": "Field required"},
            {"field": "address.city", "error": "String should have at least 1 character"},
            {"field": "items.1.sku", "error": "String should match pattern '^[A-Z]{3}$'"},
            {"field": "items.1.qty", "error": "Input should be greater than 0"},
        ],
        "cause": {"pattern": "order", "data": body},
    }
    assert await client.call("order", body) == expected
    assert await client.receive("exception") == expected
    assert app.get(Calls).received == []  # the handler never ran


async def test_validation_of_one_property_prefixes_the_field(harness: Harness) -> None:
    app = await harness.start(PipesModule)
    client = await harness.connect(app)
    assert await client.call("address", {"address": {"city": "Rome"}}) == "Rome"
    assert (await client.call("address", {"address": {}}))["message"] == [
        {"field": "address.city", "error": "Field required"}
    ]
    assert (await client.call("address", "not a dict"))["message"] == [
        {"field": "address", "error": "Input should be a valid dictionary or instance of Address"}
    ]


async def test_dataclass_and_generic_bodies(harness: Harness) -> None:
    app = await harness.start(PipesModule)
    client = await harness.connect(app)
    assert await client.call("point", {"x": 1, "y": "2.5"}) == [1.0, 2.5]
    assert (await client.call("point", {"x": "east"}))["message"] == [
        {"field": "x", "error": "Input should be a valid number, unable to parse string as a "
         "number"},
        {"field": "y", "error": "Field required"},
    ]
    assert await client.call("ints", [1, "2", 3]) == 6
    assert (await client.call("ints", [1, "two"]))["message"] == [
        {"field": "1", "error": "Input should be a valid integer, unable to parse string as an "
         "integer"}
    ]


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ({}, [1, 0.5]),
        ({"page": "7", "ratio": "0.25"}, [7, 0.25]),
        ({"page": 8, "ratio": 2}, [8, 2.0]),
        ({"page": "-3"}, [-3, 0.5]),
        ({"page": "1.5"}, "Validation failed (numeric string is expected)"),
        ({"page": "abc"}, "Validation failed (numeric string is expected)"),
        ({"page": True}, "Validation failed (numeric string is expected)"),
        ({"ratio": "inf"}, "Validation failed (numeric string is expected)"),
        ({"ratio": "x"}, "Validation failed (numeric string is expected)"),
    ],
)
async def test_parse_and_default_pipes(harness: Harness, body: Any, reply: Any) -> None:
    app = await harness.start(PipesModule)
    client = await harness.connect(app)
    result = await client.call("page", body)
    if isinstance(reply, str):
        assert result == {"status": "error", "message": reply,
                          "cause": {"pattern": "page", "data": body}}
        assert (await client.receive("exception"))["message"] == reply
    else:
        assert result == reply


async def test_use_pipes_sync_and_async_with_di(harness: Harness) -> None:
    app = await harness.start(PipesModule)
    client = await harness.connect(app)
    assert await client.call("shout", "hey") == "HEY"
    (value, metadata), = app.get(Calls).received
    assert value == "hey"
    assert metadata == ArgumentMetadata(type="body", metatype=str, data=None)
    assert (await client.call("shout", "bad"))["message"] == "bad value"
    # Pipes first, then the implicit validation of the annotation (str: no int coercion).
    assert (await client.call("shout", 5))["message"] == [
        {"field": "body", "error": "Input should be a valid string"}
    ]


async def test_pipes_run_for_the_no_marker_form(harness: Harness) -> None:
    app = await harness.start(PipesModule)
    client = await harness.connect(app)
    assert await client.call("untyped", "abc") == "ABC"
    assert await client.call("untyped", [1]) == [1]


async def test_validation_pipe_options(harness: Harness) -> None:
    app = await harness.start(PipesModule)
    client = await harness.connect(app)
    body = {"sku": "ABC", "qty": "2", "note": "extra"}
    assert await client.call("raw", body) == body  # validated, returned untouched
    assert await client.call("whitelisted", body) == {"sku": "ABC", "qty": 2}
    assert (await client.call("raw", {"sku": "A"}))["message"] == [
        {"field": "sku", "error": "String should match pattern '^[A-Z]{3}$'"},
        {"field": "qty", "error": "Field required"},
    ]
    assert await client.call("strict", {"sku": "ABC", "qty": 2}) == 2
    assert (await client.call("strict", {"sku": "ABC", "qty": "2"}))["message"] == [
        {"field": "qty", "error": "Input should be a valid integer"}
    ]
    assert await client.call("expected", {"x": 1, "y": 2}) == [1.0, 2.0]


@WebSocketGateway(namespace="ns")
class GlobalValidationGateway:
    @SubscribeMessage("item")
    def item(self, item: Annotated[Item, MessageBody()]) -> Any:
        return item

    @SubscribeMessage("page")
    def page(
        self, page: Annotated[int, MessageBody("page", DefaultValuePipe(1), ParseIntPipe)]
    ) -> int:
        return page


@Module(providers=[GlobalValidationGateway])
class GlobalValidationModule: ...


async def test_global_validation_pipe_leaves_primitives_to_the_parameter_pipes(
    harness: Harness,
) -> None:
    app = await harness.start(
        GlobalValidationModule,
        lambda a: a.use_global_pipes(ValidationPipe(transform=False, forbid_non_whitelisted=True)),
    )
    client = await harness.connect(app)
    # Models: validated by the global pipe (original dict passed on, extras refused).
    assert await client.call("item", {"sku": "ABC", "qty": "1"}) == {"sku": "ABC", "qty": "1"}
    assert (await client.call("item", {"sku": "ABC", "qty": 1, "x": 0}))["message"] == [
        {"field": "x", "error": "Extra inputs are not permitted"}
    ]
    # Primitives: left to DefaultValuePipe / ParseIntPipe and the annotation.
    assert await client.call("page", {}) == 1
    assert await client.call("page", {"page": "4"}) == 4
