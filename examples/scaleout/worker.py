"""A process with no clients that talks to every node of the scale-out example.

    python examples/scaleout/worker.py --room lobby --text "deploy finished"

It publishes on the nodes' channel with ``Emitter``: the ``said`` event reaches the room's
members whichever node they are connected to.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from nestpy.websockets.emitter import Emitter


async def announce(broker: str, channel: str, room: str, text: str) -> None:
    """Emit ``said`` to *room* of ``/chat`` on every node."""
    async with Emitter(broker, channel) as emitter:
        await emitter.of("/chat").to(room).emit(
            "said", {"room": room, "from": "worker", "text": text}
        )


def main(argv: list[str] | None = None) -> None:
    """Parse ``--room``, ``--text`` and ``--broker``, then announce."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--text", default="hello from the worker")
    parser.add_argument(
        "--broker", default=os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--channel", default="nestpy-example")
    args = parser.parse_args(argv)
    asyncio.run(announce(args.broker, args.channel, args.room, args.text))


if __name__ == "__main__":
    main()
