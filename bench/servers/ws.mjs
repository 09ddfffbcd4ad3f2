/**
 * `ws` under test, written the way its README does it: `perMessageDeflate: false`, echo
 * with `ws.send(data, { binary: isBinary })`, and broadcast as the idiomatic loop over
 * `wss.clients` (every client of the broadcast scenario is on `/broadcast`), with one
 * `send` per client (ws encodes the frame again for each).
 *
 * bufferutil: run with WS_NO_BUFFER_UTIL=1 for plain `ws`; without it, ws uses the
 * optional native add-on when it is installed.
 */
import { WebSocket, WebSocketServer } from "ws";
import { MAX_PAYLOAD, runBenchServer } from "./harness.mjs";

const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false, maxPayload: MAX_PAYLOAD });

wss.on("connection", (ws, req) => {
  if (req.url === "/broadcast") {
    ws.on("message", (data, isBinary) => {
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      }
    });
  } else {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});

await runBenchServer(process.env.WS_NO_BUFFER_UTIL ? "ws" : "ws+bufferutil", {
  start: () =>
    new Promise((resolve, reject) => {
      wss.once("error", reject);
      wss.once("listening", () => resolve(wss.address().port));
    }),
  connections: () => wss.clients.size,
});
