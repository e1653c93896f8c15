// Issue 10 with Node's official socket.io-client: models as acks and events, the unknown-
// event ack, and broadcast acknowledgements answered by Node clients (one silent).
// Usage: node hardening_client.mjs <namespace URL>; prints one JSON object of results.
import { io } from "socket.io-client";

const [url] = process.argv.slice(2);
const results = {};
const sockets = [];

function open(opts = {}) {
  const socket = io(url, { reconnection: false, forceNew: true, timeout: 3000,
    transports: ["websocket"], ...opts });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

async function step(name, fn) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${name}`)), 6000);
  });
  try {
    results[name] = await Promise.race([fn(), expired]);
  } catch (err) {
    results[name] = { error: String(err && err.message ? err.message : err) };
  } finally {
    clearTimeout(timer);
  }
}

const a = await open();
const b = await open();
const silent = await open();

a.on("vote", (data, ack) => ack({ from: "a", q: data.q }));
b.on("vote", (data, ack) => ack("b", 2));
silent.on("vote", () => { /* never acknowledges */ });

await step("model", () => a.emitWithAck("model"));
await step("models", () => a.emitWithAck("models"));
await step("pushed", async () => {
  const got = new Promise((resolve) => a.once("pushed", (...args) => resolve(args)));
  a.emit("push");
  return got;
});
await step("unknown", () => a.emitWithAck("nowhere", { x: 1 }));
await step("allAnswer", async () => {
  await a.emitWithAck("join", "voters");
  await b.emitWithAck("join", "voters");
  return a.emitWithAck("poll", "voters");
});
await step("oneSilent", () => a.emitWithAck("poll", null));

for (const s of sockets) s.disconnect();
console.log(JSON.stringify(results));
process.exit(0);
