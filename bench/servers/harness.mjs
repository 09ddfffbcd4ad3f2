/**
 * What every server under test shares: it listens on an ephemeral port of 127.0.0.1, then
 * answers the orchestrator's requests over IPC:
 *   cpu   -> { cpuMs, wallMs }            (process.cpuUsage() user+sys, performance.now())
 *   stats -> { connections }              (open connections as the server counts them)
 *   mem   -> { rss, heapTotal, heapUsed, external, arrayBuffers, newSpace }  (after full garbage collections)
 *   settle { maxMs } -> mem's answer and { settledMs, settled }, once V8 has shrunk its young
 *         generation by itself (or after maxMs)
 */
import { readFileSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";
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

/** Bytes of RAM V8's young generation (its semi-spaces) holds now. */
function newSpaceBytes() {
  return getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.physical_space_size ?? 0;
}

/**
 * A burst of allocation (10,000 connections opened at once) grows V8's young generation
 * towards its largest, 32 MB on 64-bit Node 20, in every Node server alike, and a forced
 * `gc()` right after leaves it there: memory of the process, not of any connection. Once
 * allocation has been low for a while, V8's memory reducer shrinks it back to its initial
 * size (seen after 10–40 s idle). Waiting for that gives what an idle server really
 * holds. Polls without collecting, so the wait is V8's own.
 */
async function settle(maxMs) {
  const started = performance.now();
  let settledMs = 0; // not grown: no wait
  while (newSpaceBytes() > SETTLED_NEW_SPACE && settledMs < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    settledMs = performance.now() - started;
  }
  const measured = await memory();
  return { ...measured, settledMs, settled: measured.newSpace <= SETTLED_NEW_SPACE };
}

/** Young generation at or below this counts as shrunk: its initial size is 1 MB. */
const SETTLED_NEW_SPACE = 2 * 1024 * 1024;

async function memory() {
  await collect();
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapTotal, heapUsed, external, arrayBuffers, newSpace: newSpaceBytes() };
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
      mem: memory,
      settle: ({ maxMs }) => settle(maxMs),
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
