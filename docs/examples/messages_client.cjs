// The JavaScript side of docs/messages.md, with the official socket.io-client.
// Run by tests/e2e/docs/test_docs_messages.py: node messages_client.cjs URL
const { io } = require("socket.io-client");

async function main(url) {
  const socket = io(`${url}/shop`);
  const seen = [];

  // --8<-- [start:ack]
  const order = await socket.emitWithAck("order", { item: "tea", quantity: 2 });
  // { item: "tea", quantity: 4 }
  // --8<-- [end:ack]
  seen.push(order);

  // --8<-- [start:stream]
  const done = new Promise((resolve) => socket.on("exported", resolve));
  socket.on("progress", ({ done, of }) => seen.push(`${done}/${of}`));
  socket.emit("export", { rows: 3 });
  // --8<-- [end:stream]
  seen.push(await done);

  // --8<-- [start:answer]
  socket.on("sure?", (question, reply) => reply("yes")); // the client's answer
  // --8<-- [end:answer]
  seen.push(await socket.emitWithAck("confirm"));

  socket.disconnect();
  console.log(JSON.stringify(seen));
}

main(process.argv[2]);
