"""An app run as a script by the shutdown-hook tests: ``app.listen()`` in its own loop with
``app.enable_shutdown_hooks()`` (called *before* or *after* ``listen``), printing each hook.

``python hooked_app.py before|after|block``: with ``block`` the ``before_application_shutdown``
hook never returns, so only a second signal ends the process.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from nestpy import Module, NestFactory
from nestpy.websockets import WebSocketGateway

MODE = sys.argv[1]
closed = asyncio.Event()


def say(line: str) -> None:
    print(line, flush=True)


@WebSocketGateway(namespace="hooked")
class HookedGateway:
    async def before_application_shutdown(self, signal: Any = None) -> None:
        say(f"before_application_shutdown {signal}")
        if MODE == "block":
            await asyncio.Event().wait()

    def on_application_shutdown(self, signal: Any = None) -> None:
        say(f"on_application_shutdown {signal}")
        closed.set()


@Module(providers=[HookedGateway])
class HookedModule: ...


async def main() -> None:
    app = await NestFactory.create(HookedModule)
    if MODE != "after":
        app.enable_shutdown_hooks()
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    if MODE == "after":
        app.enable_shutdown_hooks()
        app.enable_shutdown_hooks()  # idempotent: one handler per signal
    say("listening")
    await closed.wait()


if __name__ == "__main__":
    asyncio.run(main())
    say("exited")
