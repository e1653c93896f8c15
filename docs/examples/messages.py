"""Messages, acknowledgements and streams (docs/messages.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from pydantic import BaseModel

from nestpy import Module
from nestpy.websockets import (
    Ack,
    ConnectedSocket,
    MessageBody,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
    WsResponse,
)


class Order(BaseModel):
    """An order: validated on the way in, serialised on the way out."""

    item: str
    quantity: int = 1


@WebSocketGateway(namespace="shop")
class ShopGateway:
    # --8<-- [start:ack]
    @SubscribeMessage("order")
    def order(self, body: Annotated[Order, MessageBody()]) -> dict[str, Any]:
        # The body arrives validated; the return value is the acknowledgement.
        return {"item": body.item, "quantity": body.quantity * 2}

    @SubscribeMessage("pair")
    def pair(self) -> tuple[str, int]:
        return ("a", 1)  # a tuple acks with several arguments

    @SubscribeMessage("forget")
    def forget(self) -> None:
        return None  # an empty ack, when the client asked for one
    # --8<-- [end:ack]

    # --8<-- [start:args]
    @SubscribeMessage("sum")
    def sum_(self, numbers: Annotated[list[int], MessageBody()]) -> int:
        # socket.emit("sum", 1, 2, 3): several arguments arrive as one list
        return sum(numbers)

    @SubscribeMessage("pick")
    def pick(self, item: Annotated[str, MessageBody("item")]) -> str:
        return item.upper()  # MessageBody("item") takes one property of the payload
    # --8<-- [end:args]

    # --8<-- [start:response]
    @SubscribeMessage("status")
    def status(self) -> WsResponse[dict[str, str]]:
        return WsResponse("status", {"state": "open"})  # an event to the caller, not an ack
    # --8<-- [end:response]

    # --8<-- [start:stream]
    @SubscribeMessage("export")
    async def export(
        self, rows: Annotated[int, MessageBody("rows")]
    ) -> AsyncIterator[WsResponse[dict[str, int]]]:
        # Each yielded WsResponse is emitted in order (NestJS returns an Observable).
        for done in range(1, rows + 1):
            await asyncio.sleep(0)  # the real work goes here
            yield WsResponse("progress", {"done": done, "of": rows})
        yield WsResponse("exported", {"rows": rows})
    # --8<-- [end:stream]

    # --8<-- [start:manual-ack]
    @SubscribeMessage("slow")
    async def slow(self, ack: Annotated[Callable[..., Any], Ack()]) -> None:
        await ack("accepted")  # acknowledge first...
        await asyncio.sleep(0.01)  # ...then keep working; the client is not kept waiting
    # --8<-- [end:manual-ack]

    # --8<-- [start:emit-with-ack]
    @SubscribeMessage("confirm")
    async def confirm(self, client: Annotated[Socket, ConnectedSocket()]) -> str:
        # Ask the client, and wait for its acknowledgement (TimeoutError after 5 s).
        answer = await client.emit_with_ack("sure?", {"question": "delete everything"},
                                            timeout=5)
        return f"client said {answer}"
    # --8<-- [end:emit-with-ack]


@Module(providers=[ShopGateway])
class AppModule: ...
