"""Logging (docs/logging.md)."""

from __future__ import annotations

from typing import Annotated

from nestpy import Logger, Module
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway


# --8<-- [start:gateway]
@WebSocketGateway(namespace="orders")
class OrdersGateway:
    logger = Logger("OrdersGateway")  # the context: NestJS's new Logger(OrdersGateway.name)

    @SubscribeMessage("order")
    def order(self, item: Annotated[str, MessageBody("item")]) -> bool:
        # Keyword arguments become fields; sid, namespace and event are added for you.
        self.logger.info("order received", item=item)
        if item == "nothing":
            self.logger.warning("empty order")
            return False
        self.logger.debug("order accepted", item=item)  # only with NESTPY_LOG_LEVEL=debug
        return True
# --8<-- [end:gateway]


@Module(providers=[OrdersGateway])
class AppModule: ...
