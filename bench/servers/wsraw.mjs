/**
 * wsraw under test, through its public API only: `/echo` is the echo app
 * (src/apps/echo.ts), `/broadcast` sends every message to every connection on
 * `/broadcast`, the sender included, encoded once (`server.group(...).broadcast`).
 *
 * BENCH_PERMESSAGE_DEFLATE=1 (the deflate-* scenarios): `perMessageDeflate: true`, wsraw's
 * defaults.
 *
 * BENCH_TLS_KEY/BENCH_TLS_CERT (tls-echo-16k): `tls: { key, cert }`, wss://.
 *
 * BENCH_WSRAW_DIST=/path/to/dist measures another build (a patched copy) instead of
 * ../../dist, to compare a change against the current code in the same conditions.
 */
import { pathToFileURL } from "node:url";
import { MAX_PAYLOAD, PERMESSAGE_DEFLATE, TLS, runBenchServer } from "./harness.mjs";

const entry = process.env.BENCH_WSRAW_DIST
  ? pathToFileURL(`${process.env.BENCH_WSRAW_DIST}/index.js`).href
  : "../../dist/index.js";
const { createServer, requireWebSocket } = await import(entry);

const server = createServer({
  maxPayload: MAX_PAYLOAD,
  ...(PERMESSAGE_DEFLATE ? { perMessageDeflate: true } : {}),
  ...(TLS ? { tls: TLS } : {}),
});

const DEFLATE_OPTIONS = PERMESSAGE_DEFLATE
  ? "perMessageDeflate: true (wsraw defaults: threshold 1024, level 1, memLevel 8, window bits 15, " +
    "server_no_context_takeover and client_no_context_takeover answered always)"
  : "perMessageDeflate: off";

server.route(
  "/echo",
  requireWebSocket(async ({ websocket: ws }) => {
    for await (const message of ws) if (!ws.send(message)) await ws.drained();
  }),
);

server.route(
  "/broadcast",
  requireWebSocket(async ({ websocket: ws }) => {
    const group = server.group("broadcast").add(ws);
    for await (const message of ws) group.broadcast(message);
  }),
);

await runBenchServer("wsraw", {
  start: async () => (await server.listen(0, "127.0.0.1")).port,
  connections: () => server.connections,
  info: { deflate: DEFLATE_OPTIONS },
});
