/**
 * The ceiling: a plain node:net server that writes every byte back (no WebSocket at all,
 * so the masked frames come back as they were sent). Echo scenarios against it show how
 * fast the load generator and the loopback can go; idle connections against it show the
 * memory floor of a bare Node socket.
 */
import { createServer } from "node:net";
import { runBenchServer } from "./harness.mjs";

let open = 0;
const server = createServer({ noDelay: true }, (socket) => {
  open++;
  socket.on("close", () => open--);
  socket.on("error", () => {});
  // No backpressure on purpose (pipe() would pause at 16 KiB and cap large echoes below
  // the WebSocket servers): the load generator's window bounds what is in flight.
  socket.on("data", (chunk) => socket.write(chunk));
  socket.on("end", () => socket.end());
});

await runBenchServer("net", {
  start: () =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve(server.address().port));
    }),
  connections: () => open,
});
