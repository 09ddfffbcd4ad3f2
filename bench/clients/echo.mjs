/**
 * A WebSocket client under test (the client scenarios of bench/run.mjs): a child process,
 * pinned to the load generator's core, that drives an echo server with one client library
 * through its public API, written the way its README does it, and counts what comes back.
 * BENCH_CLIENT picks the library:
 *
 *   wsraw  `connect(url)` from dist/index.js (BENCH_WSRAW_DIST=/path/to/dist: another
 *          build); per connection `for await (const m of ws)`, one `ws.send(message)` per
 *          echo (awaiting `drained()` when it returns false)
 *   ws     `new WebSocket(url, { perMessageDeflate: false })`; per connection
 *          `on("message")`, one `ws.send(message)` per echo (run with WS_NO_BUFFER_UTIL=1
 *          for plain ws)
 *
 * Both send a string for text (encoded to UTF-8 on every send) and the same Buffer for
 * binary (both mask it into a copy). ws hands text messages over as Buffers (it validates
 * the UTF-8 but does not decode it) where wsraw hands over strings: the echo loops use
 * neither, so ws is spared that work.
 *
 * Same requests as the load generator (bench/load/client.mjs), on the same IPC channel:
 *   setup {connections, inFlight, size, binary, port} -> connections open, traffic running
 *   measure {durationMs} -> { count, bytes, seconds, cpuShare, waitShare, errors }
 *   teardown             -> traffic stopped, every connection closed (bounded waits)
 *   check                -> { mismatched }: connections of the last workload whose first
 *                           echo was not the message sent (text as text, bytes equal)
 */
import { pathToFileURL } from "node:url";
import { cpuShare, cpuSnapshot, serveRequests, waitShare } from "../load/rpc.mjs";
import { payloadOf } from "../load/frames.mjs";

const CLIENT = process.env.BENCH_CLIENT;
const OPEN_CONCURRENCY = 50;
const CLOSE_TIMEOUT_MS = 5_000;

/** `mismatched`: connections whose first echo differs from the message sent (type or bytes). */
const stats = { count: 0, bytes: 0, errors: 0, mismatched: 0 };
let workload;

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
function within(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * One echo connection per library: `open(url, message, inFlight, isRunning)` resolves once
 * the connection is open and its first `inFlight` messages are sent, with `{ close() }`,
 * which starts the closing handshake and resolves when the connection is closed.
 */
const LIBRARIES = {
  async wsraw() {
    const entry = process.env.BENCH_WSRAW_DIST
      ? pathToFileURL(`${process.env.BENCH_WSRAW_DIST}/index.js`).href
      : "../../dist/index.js";
    const { connect } = await import(entry);
    return async (url, message, inFlight, isRunning) => {
      const ws = await connect(url);
      for (let i = 0; i < inFlight; i++) ws.send(message);
      let checked = false;
      const loop = (async () => {
        for await (const m of ws) {
          if (!checked) {
            checked = true;
            if (typeof m === "string" ? m !== message : !m.equals(message)) stats.mismatched++;
          }
          stats.count++;
          stats.bytes += m.length;
          if (!isRunning()) continue;
          if (!ws.send(message)) await ws.drained();
        }
      })().catch(() => stats.errors++);
      return {
        async close() {
          ws.close();
          await within(Promise.all([ws.closed, loop]), CLOSE_TIMEOUT_MS);
        },
      };
    };
  },
  async ws() {
    const { WebSocket } = await import("ws");
    return async (url, message, inFlight, isRunning) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const closed = new Promise((resolve) => ws.once("close", resolve));
      await new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      ws.on("error", () => stats.errors++);
      let checked = false;
      ws.on("message", (data, isBinary) => {
        if (!checked) {
          checked = true;
          if (isBinary !== (typeof message !== "string") || !data.equals(Buffer.from(message))) stats.mismatched++;
        }
        stats.count++;
        stats.bytes += data.length;
        if (isRunning()) ws.send(message);
      });
      for (let i = 0; i < inFlight; i++) ws.send(message);
      return {
        async close() {
          ws.close();
          await within(closed, CLOSE_TIMEOUT_MS);
          ws.terminate();
        },
      };
    };
  },
};

const openEcho = await LIBRARIES[CLIENT]();

async function echoWorkload({ port, connections, inFlight, size, binary }) {
  const payload = payloadOf(size);
  const message = binary ? payload : payload.toString("latin1");
  const url = `ws://127.0.0.1:${port}/echo`;
  let running = true;
  const isRunning = () => running;
  const conns = new Array(connections);
  let next = 0;
  const worker = async () => {
    while (next < connections) {
      const i = next++;
      conns[i] = await openEcho(url, message, inFlight, isRunning);
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, connections) }, worker));
  return {
    async teardown() {
      running = false;
      await Promise.all(conns.map((c) => c.close()));
    },
  };
}

serveRequests(
  {
    async setup(args) {
      if (workload !== undefined) throw new Error("a workload is already running");
      for (const key of Object.keys(stats)) stats[key] = 0;
      if (args.workload !== "echo") throw new Error(`the client under test runs only the echo workload, not ${args.workload}`);
      const started = performance.now();
      workload = await echoWorkload(args);
      return { setupMs: performance.now() - started };
    },
    /** Connections of the last workload whose first echo was not the message sent. */
    check() {
      return { mismatched: stats.mismatched };
    },
    async measure({ durationMs }) {
      const before = { ...stats };
      const cpuBefore = cpuSnapshot();
      await new Promise((resolve) => setTimeout(resolve, durationMs));
      const cpuAfter = cpuSnapshot();
      return {
        count: stats.count - before.count,
        bytes: stats.bytes - before.bytes,
        errors: stats.errors - before.errors,
        seconds: (cpuAfter.wallMs - cpuBefore.wallMs) / 1000,
        cpuShare: cpuShare(cpuBefore, cpuAfter),
        waitShare: waitShare(cpuBefore, cpuAfter),
      };
    },
    async teardown() {
      const current = workload;
      workload = undefined;
      await current?.teardown();
      return { errors: stats.errors };
    },
  },
  { name: CLIENT },
);
