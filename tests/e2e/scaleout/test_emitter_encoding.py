"""``Emitter`` sends models, dataclasses and datetimes through nestpy's one wire encoder
(python-socketio's pub/sub protocol): a real client receives plain JSON values."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from pydantic import BaseModel, Field
from scaleout_support import AMQP_URL, REDIS_URL, Cluster, Connect

from nestpy.websockets.emitter import Emitter

pytestmark = pytest.mark.e2e


class Level(enum.Enum):
    HIGH = "high"


class Job(BaseModel):
    job_id: int = Field(alias="jobId")
    at: datetime.datetime
    level: Level


@dataclasses.dataclass
class Point:
    x: int
    when: datetime.date


AT = datetime.datetime(2026, 11, 26, 12, 30, tzinfo=datetime.timezone.utc)
JOB = Job(jobId=7, at=AT, level=Level.HIGH)
JOB_WIRE = {"jobId": 7, "at": "2026-11-26T12:30:00Z", "level": "high"}


@pytest.mark.parametrize("kind", [
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("amqp", marks=pytest.mark.amqp),
])
async def test_emitter_models_reach_clients_as_dicts(
    kind: str, cluster: Cluster, connect: Connect, channel: str
) -> None:
    a, b = await cluster(kind)
    ann = await connect(a, "ann", rooms=("r1",))
    bob = await connect(b, "bob", rooms=("r1",))
    ident = uuid.UUID(int=5)
    async with Emitter(REDIS_URL if kind == "redis" else AMQP_URL, channel) as emitter:
        # one model argument: the same dict Server.emit would send (aliases included)
        await emitter.of("/chat").emit("job", JOB)
        assert await ann.receive("job") == JOB_WIRE
        assert await bob.receive("job") == JOB_WIRE
        # several arguments, and values nested in plain containers
        await emitter.of("/chat").to("r1").emit(
            "batch", Point(1, AT.date()), {"jobs": [JOB], "id": ident, "at": AT}, AT
        )
        expected = (
            {"x": 1, "when": "2026-11-26"},
            {"jobs": [JOB_WIRE], "id": str(ident), "at": AT.isoformat()},
            AT.isoformat(),
        )
        assert await ann.receive("batch") == expected
        assert await bob.receive("batch") == expected


@pytest.mark.redis
async def test_emitter_refuses_what_nothing_encodes_and_sends_nothing(
    cluster: Cluster, connect: Connect, channel: str
) -> None:
    (a,) = await cluster("redis", n=1)
    ann = await connect(a, "ann")
    async with Emitter(REDIS_URL, channel) as emitter:
        with pytest.raises(TypeError, match=r"cannot encode a value of type builtins\.object"):
            await emitter.of("/chat").emit("bad", {"nested": object()})
        await emitter.of("/chat").emit("good", 1)
        assert await ann.receive("good") == 1
        assert await ann.nothing("bad", 0.1)


@pytest.mark.redis
async def test_a_worker_process_emits_models_nested_in_its_data(
    cluster: Cluster, connect: Connect, channel: str
) -> None:
    """In a worker no nestpy server set python-socketio's codec: the Emitter's own applies."""
    (a,) = await cluster("redis", n=1)
    ann = await connect(a, "ann")
    script = textwrap.dedent(f"""
        import asyncio, datetime
        from pydantic import BaseModel
        from nestpy.websockets.emitter import Emitter

        class Job(BaseModel):
            id: int
            at: datetime.datetime

        async def main():
            at = datetime.datetime(2026, 11, 26, 12, 30, tzinfo=datetime.timezone.utc)
            async with Emitter({REDIS_URL!r}, {channel!r}) as emitter:
                await emitter.of("/chat").emit("job", Job(id=1, at=at))
                await emitter.of("/chat").emit("jobs", {{"list": [Job(id=2, at=at)]}}, at)

        asyncio.run(main())
    """)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, env={**os.environ, "NESTPY_LOG_FORMAT": "json"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert await ann.receive("job") == {"id": 1, "at": "2026-11-26T12:30:00Z"}
    assert await ann.receive("jobs") == (
        {"list": [{"id": 2, "at": "2026-11-26T12:30:00Z"}]}, "2026-11-26T12:30:00+00:00"
    )
