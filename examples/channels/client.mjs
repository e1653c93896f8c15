// Talk to the seed program from Node with the official client:
//   bash examples/setup.sh && node examples/channels/client.mjs [URL]
import { io } from "socket.io-client";

const socket = io(`${process.argv[2] ?? "http://localhost:3000"}/channels`);
socket.on("ServerToClient", (msg) => {
  console.log(msg); // Hello Client!
  socket.disconnect();
});
socket.emit("ClientToServer", "hi");
