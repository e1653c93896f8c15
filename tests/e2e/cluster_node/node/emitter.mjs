// The official @socket.io/redis-emitter, driven by JSON lines on stdin ({id, op, ...}).
// Usage: node emitter.mjs <redisUrl> <key>
import { createInterface } from "node:readline";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";

const [redisUrl, key] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const client = createClient({ url: redisUrl });
await client.connect();
const emitter = new Emitter(client, { key });

function sel(cmd) {
  let op = emitter.of(cmd.nsp || "/");
  for (const r of cmd.rooms || []) op = op.to(r);
  for (const r of cmd.except || []) op = op.except(r);
  return op;
}

createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line);
  try {
    switch (cmd.op) {
      case "emit": sel(cmd).emit(cmd.event, ...(cmd.args || [])); break;
      case "emitBinary": sel(cmd).emit(cmd.event, Buffer.from(cmd.hex, "hex")); break;
      case "join": sel(cmd).socketsJoin(cmd.room); break;
      case "leave": sel(cmd).socketsLeave(cmd.room); break;
      case "disconnect": sel(cmd).disconnectSockets(cmd.close || false); break;
      case "ssemit": emitter.of(cmd.nsp || "/").serverSideEmit(cmd.event, ...(cmd.args || [])); break;
      default: throw new Error("unknown op " + cmd.op);
    }
    out({ id: cmd.id, result: true });
  } catch (e) {
    out({ id: cmd.id, error: String(e && e.message) });
  }
});
process.stdin.on("end", async () => { await client.quit(); process.exit(0); });
out({ event: "ready" });
