"""The example apps behave as their docs say, over real sockets."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from nestpy.testing import Test

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """Import examples/<name>/app.py under a unique module name."""
    mod_name = f"_example_{name}_app"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, EXAMPLES / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


async def test_rooms_example_delivers_only_to_the_room() -> None:
    rooms = load_example("rooms")
    module = await Test.create_testing_module(imports=[rooms.AppModule]).compile()
    async with module.create_nest_application() as app:
        async with (
            app.test_client("/rooms") as alice,
            app.test_client("/rooms") as bob,
            app.test_client("/rooms") as carol,
        ):
            assert await alice.call("join", {"room": "a"}) == {"room": "a", "members": 1}
            assert await bob.call("join", {"room": "a"}) == {"room": "a", "members": 2}
            assert await carol.call("join", {"room": "b"}) == {"room": "b", "members": 1}
            # alice is told bob joined her room; carol (other room) is not
            assert await alice.receive("joined", timeout=2) == {"room": "a", "sid": bob.id}

            await alice.emit("message", {"room": "a", "text": "hi a"})
            expected = {"room": "a", "from": alice.id, "text": "hi a"}
            assert await alice.receive("message", timeout=2) == expected
            assert await bob.receive("message", timeout=2) == expected
            # a round trip through carol's socket proves the message had its chance to arrive
            assert await carol.call("join", {"room": "b"}) == {"room": "b", "members": 1}
            assert carol.received("message") == []

            assert await bob.call("leave", {"room": "a"}) == {"room": "a", "members": 1}
            await alice.emit("message", {"room": "a", "text": "again"})
            assert (await alice.receive("message", timeout=2))["text"] == "again"
            await asyncio.sleep(0.05)
            assert [m["text"] for m in bob.received("message")] == ["hi a"]


async def test_rooms_example_rejects_bad_payloads_and_foreign_rooms() -> None:
    rooms = load_example("rooms")
    module = await Test.create_testing_module(imports=[rooms.AppModule]).compile()
    async with module.create_nest_application() as app:
        async with app.test_client("/rooms") as client, app.test_client("/rooms") as other:
            bad = await client.call("join", {"room": ""})
            assert bad == {
                "status": "error",
                "message": [
                    {"field": "room", "error": "String should have at least 1 character"}
                ],
                "cause": {"pattern": "join", "data": {"room": ""}},
            }
            refused = await client.call("message", {"room": "x", "text": "hi"})
            assert refused["message"] == "join 'x' before messaging it"
            assert await client.receive("exception", timeout=2) == bad
            # the server keeps serving everyone else
            assert await other.call("join", {"room": "x"}) == {"room": "x", "members": 1}


async def test_rooms_example_forgets_members_on_disconnect() -> None:
    rooms = load_example("rooms")
    module = await Test.create_testing_module(imports=[rooms.AppModule]).compile()
    async with module.create_nest_application() as app:
        registry = module.get(rooms.RoomRegistry)
        async with app.test_client("/rooms") as client:
            await client.call("join", {"room": "a"})
            assert registry.members == {"a": {client.id}}
        for _ in range(100):  # the disconnect hook runs when the server sees the close
            if not registry.members:
                break
            await asyncio.sleep(0.01)
        assert registry.members == {}


async def test_channels_example_answers_server_to_client() -> None:
    channels = load_example("channels")
    module = await Test.create_testing_module(providers=[channels.ChannelsGateway]).compile()
    async with module.create_nest_application() as app:
        async with app.test_client("/channels") as client:
            await client.emit("ClientToServer", "hi")
            assert await client.receive("ServerToClient", timeout=2) == "Hello Client!"
