// Drives a nestpy plain WebSocket gateway with Node's ws package (the client most Node
// services use); prints one JSON object of results. Usage: node ws_client.mjs <ws URL>
import WebSocket from "ws";

const [url] = process.argv.slice(2);
const results = {};

function open(target, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(target, options);
    const frames = [];
    ws.frames = frames;
    ws.waiters = [];
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? data : data.toString();
      let value = text;
      try { value = JSON.parse(text); } catch { /* not JSON */ }
      frames.push(value);
      for (const w of ws.waiters.splice(0)) w();
    });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function next(ws, match = () => true, ms = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    const look = () => {
      const i = ws.frames.findIndex(match);
      if (i >= 0) {
        clearTimeout(timer);
        resolve(ws.frames.splice(i, 1)[0]);
      } else {
        ws.waiters.push(look);
      }
    };
    look();
  });
}

function closed(ws, ms = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    ws.once("close", (code, reason) => { clearTimeout(timer); resolve([code, reason.toString()]); });
  });
}

const a = await open(url + "/events?name=node");
const b = await open(url + "/events");
a.send(JSON.stringify({ event: "echo", data: { n: 1 } }));
results.echo = await next(a);
a.send(JSON.stringify({ event: "ping", data: "p" }));
results.ping = await next(a);
a.send(JSON.stringify({ event: "whoami", id: "w1" }));
results.whoami = await next(a, (f) => f && f.id === "w1");
a.send("{oops");
results.malformed = await next(a);
a.send(JSON.stringify({ event: "boom", data: 2, id: 5 }));
results.boom = await next(a, (f) => f && f.id === 5);
a.send(JSON.stringify({ event: "count", data: 2 }));
results.count = [await next(a), await next(a), await next(a)];
a.send(JSON.stringify({ event: "join", data: { room: "n" }, id: 1 }));
await next(a, (f) => f && f.id === 1);
b.send(JSON.stringify({ event: "shout", data: { room: "n", text: "to node" } }));
results.shout = await next(a, (f) => f && f.event === "shouted");
try {
  await open(url + "/events", { origin: "http://evil.test" });
  results.origin = "accepted";
} catch (err) {
  results.origin = String(err.message);
}
const big = await open(url + "/events");
const bigClosed = closed(big);
big.send(JSON.stringify({ event: "echo", data: "z".repeat(2_000_000) }));
results.oversized = await bigClosed;
const kicked = await open(url + "/events");
const kickedClosed = closed(kicked);
kicked.send(JSON.stringify({ event: "kick" }));
results.kicked = await kickedClosed;
a.close();
b.close();
console.log(JSON.stringify(results));
process.exit(0);
