"""``nestpy client --lang ts``: the generated event maps type-check a correct socket.io-client
program under ``tsc --strict`` and reject a wrong one, line by line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from contract_tools import EXAMPLES, HERE, load_file

from nestpy.contracts.typescript import build_typescript

pytestmark = pytest.mark.interop  # needs Node (skipped locally without it; required in CI)

ROOMS_OK = """
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, Membership, ServerToClientEvents } from "./contract";

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://127.0.0.1:3000/rooms");
socket.on("joined", (event) => { const sid: string = event.sid; console.log(sid); });
socket.on("message", (m) => { const from: string = m.from; console.log(from, m.text); });
socket.on("exception", (e) => { console.log(e.status, e.message); });
socket.emit("join", { room: "a" }, (res) => {
  if ("status" in res) { console.log(res.message); }
  else { const n: number = res.members; console.log(n); }
});
socket.emit("message", { room: "a", text: "hi" });
export async function leave(): Promise<Membership | undefined> {
  const res = await socket.emitWithAck("leave", { room: "a" });
  return "status" in res ? undefined : res;
}
"""

# each line marked `// ERR` is a mistake tsc must report on that very line
ROOMS_BAD = """
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "./contract";

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://127.0.0.1:3000/rooms");
socket.emit("join", { room: 42 }, () => {}); // ERR wrong payload type
socket.emit("message", { room: "a" }); // ERR missing field
socket.emit("no-such-event", {}); // ERR unknown event
socket.on("joined", (event) => { const n: number = event.sid; console.log(n); }); // ERR field type
socket.emit("join", { room: "a" }); // ERR no ack callback for a handler that replies
socket.on("message", (m) => { console.log(m.body); }); // ERR no such property
socket.emit("message", { room: "a", text: "ok" }); // fine
"""

BOARD_OK = """
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "./contract";

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://127.0.0.1:3000/board");
socket.on("confirm", (question, callback) => { callback({ ok: question.text.length > 0 }); });
socket.on("moved", (sid, to) => { const x: number = to.x; console.log(sid, x); });
socket.on("painted", (p) => { const c: "red" | "blue" = p.colour; console.log(c, p.cell.y); });
socket.emit("paint", { x: 1, y: 2, colour: "red" }, (res) => { console.log(res); });
socket.emit("move", { x: 1, y: 2 });
socket.emit("countdown", 3);
socket.emit("manual", "hi", (res) => { if (Array.isArray(res)) { console.log(res[0].length); } });
"""

BOARD_BAD = """
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "./contract";

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://127.0.0.1:3000/board");
socket.emit("paint", { x: 1, y: 2, colour: "green" }, () => {}); // ERR not in the enum
socket.on("confirm", (question, callback) => { callback({ ok: "yes" }); }); // ERR ack type
socket.emit("countdown", "3"); // ERR a number
socket.emit("move", { x: 1 }); // ERR y is required
"""


def _tsc(node_tools: Path, workdir: Path, contract: str, programs: dict[str, str]) -> str:
    """Compile the contract with *programs* in one tsc run; its output."""
    (workdir / "node_modules").symlink_to(node_tools, target_is_directory=True)
    (workdir / "contract.ts").write_text(contract, encoding="utf-8")
    for name, text in programs.items():
        (workdir / name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        [
            "node", str(node_tools / "typescript" / "bin" / "tsc"),
            "--strict", "--noEmit", "--target", "es2022", "--module", "esnext",
            "--moduleResolution", "bundler", "--lib", "es2022,dom",
            "contract.ts", *programs,
        ],
        cwd=workdir, capture_output=True, text=True, timeout=180,
    )
    return done.stdout + done.stderr


def _error_lines(output: str, file: str) -> set[int]:
    pattern = re.escape(file) + r"\((\d+),\d+\): error TS"
    return {int(m.group(1)) for m in re.finditer(pattern, output)}


def _marked(program: str) -> set[int]:
    return {i for i, line in enumerate(program.splitlines(), 1) if "// ERR" in line}


def test_rooms_types_compile_and_catch_a_wrong_client(node_tools: Path, tmp_path: Path) -> None:
    rooms = load_file(EXAMPLES / "rooms" / "app.py", "_contract_example_rooms_app")
    contract = build_typescript(rooms.AppModule)
    out = _tsc(node_tools, tmp_path, contract, {"ok.ts": ROOMS_OK, "bad.ts": ROOMS_BAD})
    assert "contract.ts(" not in out, out  # the generated file itself is clean
    assert _error_lines(out, "ok.ts") == set(), out
    assert _error_lines(out, "bad.ts") == _marked(ROOMS_BAD), out


def test_every_shape_compiles(node_tools: Path, tmp_path: Path) -> None:
    sample = load_file(HERE / "sample_app.py", "_contract_sample_app")
    contract = build_typescript(sample.SampleModule, namespace="board")
    out = _tsc(node_tools, tmp_path, contract, {"ok.ts": BOARD_OK, "bad.ts": BOARD_BAD})
    assert "contract.ts(" not in out, out
    assert _error_lines(out, "ok.ts") == set(), out
    assert _error_lines(out, "bad.ts") == _marked(BOARD_BAD), out


def test_namespace_choice() -> None:
    sample = load_file(HERE / "sample_app.py", "_contract_sample_app")
    several = build_typescript(sample.SampleModule)
    # two Socket.IO namespaces and no choice: only the prefixed maps
    assert "export interface BoardServerToClientEvents" in several
    assert "export type ServerToClientEvents" not in several
    assert "export type ClientToServerEvents = BoardClientToServerEvents;" in build_typescript(
        sample.SampleModule, namespace="/board"
    )
    with pytest.raises(ValueError, match=r"no Socket\.IO gateway serves namespace '/nope'"):
        build_typescript(sample.SampleModule, namespace="nope")


def test_cli_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "src" / "socket-events.ts"
    done = subprocess.run(
        [sys.executable, "-m", "nestpy.cli", "client", "--lang", "ts", "app:AppModule",
         "-o", str(out)],
        cwd=EXAMPLES / "rooms", capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rooms = load_file(EXAMPLES / "rooms" / "app.py", "_contract_example_rooms_app")
    assert out.read_text(encoding="utf-8") == build_typescript(rooms.AppModule)
