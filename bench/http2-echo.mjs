/**
 * What WebSockets over HTTP/2 (RFC 8441) cost beside HTTP/1.1: wsraw's client echoing
 * through wsraw's server (`http2: true`, no TLS: prior knowledge), the server in a child
 * process. Three transports, alternated run by run:
 *   - http/1.1: one TCP connection per WebSocket (ws://);
 *   - h2, own:  one HTTP/2 connection per WebSocket (`connect(url, { http2: true })`);
 *   - h2, shared: every WebSocket a stream of one HTTP/2 connection (`http2: session`).
 * Each run keeps `--in-flight` messages in flight on each of `--conns` connections for
 * `--seconds`, and counts the echoes. Medians of `--runs`, and each ratio to http/1.1.
 *
 *   npm run build && node bench/http2-echo.mjs [--size 64] [--conns 50] [--in-flight 16] [--seconds 3] [--runs 5]
 */
import { fork } from "node:child_process";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { connect, createServer, requireWebSocket } from "../dist/index.js";

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};

if (process.argv[2] === "--server") {
  const server = createServer({ http2: true, maxPayload: 64 * 1024 * 1024 });
  server.route(
    "/echo",
    requireWebSocket(async ({ websocket: ws }) => {
      for await (const message of ws) if (!ws.send(message)) await ws.drained();
    }),
  );
  const { port } = await server.listen(0, "127.0.0.1");
  process.send(port);
} else {
  const size = arg("size", 64);
  const conns = arg("conns", 50);
  const inFlight = arg("in-flight", 16);
  const seconds = arg("seconds", 3);
  const runs = arg("runs", 5);
  const child = fork(fileURLToPath(import.meta.url), ["--server"]);
  const port = await new Promise((resolve) => child.once("message", resolve));
  const url = `ws://127.0.0.1:${port}/echo`;
  const payload = size >= 1024 ? Buffer.alloc(size, 7) : "x".repeat(size);

  const transports = {
    "http/1.1": async () => ({ sockets: await Promise.all(Array.from({ length: conns }, () => connect(url))), done: () => {} }),
    "h2, own": async () => ({ sockets: await Promise.all(Array.from({ length: conns }, () => connect(url, { http2: true }))), done: () => {} }),
    "h2, shared": async () => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      await new Promise((resolve) => session.once("remoteSettings", resolve));
      const sockets = await Promise.all(Array.from({ length: conns }, () => connect(url, { http2: session })));
      return { sockets, done: () => session.close() };
    },
  };

  /** Echoes per second over one transport, for one run. */
  async function run(open) {
    const { sockets, done } = await open();
    let counting = false;
    let echoes = 0;
    const loops = sockets.map(async (ws) => {
      for (let i = 0; i < inFlight; i++) ws.send(payload);
      for await (const message of ws) {
        void message;
        if (counting) echoes++;
        ws.send(payload);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500)); // warm-up
    counting = true;
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    counting = false;
    const rate = echoes / ((performance.now() - start) / 1000);
    for (const ws of sockets) ws.terminate();
    await Promise.allSettled(loops);
    done();
    return rate;
  }

  const results = Object.fromEntries(Object.keys(transports).map((name) => [name, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, open] of Object.entries(transports)) results[name].push(await run(open));
  }
  const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const base = median(results["http/1.1"]);
  console.log(`${size} B ${typeof payload === "string" ? "text" : "binary"}, ${conns} WebSockets × ${inFlight} in flight, ${runs} runs of ${seconds} s (medians)`);
  for (const [name, rates] of Object.entries(results)) {
    const m = median(rates);
    const spread = (Math.max(...rates) - Math.min(...rates)) / m;
    const mbps = size >= 1024 ? `  ${((m * size) / 1e6).toFixed(1)} MB/s` : "";
    console.log(`${name.padEnd(11)} ${Math.round(m).toLocaleString("en").padStart(10)} msg/s${mbps}  spread ${(spread * 100).toFixed(0)}%  ÷ http/1.1 ${(m / base).toFixed(2)}×`);
  }
  child.kill();
}
