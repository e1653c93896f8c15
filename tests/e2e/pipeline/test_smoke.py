from typing import Annotated
import pytest
from nestpy import Module
from nestpy.common import UseGuards, ExecutionContext
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e

class No:
    def can_activate(self, ctx: ExecutionContext) -> bool:
        return ctx.get_data() != "no"

@WebSocketGateway(namespace="ns")
class G:
    @UseGuards(No)
    @SubscribeMessage("echo")
    def echo(self, data: Annotated[str, MessageBody()]) -> str:
        return data

@Module(providers=[G])
class M: ...

async def test_smoke(harness):
    app = await harness.start(M)
    c = await harness.connect(app)
    assert await c.call("echo", "hi") == "hi"
    r = await c.call("echo", "no")
    assert r == {"status": "error", "message": "Forbidden resource", "cause": {"pattern": "echo", "data": "no"}}
    assert (await c.receive("exception"))["message"] == "Forbidden resource"
