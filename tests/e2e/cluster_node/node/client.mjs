// The official socket.io-client, driven by JSON lines on stdin ({id, op, ...}): connect, call,
// drop the transport (a network cut), reconnect (with the pid and offset it kept), report.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
let socket = null;
const received = [];

function once(event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

async function run(cmd) {
  switch (cmd.op) {
    case "connect": {
      socket = io(cmd.url, { transports: ["websocket"], reconnection: false, auth: cmd.auth || {} });
      socket.onAny((event, ...args) => received.push([event, ...args]));
      const outcome = await Promise.race([once("connect").then(() => null), once("connect_error")]);
      if (outcome) throw new Error("connect_error: " + (outcome[0] && outcome[0].message));
      return { id: socket.id, recovered: socket.recovered };
    }
    case "call": return await socket.timeout(5000).emitWithAck(cmd.event, cmd.arg);
    case "drop": {
      const closed = once("disconnect");
      socket.io.engine.close();
      return (await closed)[0];
    }
    case "cut": {
      // a network cut: the TCP connection dies without a close frame or packet
      const closed = once("disconnect");
      socket.io.engine.transport.ws._socket.destroy();
      return (await closed)[0];
    }
    case "leave": { const closed = once("disconnect"); socket.disconnect(); return (await closed)[0]; }
    case "reconnect": {
      const connected = once("connect");
      socket.connect();
      await connected;
      return { id: socket.id, recovered: socket.recovered };
    }
    case "moveTo": {
      // the load balancer sends the reconnection to another node: same pid and offset
      const pid = socket._pid, offset = socket._lastOffset;
      socket.close();
      socket = io(cmd.url, { transports: ["websocket"], reconnection: false, autoConnect: false,
        forceNew: true, auth: cmd.auth || {} });
      socket._pid = pid;
      socket._lastOffset = offset;
      socket.onAny((event, ...args) => received.push([event, ...args]));
      const connected = once("connect");
      socket.connect();
      await connected;
      return { id: socket.id, recovered: socket.recovered };
    }
    case "received": return received;
    default: throw new Error("unknown op " + cmd.op);
  }
}

createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line);
  try {
    out({ id: cmd.id, result: await run(cmd) });
  } catch (e) {
    out({ id: cmd.id, error: String(e && e.message) });
  }
});
process.stdin.on("end", () => { if (socket) socket.close(); process.exit(0); });
out({ event: "ready" });
