// Load generator for the nestpy benchmark suite, on the official socket.io-client
// (websocket transport only). Every loop is bounded in count and time; the process exits by
// itself. Talks only to the URLs it is given (the harness passes 127.0.0.1 addresses).
//
//   node loadgen.js --url http://127.0.0.1:PORT --scenario ack|fanout|room|connect|redis [opts]
//
// Prints ONE JSON object on stdout. Progress marks go to stderr as lines "MARK <name>" so the
// harness can sample the server's /proc counters at the edges of the measured window:
//   MARK start / MARK end     the measured window (throughput and CPU are taken over it)
//   MARK baseline             (connect) one socket has come and gone; sample idle RSS now
//   MARK settled              (connect) all N sockets are open and idle; sample RSS now
'use strict';

const { io } = require('socket.io-client');
const { performance } = require('node:perf_hooks');

const DEFAULTS = {
  url: null,
  url2: null, // redis scenario: the receivers' node (the sender stays on --url)
  scenario: 'ack',
  namespace: '/bench',
  clients: 50, // ack: concurrent closed-loop clients
  receivers: 500, // fanout/room/redis: receiving sockets; connect: sockets to open
  roomFraction: 0.1, // room: share of the receivers that join the room
  burst: 10, // fanout: ticks the server broadcasts per request
  window: 2, // fanout: requests in flight at once
  payloadBytes: 32, // padding carried by echo / tick payloads
  warmup: 1.0, // seconds before the measured window
  duration: 5.0, // seconds in the measured window
  connectConcurrency: 100, // sockets connecting at once (storm and setup)
  settle: 1.0, // connect: seconds to wait with every socket open before sampling RSS
  roundTimeout: 10.0, // fanout: seconds before an undelivered round is given up
  deadline: 120.0, // hard cap on the whole run, seconds
};

function parseArgs(argv) {
  const opts = { ...DEFAULTS };
  for (let i = 2; i < argv.length; i++) {
    const key = argv[i];
    if (!key.startsWith('--')) throw new Error(`unexpected argument ${key}`);
    const name = key.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(name in DEFAULTS)) throw new Error(`unknown option ${key}`);
    const value = argv[++i];
    if (value === undefined) throw new Error(`missing value for ${key}`);
    opts[name] = typeof DEFAULTS[name] === 'number' ? Number(value) : value;
  }
  if (!opts.url) throw new Error('--url is required');
  for (const u of [opts.url, opts.url2]) {
    // Loopback only: this tool must never load anything but a server on this machine.
    if (u && !/^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/.test(u)) {
      throw new Error(`refusing non-loopback URL ${u}`);
    }
  }
  return opts;
}

