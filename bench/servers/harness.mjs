/**
 * What every server under test shares: it listens on an ephemeral port of 127.0.0.1, then
 * answers the orchestrator's requests over IPC:
 *   cpu   -> { cpuMs, wallMs }            (process.cpuUsage() user+sys, performance.now())
 *   stats -> { connections }              (open connections as the server counts them)
 *   mem   -> { rss, heapTotal, heapUsed, external, arrayBuffers }  (after full garbage collections)
 */
import { readFileSync } from "node:fs";
import { cpuSnapshot, serveRequests } from "../load/rpc.mjs";

/** Full collections until the heap stops shrinking (at most 4), so RSS is comparable. */
export async function collect() {
  if (typeof globalThis.gc !== "function") throw new Error("start the server with --expose-gc");
  let before = Infinity;
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.memoryUsage().heapUsed;
    if (used >= before) break;
    before = used;
  }
}

/**
 * `start()` resolves with the bound port; `connections()` returns the server's count of
 * open connections. `info` goes to the orchestrator with the port (the deflate scenarios
 * print the options each server runs with from it).
 */
export async function runBenchServer(name, { start, connections, info = {} }) {
  const port = await start();
  serveRequests(
    {
      cpu: () => cpuSnapshot(),
      stats: () => ({ connections: connections() }),
      mem: async () => {
        await collect();
        const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
        return { rss, heapTotal, heapUsed, external, arrayBuffers };
      },
    },
    { name, port, ...info },
  );
}

/**
 * BENCH_PERMESSAGE_DEFLATE=1 (set by bench/run.mjs for the deflate-* scenarios): the server
 * under test enables permessage-deflate with its defaults.
 */
export const PERMESSAGE_DEFLATE = process.env.BENCH_PERMESSAGE_DEFLATE === "1";

/**
 * BENCH_TLS_KEY and BENCH_TLS_CERT (set by bench/run.mjs for tls-echo-16k: PEM files of a
 * self-signed certificate made with the openssl command line at the start of the run):
 * the server under test serves over TLS. Undefined otherwise.
 */
export const TLS =
  process.env.BENCH_TLS_KEY && process.env.BENCH_TLS_CERT
    ? { key: readFileSync(process.env.BENCH_TLS_KEY), cert: readFileSync(process.env.BENCH_TLS_CERT) }
    : undefined;

/** maxPayload for every server under test: well above the largest scenario message. */
export const MAX_PAYLOAD = 16 * 1024 * 1024;
