// Plain WebSocket load generator (Node's ws). Prints "MARK start" / "MARK end" around the
// measured window (the harness samples the server's /proc counters there), then one JSON
// line of results.
//   node loadgen.mjs --url ws://127.0.0.1:P/ws --scenario rr|broadcast
//        [--clients 50] [--receivers 500] [--burst 10] [--warmup 1] [--duration 4]
import WebSocket from 'ws';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const url = arg('--url', null);
const scenario = arg('--scenario', 'rr');
const clients = Number(arg('--clients', '50'));
const receivers = Number(arg('--receivers', '500'));
const burst = Number(arg('--burst', '10'));
const warmup = Number(arg('--warmup', '1')) * 1000;
const duration = Number(arg('--duration', '4')) * 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function openMany(n) {
  const out = [];
  for (let i = 0; i < n; i += 50) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, open))));
  }
  return out;
}

let measuring = false;
let stopped = false;
let count = 0;
const latencies = [];

async function rr() {
  const sockets = await openMany(clients);
  const body = JSON.stringify({ event: 'echo', data: { text: 'hello', n: 42, tags: ['a', 'b'] } });
  for (const ws of sockets) {
    let sent = 0;
    const fire = () => { sent = performance.now(); ws.send(body); };
    ws.on('message', () => {
      if (measuring) {
        count++;
        if (latencies.length < 200000) latencies.push(performance.now() - sent);
      }
      if (!stopped) fire();
    });
    fire();
  }
  return sockets;
}

async function broadcast() {
  const sockets = await openMany(receivers);
  for (const ws of sockets) ws.on('message', () => { if (measuring) count++; });
  const sender = await open();
  const body = JSON.stringify({
    event: 'fanout', data: { burst, payload: { price: 101.25, symbol: 'NEST', seq: 1 } },
  });
  let sent = 0;
  const fire = () => { sent = performance.now(); sender.send(body); };
  sender.on('message', (data) => {
    const text = data.toString();
    if (!text.includes('"done"')) return;
    if (measuring && latencies.length < 200000) latencies.push(performance.now() - sent);
    if (!stopped) fire();
  });
  fire();
  return [...sockets, sender];
}

const sockets = scenario === 'rr' ? await rr() : await broadcast();
await sleep(warmup);
measuring = true;
process.stdout.write('MARK start\n');
const t0 = performance.now();
await sleep(duration);
measuring = false;
const elapsed = (performance.now() - t0) / 1000;
process.stdout.write('MARK end\n');
stopped = true;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? +latencies[Math.floor(p * (latencies.length - 1))].toFixed(2) : null);
process.stdout.write(JSON.stringify({
  scenario, count, elapsed, throughput: count / elapsed,
  latency_ms: { p50: pct(0.5), p99: pct(0.99) },
}) + '\n');
for (const ws of sockets) ws.terminate();
process.exit(0);