const mark = (name) => process.stderr.write(`MARK ${name}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

function connectOne(base, namespace) {
  return new Promise((resolve, reject) => {
    const socket = io(base.replace(/\/$/, '') + namespace, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: 20000,
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

// Open `n` sockets with at most `concurrency` handshakes in flight.
async function connectMany(base, namespace, n, concurrency) {
  const sockets = [];
  const latencies = [];
  let failures = 0;
  let next = 0;
  async function worker() {
    while (next < n) {
      next++;
      const t0 = now();
      try {
        sockets.push(await connectOne(base, namespace));
        latencies.push(now() - t0);
      } catch (err) {
        failures++;
        if (failures === 1) process.stderr.write(`connect error: ${err.message}\n`);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { sockets, latencies, failures };
}

function closeAll(sockets) {
  for (const s of sockets) s.close();
}

function percentiles(values) {
  if (values.length === 0) return { p50: null, p99: null, max: null };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    p50: round3(at(0.5)),
    p99: round3(at(0.99)),
    max: round3(sorted[sorted.length - 1]),
  };
}

const round3 = (x) => Math.round(x * 1000) / 1000;

// Closed-loop ack round trips: every client keeps exactly one `echo` in flight.
async function scenarioAck(opts) {
  const setup = await connectMany(opts.url, opts.namespace, opts.clients, opts.connectConcurrency);
  if (setup.failures) throw new Error(`${setup.failures} of ${opts.clients} clients failed to connect`);
  const clients = setup.sockets;
  const pad = 'x'.repeat(opts.payloadBytes);
  const latencies = [];
  let measuring = false;
  let stopped = false;
  let windowStart = 0;
  let windowEnd = 0;
  let acks = 0;
  let mismatches = 0;
  let lastProgress = now();

  function loop(socket, id) {
    if (stopped) return;
    const t0 = now();
    socket.emit('echo', { id, t: t0, pad }, (reply) => {
      const t1 = now();
      lastProgress = t1;
      if (!reply || reply.id !== id || reply.pad !== pad) mismatches++;
      if (measuring) {
        acks++;
        latencies.push(t1 - t0);
      }
      loop(socket, id);
    });
  }
  clients.forEach((s, i) => loop(s, i));

  await sleep(opts.warmup * 1000);
  mark('start');
  windowStart = now();
  measuring = true;
  const cpu0 = process.cpuUsage();
  while (now() - windowStart < opts.duration * 1000) {
    await sleep(50);
    if (now() - lastProgress > 10000) throw new Error('no ack for 10 s');
  }
  measuring = false;
  windowEnd = now();
  const cpu = process.cpuUsage(cpu0);
  mark('end');
  stopped = true;
  await sleep(100);
  closeAll(clients);
  const seconds = (windowEnd - windowStart) / 1000;
  return {
    clients: opts.clients,
    ops: acks,
    ops_unit: 'ack',
    window_s: round3(seconds),
    throughput: round3(acks / seconds),
    latency_ms: percentiles(latencies),
    mismatches,
    loadgen_cpu_s: round3((cpu.user + cpu.system) / 1e6),
  };
}

// Fan-out: one sender asks the server to broadcast bursts of `tick`s; receivers time each one
// against the sender's timestamp. A request (round) is done when its ack and every expected
// delivery have arrived; `window` rounds are kept in flight so the server never idles, and
// no more than that, so a slow server is measured rather than buried under a queue.
async function scenarioFanout(opts, mode) {
  const receiverUrl = mode === 'redis' ? opts.url2 || opts.url : opts.url;
  const setup = await connectMany(receiverUrl, opts.namespace, opts.receivers, opts.connectConcurrency);
  if (setup.failures) {
    closeAll(setup.sockets);
    throw new Error(`${setup.failures} of ${opts.receivers} receivers failed to connect`);
  }
  const receivers = setup.sockets;
  const sender = await connectOne(opts.url, opts.namespace);
  let room = null;
  let recipients = receivers.length + 1; // a namespace broadcast reaches the sender too
  if (mode === 'room') {
    room = 'bench-room';
    const size = Math.max(1, Math.round(receivers.length * opts.roomFraction));
    await Promise.all(
      receivers.slice(0, size).map(
        (s) => new Promise((resolve) => s.emit('join', { room }, resolve)),
      ),
    );
    recipients = size; // the sender is not in the room
  }
  if (mode === 'redis') {
    // Let the cross-node subscription settle before the first broadcast.
    await sleep(300);
  }

  const pad = 'y'.repeat(opts.payloadBytes);
  const rounds = new Map(); // round id -> { remaining, acked, started }
  const latencies = [];
  let measuring = false;
  let stopped = false;
  let windowStart = 0;
  let deliveries = 0;
  let deliveriesTotal = 0;
  let unexpected = 0;
  let incomplete = 0;
  let completed = 0;
  let nextRound = 0;
  let inflight = 0;
  let lastProgress = now();

  function finish(id) {
    const r = rounds.get(id);
    if (!r || r.remaining > 0 || !r.acked) return;
    rounds.delete(id);
    completed++;
    inflight--;
    pump();
  }

  function onTick(msg) {
    const t = now();
    lastProgress = t;
    deliveriesTotal++;
    const r = msg && msg.data ? rounds.get(msg.data.r) : undefined;
    if (!r) {
      unexpected++;
      return;
    }
    if (measuring) {
      deliveries++;
      latencies.push(t - msg.t);
    }
    r.remaining--;
    if (r.remaining === 0) finish(msg.data.r);
  }
  for (const s of receivers) s.on('tick', onTick);
  if (mode !== 'room') sender.on('tick', onTick);

  function pump() {
    while (!stopped && inflight < opts.window) {
      const id = nextRound++;
      inflight++;
      rounds.set(id, { remaining: opts.burst * recipients, acked: false, started: now() });
      sender.emit(
        'fanout',
        { count: opts.burst, room, t: now(), payload: { r: id, pad } },
        () => {
          const r = rounds.get(id);
          if (r) {
            r.acked = true;
            finish(id);
          }
        },
      );
    }
  }

  // Give up rounds that never complete (a dropped packet would otherwise stall the loop).
  const reaper = setInterval(() => {
    const t = now();
    for (const [id, r] of rounds) {
      if (t - r.started > opts.roundTimeout * 1000) {
        rounds.delete(id);
        incomplete++;
        inflight--;
      }
    }
    pump();
  }, 250);

  pump();
  await sleep(opts.warmup * 1000);
  mark('start');
  windowStart = now();
  measuring = true;
  const cpu0 = process.cpuUsage();
  while (now() - windowStart < opts.duration * 1000) {
    await sleep(50);
    if (now() - lastProgress > opts.roundTimeout * 1000) {
      throw new Error(`no delivery for ${opts.roundTimeout} s`);
    }
  }
  measuring = false;
  const windowEnd = now();
  const cpu = process.cpuUsage(cpu0);
  mark('end');
  stopped = true;
  clearInterval(reaper);
  // Drain what is in flight (bounded) so the server is idle when we disconnect.
  const drainUntil = now() + 3000;
  while (rounds.size > 0 && now() < drainUntil) await sleep(20);
  closeAll(receivers);
  sender.close();
  const seconds = (windowEnd - windowStart) / 1000;
  return {
    receivers: receivers.length,
    recipients_per_tick: recipients,
    burst: opts.burst,
    window: opts.window,
    ops: deliveries,
    ops_unit: 'delivery',
    window_s: round3(seconds),
    throughput: round3(deliveries / seconds),
    latency_ms: percentiles(latencies),
    rounds_completed: completed,
    rounds_incomplete: incomplete,
    unexpected_ticks: unexpected,
    deliveries_total: deliveriesTotal,
    loadgen_cpu_s: round3((cpu.user + cpu.system) / 1e6),
  };
}

// Connection storm: open N websocket sockets as fast as the server accepts them (bounded
// concurrency so we measure the server, not the kernel's SYN backlog), then hold them idle.
async function scenarioConnect(opts) {
  const warm = await connectOne(opts.url, opts.namespace); // load lazy code paths first
  warm.close();
  await sleep(300);
  mark('baseline');
  await sleep(100);
  mark('start');
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const storm = await connectMany(opts.url, opts.namespace, opts.receivers, opts.connectConcurrency);
  const t1 = now();
  const cpu = process.cpuUsage(cpu0);
  mark('end');
  await sleep(opts.settle * 1000);
  mark('settled');
  await sleep(200);
  closeAll(storm.sockets);
  await sleep(200);
  const seconds = (t1 - t0) / 1000;
  return {
    requested: opts.receivers,
    concurrency: opts.connectConcurrency,
    ops: storm.sockets.length,
    ops_unit: 'connection',
    failures: storm.failures,
    window_s: round3(seconds),
    throughput: round3(storm.sockets.length / seconds),
    latency_ms: percentiles(storm.latencies),
    loadgen_cpu_s: round3((cpu.user + cpu.system) / 1e6),
  };
}

async function main() {
  const opts = parseArgs(process.argv);
  const hardStop = setTimeout(() => {
    process.stderr.write(`deadline of ${opts.deadline} s reached\n`);
    process.exit(3);
  }, opts.deadline * 1000);
  hardStop.unref();
  let result;
  switch (opts.scenario) {
    case 'ack':
      result = await scenarioAck(opts);
      break;
    case 'fanout':
    case 'room':
    case 'redis':
      result = await scenarioFanout(opts, opts.scenario);
      break;
    case 'connect':
      result = await scenarioConnect(opts);
      break;
    default:
      throw new Error(`unknown scenario ${opts.scenario}`);
  }
  process.stdout.write(JSON.stringify({ scenario: opts.scenario, ...result }) + '\n');
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`loadgen error: ${err && err.stack ? err.stack : err}\n`);
  process.exit(2);
});
