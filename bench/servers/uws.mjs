/**
 * uWebSockets.js (C++, its own event loop inside Node's) under test, from the npm package
 * `@trufflesuite/uws-js-unofficial` (an optional dev dependency: bench/run.mjs leaves this
 * server out when it is not installed). Written the way its examples do it: echo with
 * `ws.send(message, isBinary)`, broadcast with `subscribe` and `app.publish` (the sender
 * included, as wsraw's and ws's broadcasts do).
 *
 * Settings chosen so that uWS does what the others do:
 * - `maxBackpressure` as large as `maxPayload`: by default uWS *drops* a message sent
 *   while more than 64 KiB wait for the peer (send returns DROPPED, publish skips the
 *   member), where wsraw and ws queue it; a benchmark that drops work is not comparable.
 * - `idleTimeout: 0`: no idle timer, as in ws; wsraw's heartbeat is also off by default.
 * - BENCH_PERMESSAGE_DEFLATE=1: `SHARED_COMPRESSOR` and `SHARED_DECOMPRESSOR`, uWS's
 *   no-context-takeover setting, the nearest to wsraw's default.
 * - BENCH_TLS_KEY/BENCH_TLS_CERT: `SSLApp` with the same key and certificate files.
 */
import { createRequire } from "node:module";
import { MAX_PAYLOAD, PERMESSAGE_DEFLATE, runBenchServer } from "./harness.mjs";

const uWS = createRequire(import.meta.url)("@trufflesuite/uws-js-unofficial");

const tls = process.env.BENCH_TLS_KEY && process.env.BENCH_TLS_CERT;
const app = tls
  ? uWS.SSLApp({ key_file_name: process.env.BENCH_TLS_KEY, cert_file_name: process.env.BENCH_TLS_CERT })
  : uWS.App();

let open = 0;
const common = {
  maxPayloadLength: MAX_PAYLOAD,
  maxBackpressure: MAX_PAYLOAD,
  idleTimeout: 0,
  compression: PERMESSAGE_DEFLATE ? uWS.SHARED_COMPRESSOR | uWS.SHARED_DECOMPRESSOR : uWS.DISABLED,
  close: () => open--,
};

app.ws("/broadcast", {
  ...common,
  open: (ws) => {
    open++;
    ws.subscribe("broadcast");
  },
  message: (_ws, message, isBinary) => app.publish("broadcast", message, isBinary, true),
});

app.ws("/*", {
  ...common,
  open: () => open++,
  message: (ws, message, isBinary) => ws.send(message, isBinary, true),
});

const DEFLATE_OPTIONS = PERMESSAGE_DEFLATE
  ? "compression: SHARED_COMPRESSOR | SHARED_DECOMPRESSOR (no context takeover on either side)"
  : "compression: DISABLED";

await runBenchServer("uws", {
  start: () =>
    new Promise((resolve, reject) => {
      app.listen("127.0.0.1", 0, (socket) => {
        if (socket === false) reject(new Error("uWebSockets.js could not listen on 127.0.0.1"));
        else resolve(uWS.us_socket_local_port(socket));
      });
    }),
  connections: () => open,
  info: { deflate: DEFLATE_OPTIONS },
});
