"""Exception filters (docs/filters.md)."""

from __future__ import annotations

from typing import Annotated, Any

from nestpy import Injectable, Module
from nestpy.common import ArgumentsHost, BaseWsExceptionFilter, Catch, ExceptionFilter, UseFilters
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway


# --8<-- [start:catch]
class InsufficientFunds(Exception):
    def __init__(self, missing: int) -> None:
        super().__init__(f"missing {missing}")
        self.missing = missing


@Catch(InsufficientFunds)
class InsufficientFundsFilter(ExceptionFilter[InsufficientFunds]):
    """Tells the client how much is missing, on its own event."""

    async def catch(self, exception: InsufficientFunds, host: ArgumentsHost) -> Any:
        ws = host.switch_to_ws()
        payload = {"status": "error", "message": "insufficient funds",
                   "missing": exception.missing}
        await ws.get_client().emit("payment_failed", payload)
        return payload  # also answers the caller's ack
# --8<-- [end:catch]


# --8<-- [start:base]
@Injectable()
class ErrorCounter:
    def __init__(self) -> None:
        self.count = 0


@Catch()  # every exception
@Injectable()
class CountingFilter(BaseWsExceptionFilter):
    """Counts errors, then answers exactly as nestpy's default filter would."""

    def __init__(self, counter: ErrorCounter) -> None:
        super().__init__(include_cause=False)
        self.counter = counter

    async def catch(self, exception: BaseException, host: ArgumentsHost) -> Any:
        self.counter.count += 1
        return await super().catch(exception, host)
# --8<-- [end:base]


# --8<-- [start:gateway]
@UseFilters(CountingFilter)
@WebSocketGateway(namespace="wallet")
class WalletGateway:
    balance = 10

    @UseFilters(InsufficientFundsFilter)
    @SubscribeMessage("pay")
    def pay(self, amount: Annotated[int, MessageBody()]) -> int:
        if amount > self.balance:
            raise InsufficientFunds(amount - self.balance)
        self.balance -= amount
        return self.balance

    @SubscribeMessage("crash")
    def crash(self) -> None:
        raise RuntimeError("boom")  # CountingFilter → "Internal server error"


@Module(providers=[ErrorCounter, WalletGateway])
class WalletModule: ...
# --8<-- [end:gateway]
