/**
 * `ws` under test, written the way its README does it: `perMessageDeflate: false` (`true`,
 * its defaults, with BENCH_PERMESSAGE_DEFLATE=1), echo
 * with `ws.send(data, { binary: isBinary })`, and broadcast as the idiomatic loop over
 * `wss.clients` (every client of the broadcast scenario is on `/broadcast`), with one
 * `send` per client (ws encodes the frame again for each).
 *
 * BENCH_TLS_KEY/BENCH_TLS_CERT (tls-echo-16k): over TLS the way ws's README does it, a
 * `node:https` server with the key and certificate, passed to `WebSocketServer({ server })`.
 *
 * bufferutil: run with WS_NO_BUFFER_UTIL=1 for plain `ws`; without it, ws uses the
 * optional native add-on when it is installed.
 */
import { WebSocket, WebSocketServer } from "ws";
import { createServer as createHttpsServer } from "node:https";
import { MAX_PAYLOAD, PERMESSAGE_DEFLATE, TLS, runBenchServer } from "./harness.mjs";

const https = TLS ? createHttpsServer(TLS) : undefined;
const wss = https
  ? new WebSocketServer({ server: https, perMessageDeflate: PERMESSAGE_DEFLATE, maxPayload: MAX_PAYLOAD })
  : new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: PERMESSAGE_DEFLATE, maxPayload: MAX_PAYLOAD });

/**
 * What `perMessageDeflate: true` means in this ws (lib/permessage-deflate.js and
 * lib/websocket-server.js): threshold 1024 B, zlib's default level (Z_DEFAULT_COMPRESSION,
 * i.e. 6) and memLevel 8, window 15, context takeover kept on both sides unless the client
 * asks otherwise, at most 10 zlib calls at once (concurrencyLimit), zlib in the thread pool.
 */
const DEFLATE_OPTIONS = PERMESSAGE_DEFLATE
  ? "perMessageDeflate: true (ws defaults: threshold 1024, level zlib default (6), memLevel 8, window bits 15, " +
    "context takeover on both sides unless the client asks, concurrencyLimit 10)"
  : "perMessageDeflate: false";

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
      if (https) {
        https.once("error", reject);
        https.listen(0, "127.0.0.1", () => resolve(https.address().port));
        return;
      }
      wss.once("error", reject);
      wss.once("listening", () => resolve(wss.address().port));
    }),
  connections: () => wss.clients.size,
  info: { deflate: DEFLATE_OPTIONS },
});
