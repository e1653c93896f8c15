"""``Emitter(protocol="socket.io")`` converts models, dataclasses and datetimes to wire
values before packing them with MessagePack: a real client receives plain values."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from cluster_node_support import REDIS_URL
from pydantic import BaseModel, Field

from nestpy.websockets import Emitter

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

AT = datetime.datetime(2026, 11, 26, 12, 30, tzinfo=datetime.timezone.utc)


class Job(BaseModel):
    job_id: int = Field(alias="jobId")
    at: datetime.datetime


@dataclasses.dataclass
class Point:
    x: int
    tags: frozenset[str]


async def test_node_protocol_emitter_sends_models_as_dicts(key, nest_node, client) -> None:
    nest = await nest_node()
    ann = await client(nest.port, "ann", ("r1",))
    async with Emitter(REDIS_URL, key, protocol="socket.io") as emitter:
        await emitter.of("/chat").to("r1").emit("job", Job(jobId=3, at=AT))
        assert await ann.receive("job") == {"jobId": 3, "at": "2026-11-26T12:30:00Z"}
        await emitter.of("/chat").emit(
            "batch", Point(1, frozenset({"a"})), {"jobs": [Job(jobId=4, at=AT)], "at": AT},
            b"\x07",
        )
        assert await ann.receive("batch") == [
            {"x": 1, "tags": ["a"]},
            {"jobs": [{"jobId": 4, "at": "2026-11-26T12:30:00Z"}], "at": AT.isoformat()},
            b"\x07",
        ]
        with pytest.raises(TypeError, match=r"cannot encode a value of type builtins\.object"):
            await emitter.of("/chat").emit("bad", {"nested": object()})
