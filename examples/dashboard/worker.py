"""A worker with no clients of its own, publishing ``job`` events to every dashboard page.

    python examples/dashboard/app.py --redis redis://127.0.0.1:6379/0     # the dashboard
    python examples/dashboard/worker.py --redis redis://127.0.0.1:6379/0  # this worker

It publishes through Redis with ``Emitter`` on the channel the dashboard's
``RedisIoAdapter`` listens to, so the event reaches the pages of every dashboard process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

from nestpy.websockets import Emitter

CHANNEL = "nestpy-dashboard"  # the app's RedisIoAdapter channel


# --8<-- [start:publish]
async def publish(redis: str, channel: str, count: int, every: float) -> None:
    """Emit *count* ``job`` events to ``/dashboard``, one every *every* seconds."""
    async with Emitter(redis, channel) as emitter:
        for n in range(1, count + 1):
            job = {"id": n, "name": random.choice(["resize", "report", "backup"]),
                   "duration_ms": random.randint(20, 900), "at": time.time()}
            await emitter.of("/dashboard").emit("job", job)
            print(f"published job {n}", flush=True)
            if n < count:
                await asyncio.sleep(every)
# --8<-- [end:publish]


def main(argv: list[str] | None = None) -> None:
    """Parse ``--redis``, ``--count`` and ``--every``, then publish."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--channel", default=CHANNEL)
    parser.add_argument("--count", type=int, default=10, help="jobs to publish")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between jobs")
    args = parser.parse_args(argv)
    asyncio.run(publish(args.redis, args.channel, args.count, args.every))


if __name__ == "__main__":
    main()
