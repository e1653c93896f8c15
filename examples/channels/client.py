"""Talk to the seed program from Python: ``python examples/channels/client.py [URL]``."""

from __future__ import annotations

import asyncio
import sys

import socketio


async def main(url: str = "http://localhost:3000") -> str:
    """Send ``ClientToServer`` and return the ``ServerToClient`` answer."""
    sio = socketio.AsyncClient()
    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    sio.on("ServerToClient", answer.set_result, namespace="/channels")
    await sio.connect(url, namespaces=["/channels"])
    await sio.emit("ClientToServer", "hi", namespace="/channels")
    try:
        return await asyncio.wait_for(answer, timeout=5)  # "Hello Client!"
    finally:
        await sio.disconnect()


if __name__ == "__main__":
    print(asyncio.run(main(*sys.argv[1:])))
