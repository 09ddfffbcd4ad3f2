/**
 * Where the line between synchronous and thread-pool zlib falls (`perMessageDeflate.syncLimit`).
 *
 *   npm run build && node bench/deflate-sync-limit.mjs [--runs N]
 *
 * For compressible JSON messages of growing size, it times wsraw's own codec
 * (`MessageDeflater`, `MessageInflater`, no context takeover, level 1) both ways:
 *   - sync: the time one call blocks the event loop;
 *   - async: the time from the call to its callback for one message alone (latency), and
 *     the throughput of 64 messages in flight (the thread pool works beside the event loop).
 * The synchronous call is the better choice while it blocks for less than the thread
 * pool's round trip adds (async alone minus sync); past that, the event loop is better
 * left free. Medians of `--runs` (default 5).
 */
import { performance } from "node:perf_hooks";
import { MessageDeflater, MessageInflater, deflateSettings } from "../dist/deflate/index.js";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5;
const params = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const settings = deflateSettings({ threshold: 0, syncLimit: Infinity, concurrency: 4 });
const deflater = new MessageDeflater(params, "server", settings);
const inflater = new MessageInflater(params, "server", settings, 64 << 20);

function json(size) {
  const rows = [];
  let length = 2;
  for (let i = 0; length < size; i++) {
    const row = JSON.stringify({ id: i, user: `user${i % 113}`, text: `message number ${i * 7919 % 10007}`, ok: i % 3 === 0 });
    rows.push(row);
    length += row.length + 1;
  }
  return Buffer.from(`[${rows.join(",")}]`.slice(0, size));
}

const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Microseconds per call of `fn` run synchronously. */
function syncMicros(fn) {
  const results = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    let count = 0;
    while (performance.now() - started < 100) {
      fn();
      count++;
    }
    results.push(((performance.now() - started) * 1000) / count);
  }
  return median(results);
}

/** Microseconds from call to callback of one async call alone. */
async function asyncLatency(start) {
  const results = [];
  for (let run = 0; run < runs; run++) {
    const samples = [];
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      await new Promise((resolve) => start(resolve));
      samples.push((performance.now() - started) * 1000);
    }
    results.push(median(samples));
  }
  return median(results);
}

/** Microseconds per message with 64 in flight. */
async function asyncThroughput(start) {
  const results = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    await Promise.all(Array.from({ length: 64 }, () => new Promise((resolve) => start(resolve))));
    results.push(((performance.now() - started) * 1000) / 64);
  }
  return median(results);
}

const rows = [];
for (const size of [1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20]) {
  const message = json(size);
  const compressed = deflater.compressSync(message);
  const deflateSync = syncMicros(() => deflater.compressSync(message));
  const inflateSync = syncMicros(() => inflater.inflateSync(compressed, true));
  const deflateAsync = await asyncLatency((done) => deflater.compress(message, done));
  const inflateAsync = await asyncLatency((done) => inflater.inflate(compressed, true, done));
  const deflatePool = await asyncThroughput((done) => deflater.compress(message, done));
  const inflatePool = await asyncThroughput((done) => inflater.inflate(compressed, true, done));
  rows.push({
    size,
    compressed: compressed.length,
    deflateSync,
    deflateAsync,
    deflatePool,
    inflateSync,
    inflateAsync,
    inflatePool,
  });
}

const us = (value) => `${value < 100 ? value.toFixed(1) : Math.round(value)} µs`;
console.log(`permessage-deflate, level 1, no context takeover, compressible JSON; medians of ${runs} runs`);
console.log("| message | compressed | deflate sync (blocks) | deflate async alone | async, 64 in flight | inflate sync (blocks) | inflate async alone | async, 64 in flight |");
console.log("|---|---|---|---|---|---|---|---|");
for (const row of rows) {
  console.log(
    `| ${row.size >= 1 << 20 ? `${row.size >> 20} MiB` : `${row.size >> 10} KiB`} | ${row.compressed} B | ${us(row.deflateSync)} | ${us(row.deflateAsync)} | ${us(row.deflatePool)} | ${us(row.inflateSync)} | ${us(row.inflateAsync)} | ${us(row.inflatePool)} |`,
  );
}
// The thread pool's own cost is what its round trip adds to the work; past the size where
// a synchronous call blocks longer than that, the event loop is better left free.
const overhead = (row, kind) => row[`${kind}Async`] - row[`${kind}Sync`];
for (const kind of ["deflate", "inflate"]) {
  const line = rows.find((row) => row[`${kind}Sync`] > overhead(row, kind));
  const median = rows.map((row) => overhead(row, kind)).sort((a, b) => a - b)[rows.length >> 1];
  console.log(
    line === undefined
      ? `${kind}: the synchronous call blocks for less than the thread pool's round trip costs (median ${us(median)}) at every size`
      : `${kind}: the synchronous call blocks longer than the thread pool's round trip costs (median ${us(median)}) from ${line.size >> 10} KiB of message (${line.compressed} B compressed)`,
  );
}
