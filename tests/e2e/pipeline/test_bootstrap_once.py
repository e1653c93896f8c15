"""Bootstrap work is done once: each handler's signature is parsed once and each body
validator built once, from module compilation through ``listen()``, however many times the
compiled handler then runs (docs/decisions.md "Structure")."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
import pytest

from nestpy._pipeline import params
from nestpy.common import UseGuards
from nestpy.testing import Test
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway, _explorer

pytestmark = pytest.mark.e2e


class Move(pydantic.BaseModel):
    x: int
    y: int


class Allow:
    def can_activate(self, context: Any) -> bool:
        return True


@WebSocketGateway(namespace="once")
class OnceGateway:
    @SubscribeMessage("move")
    def move(self, move: Annotated[Move, MessageBody()]) -> int:
        return move.x + move.y

    @UseGuards(Allow)
    @SubscribeMessage("pick")
    async def pick(
        self, room: Annotated[str, MessageBody("room")], n: Annotated[int, MessageBody("n")]
    ) -> str:
        return f"{room}:{n}"


async def test_signatures_parsed_and_validators_built_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[str] = []
    built: list[Any] = []
    parse, build = params.parse_handler, params.build_validator

    def counting_parse(gateway: type, fn: Any, *args: Any) -> Any:
        parsed.append(fn.__name__)
        return parse(gateway, fn, *args)

    def counting_build(annotation: Any) -> Any:
        built.append(annotation)
        return build(annotation)

    monkeypatch.setattr(_explorer, "parse_handler", counting_parse)
    monkeypatch.setattr(params, "build_validator", counting_build)

    module = await Test.create_testing_module(providers=[OnceGateway]).compile()
    async with module.create_nest_application() as app:
        async with app.test_client("/once") as client:
            for i in range(5):
                assert await client.call("move", {"x": i, "y": 1}) == i + 1
                assert await client.call("pick", {"room": "r", "n": str(i)}) == f"r:{i}"

    assert sorted(parsed) == ["move", "pick"]
    assert sorted(built, key=repr) == sorted([Move, str, int], key=repr)
