// Benchmark peer: plain Node socket.io 4.8 server implementing the /bench contract
// (see docs/performance.md). Prints "READY <port>" once listening on 127.0.0.1.
//
//   node server.js [--port P] [--redis URL]        (port also from $BENCH_PORT; 0 = any)
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main() {
  const port = Number(arg('--port', process.env.BENCH_PORT || '0'));
  const redisUrl = arg('--redis', null);
  const httpServer = http.createServer();
  // Same defaults as the Python peers: no per-message deflate, CORS open.
  const io = new Server(httpServer, { cors: { origin: '*' }, perMessageDeflate: false });

  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: process.env.BENCH_REDIS_KEY || 'bench' }));
  }

  const nsp = io.of('/bench');
  nsp.on('connection', (socket) => {
    socket.on('echo', (data, ack) => {
      if (typeof ack === 'function') ack(data);
    });
    socket.on('join', (data, ack) => {
      socket.join(data.room);
      if (typeof ack === 'function') ack(true);
    });
    socket.on('fanout', (msg, ack) => {
      const target = msg.room ? nsp.to(msg.room) : nsp;
      const t = msg.t;
      const data = msg.payload;
      for (let seq = 0; seq < msg.count; seq++) {
        target.emit('tick', { seq, t, data });
      }
      if (typeof ack === 'function') ack(true);
    });
  });

  httpServer.listen(port, '127.0.0.1', 1024, () => {
    process.stdout.write(`READY ${httpServer.address().port}\n`);
  });
  const stop = () => {
    io.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
