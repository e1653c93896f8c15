// Drives nestpy with Node's official socket.io-client; prints one JSON object of results.
// Usage: node node_client.mjs <channels base URL> <app base URL>
import { io } from "socket.io-client";

const [channelsUrl, appUrl] = process.argv.slice(2);
const results = {};

function withTimeout(promise, ms, what) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

const sockets = [];

function open(url, opts = {}) {
  const socket = io(url, { reconnection: false, forceNew: true, timeout: 2000, ...opts });
  sockets.push(socket);
  return socket;
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

function next(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

function collect(socket, event, ms) {
  const got = [];
  const listener = (...args) => got.push(args);
  socket.on(event, listener);
  return new Promise((resolve) =>
    setTimeout(() => {
      socket.off(event, listener);
      resolve(got);
    }, ms),
  );
}

const bytes = (value) => (value instanceof ArrayBuffer ? Array.from(new Uint8Array(value))
  : Buffer.isBuffer(value) ? Array.from(value) : { notBinary: typeof value });

async function step(name, fn) {
  try {
    results[name] = await withTimeout(fn(), 4000, name);
  } catch (err) {
    results[name] = { error: String(err && err.message ? err.message : err) };
  }
}

for (const [label, transports] of [
  ["websocket", ["websocket"]],
  ["polling", ["polling"]],
  ["upgrade", undefined], // Node's default: polling first, then upgrade to websocket
]) {
  await step(`channels_${label}`, async () => {
    const s = await connected(open(`${channelsUrl}/channels`, transports ? { transports } : {}));
    const reply = next(s, "ServerToClient");
    s.emit("ClientToServer", "Hello Server!");
    const [text] = await reply;
    if (label === "upgrade" && s.io.engine.transport.name !== "websocket") {
      await new Promise((resolve) => s.io.engine.once("upgrade", resolve));
    }
    const ack = await new Promise((resolve) =>
      s.emit("ClientToServer", "with an ack", (...args) => resolve(args)));
    return { text, ack, transport: s.io.engine.transport.name };
  });
}

await step("ack", async () => {
  const s = await connected(open(`${appUrl}/interop`));
  const single = await s.emitWithAck("echo", { n: 1, list: [1, "two", null] });
  const several = await new Promise((resolve) => s.emit("several", (...args) => resolve(args)));
  const manyArgs = await s.emitWithAck("echo", 1, 2, 3);
  return { single, several, manyArgs };
});

await step("room", async () => {
  const url = `${appUrl}/interop`;
  const [a, b, c] = await Promise.all([open(url), open(url), open(url)].map(connected));
  await a.emitWithAck("join", "blue");
  await b.emitWithAck("join", "blue");
  const atB = next(b, "room_msg");
  const atA = collect(a, "room_msg", 300);
  const atC = collect(c, "room_msg", 300);
  a.emit("say", { room: "blue", text: "hi blue" });
  const [text] = await atB;
  return { b: text, a: (await atA).length, c: (await atC).length };
});

await step("binary", async () => {
  const s = await connected(open(`${appUrl}/interop`));
  const payload = Buffer.alloc(70000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) % 256;
  const echoed = await s.emitWithAck("binary", payload);
  const nested = await s.emitWithAck("binary", { name: "file.bin", data: Buffer.from([0, 255, 1]) });
  const pushed = next(s, "bytes");
  s.emit("push_bytes", 4);
  const [fromServer] = await pushed;
  const ok = Buffer.compare(Buffer.from(new Uint8Array(echoed)), payload) === 0;
  return {
    length: echoed.byteLength ?? echoed.length,
    intact: ok,
    head: bytes(echoed).slice(0, 8),
    nested: { name: nested.name, data: bytes(nested.data) },
    pushed: bytes(fromServer),
  };
});

await step("refused", async () => {
  const s = open(`${appUrl}/refuse`);
  try {
    await connected(s);
    return { connected: true };
  } catch (err) {
    return { message: err.message, data: err.data ?? null };
  }
});

await step("exception", async () => {
  const s = await connected(open(`${appUrl}/interop`));
  const event = next(s, "exception");
  const acked = await s.emitWithAck("fail", { why: "test" });
  const [payload] = await event;
  return { payload, acked };
});

for (const s of sockets) s.disconnect();
console.log(JSON.stringify(results));
process.exit(0);
