// A Node socket.io 4.8 server on one of the official Redis adapters, driven by the cluster
// tests: commands come as JSON lines on stdin ({id, op, ...}), answers and events go out as
// JSON lines on stdout. Usage: node peer.mjs <redis|streams> <redisUrl> <key> [recovery]
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { createClient } from "redis";
import { createAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";

const [kind, redisUrl, key, recovery] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const NAMESPACES = ["/", "/chat"];

const pub = createClient({ url: redisUrl });
pub.on("error", (e) => out({ event: "redis-error", message: String(e && e.message) }));
await pub.connect();
let adapter;
const sub = pub.duplicate();
if (kind === "redis") {
  sub.on("error", () => {});
  await sub.connect();
  adapter = createAdapter(pub, sub, { key, requestsTimeout: 3000 });
} else {
  adapter = createStreamsAdapter(pub, {
    streamName: key, channelPrefix: key, sessionKeyPrefix: key + ":session:",
    heartbeatInterval: 500, heartbeatTimeout: 2000, blockTimeInMs: 200,
  });
}
const httpServer = createServer();
const opts = { adapter };
if (recovery) opts.connectionStateRecovery = { maxDisconnectionDuration: 60000, skipMiddlewares: true };
const io = new Server(httpServer, opts);

for (const name of NAMESPACES) {
  const nsp = io.of(name);
  nsp.on("connection", (socket) => {
    if (!socket.recovered) socket.data.user = socket.handshake.auth && socket.handshake.auth.user;
    out({ event: "connection", nsp: name, sid: socket.id, recovered: socket.recovered });
    socket.on("join", (room, cb) => { socket.join(room); cb && cb(true); });
    socket.on("relay", (msg, cb) => { socket.to(msg.room).emit("relayed", msg.text); cb && cb(true); });
    socket.on("whoami", (_, cb) => cb({ id: socket.id, recovered: socket.recovered,
      rooms: [...socket.rooms].sort(), data: socket.data }));
  });
  nsp.on("ping-servers", (...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ event: "server-side", nsp: name, args });
    if (cb) cb({ node: "node", got: args });
  });
}

function sel(cmd) {
  let op = io.of(cmd.nsp || "/");
  for (const r of cmd.rooms || []) op = op.to(r);
  for (const r of cmd.except || []) op = op.except(r);
  return op;
}

async function run(cmd) {
  switch (cmd.op) {
    case "emit": sel(cmd).emit(cmd.event, ...(cmd.args || [])); return true;
    case "emitBinary": sel(cmd).emit(cmd.event, Buffer.from(cmd.hex, "hex"), { n: 1 }); return true;
    case "fetch": {
      const sockets = await sel(cmd).fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data }));
    }
    case "join": sel(cmd).socketsJoin(cmd.room); return true;
    case "leave": sel(cmd).socketsLeave(cmd.room); return true;
    case "disconnect": sel(cmd).disconnectSockets(cmd.close || false); return true;
    case "ssemit": io.of(cmd.nsp || "/").serverSideEmit(cmd.event, ...(cmd.args || [])); return true;
    case "ssemitack":
      return await io.of(cmd.nsp || "/").serverSideEmitWithAck(cmd.event, ...(cmd.args || []));
    case "emitack":
      return await sel(cmd).timeout(cmd.timeout || 2000).emitWithAck(cmd.event, ...(cmd.args || []));
    case "count": return await io.of(cmd.nsp || "/").adapter.serverCount();
    case "rooms": return [...(await io.of(cmd.nsp || "/").adapter.allRooms())].sort();
    default: throw new Error("unknown op " + cmd.op);
  }
}

createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line);
  try {
    out({ id: cmd.id, result: await run(cmd) });
  } catch (e) {
    out({ id: cmd.id, error: String(e && e.message), responses: e && e.responses });
  }
});
process.stdin.on("end", () => { io.close(); process.exit(0); });
httpServer.listen(0, "127.0.0.1", () => out({ event: "ready", port: httpServer.address().port }));
