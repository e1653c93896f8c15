"""nestpy's MessagePack matches notepack.io 3 (what ``@socket.io/redis-adapter`` uses), both
ways, checked against notepack.io itself in Node."""

from __future__ import annotations

import json
import subprocess

import pytest
from cluster_node_support import NODE_DIR, ensure_node_peers

from nestpy.websockets import _node_wire as wire

pytestmark = [pytest.mark.interop]

NODE_ENCODE = """
const notepack = require("notepack.io");
const value = {
  s: "héllo", i: 7, neg: -3, big: 2 ** 40, f: 1.5, t: true, n: null, u: undefined,
  arr: [1, "two", [3]], buf: Buffer.from([0, 255]), ab: new Uint8Array([1, 2, 3]).buffer,
  date: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), nested: { k: { deep: [] } },
};
process.stdout.write(notepack.encode(value).toString("hex"));
"""

NODE_DECODE = """
const notepack = require("notepack.io");
const value = notepack.decode(Buffer.from(process.argv[1], "hex"));
const describe = (v) => Buffer.isBuffer(v) ? { buffer: [...v] } : v;
const out = {};
for (const [k, v] of Object.entries(value)) out[k] = describe(v);
process.stdout.write(JSON.stringify(out));
"""


def node(script: str, *args: str) -> str:
    done = subprocess.run(
        [ensure_node_peers(), "-e", script, *args], cwd=NODE_DIR, capture_output=True,
        text=True, timeout=30, check=True,
    )
    return done.stdout


def test_decodes_what_notepack_encodes() -> None:
    value = wire.decode(bytes.fromhex(node(NODE_ENCODE)))
    assert value == {
        "s": "héllo", "i": 7, "neg": -3, "big": 2**40, "f": 1.5, "t": True, "n": None,
        "arr": [1, "two", [3]], "buf": b"\x00\xff", "ab": b"\x01\x02\x03",
        "date": "2024-01-02T03:04:05.678Z", "nested": {"k": {"deep": []}},
    }  # notepack.io 3 leaves undefined-valued keys out


def test_notepack_decodes_what_nestpy_encodes() -> None:
    payload = {"s": "héllo", "i": 7, "f": 0.25, "n": None, "l": [1, (2, 3)],
               "b": b"\x01\x02", "m": {"x": {"y": False}}}
    decoded = json.loads(node(NODE_DECODE, wire.encode(payload).hex()))
    assert decoded == {"s": "héllo", "i": 7, "f": 0.25, "n": None, "l": [1, [2, 3]],
                       "b": {"buffer": [1, 2]}, "m": {"x": {"y": False}}}


def test_json_or_msgpack_requests() -> None:
    assert wire.decode_request(b'{"type":2,"rooms":["a"]}') == {"type": 2, "rooms": ["a"]}
    assert wire.decode_request(wire.encode({"type": 7})) == {"type": 7}
    with pytest.raises(TypeError, match="cannot send object"):
        wire.encode({"x": object()})
