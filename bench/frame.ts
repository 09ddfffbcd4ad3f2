/**
 * Frame codec throughput: wsraw's `src/frame` beside `ws`'s Receiver, Sender and
 * buffer-util, in the same process run.
 *
 *   npm run bench:frame
 *
 * Knobs (environment): BENCH_RUNS (timed runs per side and cell, default 7), BENCH_MS (time
 * budget of one run in ms, default 150), BENCH_WARMUP_MS (per side and cell, default 100),
 * BENCH_FILTER (a regular expression; only cells whose "section case" label matches run).
 *
 * Method
 * - Every cell runs wsraw and ws alternately (who goes first swaps each run), BENCH_RUNS
 *   times each, after a warm-up of each. A run repeats batches until BENCH_MS of wall time
 *   has passed; only the batches themselves are timed (`process.hrtime.bigint()` around each
 *   batch; cheap ops are batched to ~1 ms so the clock reads cost nothing).
 *   The table shows, per side, the median over the runs and its spread (slowest–fastest run
 *   as % of the median). The ratio is the median of the per-run ratios wsraw/ws of runs
 *   taken back to back, which cancels most of the machine's drift (on a shared VM,
 *   allocation-heavy loops swing by up to 2× over seconds); its range is shown beside it.
 * - Decode: both parsers unmask in place, so every pass needs fresh masked input. Before each
 *   pass, a pristine copy of the masked stream is copied into the work buffer that the
 *   pass reads; that copy is outside the timed region and identical for both parsers (it
 *   also leaves the input equally cache-warm for both, as a socket read would). One op is
 *   one pass over the whole stream: ~1 MiB of payload (at least 8 frames, so 8 MiB for
 *   1 MiB payloads), fed either as one chunk or as 1460-byte views (TCP-segment sized).
 *   ws is fed through `receiver.write(chunk)`, its production path (websocket.js
 *   `socketOnData`); its `_write` runs the parse loop synchronously and, with the default
 *   `allowSynchronousEvents: true`, emits every 'message' inside that call, so the timed
 *   region covers the whole parse. After every pass both sides must have reported the
 *   expected number of messages and the expected checksum (length, first and last byte of
 *   each unmasked payload), so a parser that skipped work would fail loudly.
 * - MB/s is payload bytes (10^6) per second, not counting frame headers. An unmasked
 *   64 KiB / 1 MiB encode copies nothing on either side (header + the caller's buffer), so
 *   its MB/s is only frames/s × size.
 * - Every op's result feeds a checksum that is printed at the end (no dead code).
 */
import { createRequire } from "node:module";
import { randomFillSync } from "node:crypto";
import http from "node:http";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import {
  FrameParser,
  Opcode,
  encodeFrame,
  encodeTextFrame,
  mask,
  type FrameHandler,
} from "../src/frame/index.js";

// ---------------------------------------------------------------------------------------
// ws internals (CommonJS; Receiver/Sender are exported by the package, buffer-util is not,
// so it is loaded by file path; the module cache makes it the instance the Receiver uses).

interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: "error", listener: (error: Error) => void): this;
}
interface WsReceiverClass {
  new (options: { isServer: boolean; maxPayload: number; skipUTF8Validation: boolean }): WsReceiver;
}
interface WsFrameOptions {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
}
interface WsSenderClass {
  frame(data: Buffer | string, options: WsFrameOptions): Buffer[];
}
interface WsBufferUtil {
  unmask(buffer: Buffer, mask: Buffer): void;
  mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
}

const require = createRequire(import.meta.url);
const wsDir = dirname(require.resolve("ws/package.json"));
const wsVersion = (require("ws/package.json") as { version: string }).version;
const Receiver = require(join(wsDir, "lib/receiver.js")) as WsReceiverClass;
const Sender = require(join(wsDir, "lib/sender.js")) as WsSenderClass;
const wsBufferUtil = require(join(wsDir, "lib/buffer-util.js")) as WsBufferUtil;

/** Which unmask ws ended up with (see ws/lib/buffer-util.js). */
function wsMaskImplementation(): string {
  // buffer-util prefers node:http's websocketMask (newer Node), then bufferutil, else its
  // own byte loop, exported under the function's own name `_unmask`.
  const httpNative = typeof (http as unknown as Record<string, unknown>).websocketMask === "function";
  let bufferutil = "not installed";
  try {
    bufferutil = `installed at ${createRequire(join(wsDir, "lib/buffer-util.js")).resolve("bufferutil")}`;
  } catch {
    // not resolvable from ws: ws cannot use it either
  }
  const js = wsBufferUtil.unmask.name === "_unmask";
  const used = js
    ? "JS byte-loop fallback"
    : httpNative
      ? "node:http websocketMask (native)"
      : "bufferutil (native; JS loop below 32 B)";
  return `${used}; node:http.websocketMask ${httpNative ? "present" : "absent"}; bufferutil ${bufferutil}` +
    (process.env.WS_NO_BUFFER_UTIL ? "; WS_NO_BUFFER_UTIL set" : "");
}

// ---------------------------------------------------------------------------------------
// Settings.

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 7));
const RUN_NS = BigInt(Math.round(Number(process.env.BENCH_MS ?? 150) * 1e6));
const WARMUP_NS = BigInt(Math.round(Number(process.env.BENCH_WARMUP_MS ?? 100) * 1e6));
const FILTER = process.env.BENCH_FILTER ? new RegExp(process.env.BENCH_FILTER) : undefined;
/** Target length of one timed batch for cheap ops, so the clock reads cost nothing. */
const BATCH_NS = 1_000_000;

const SIZES = [16, 125, 1024, 64 * 1024, 1024 * 1024];
const STREAM_BYTES = 1024 * 1024;
const MIN_FRAMES = 8;
const SEGMENT = 1460;
const MAX_PAYLOAD = 64 * 1024 * 1024;

const hrtime = process.hrtime.bigint;
let sink = 0; // every result ends up here; printed at the end

// ---------------------------------------------------------------------------------------
// Harness.

interface Impl {
  /** Untimed work before each batch (refresh the masked input). */
  prepare?: () => void;
  /** Performs `n` ops; returns a checksum. */
  run: (n: number) => number;
  /** Untimed verification after each batch. */
  check?: () => void;
}

interface Cell {
  section: string;
  label: string;
  /** Payload bytes and frames of one op. */
  bytesPerOp: number;
  framesPerOp: number;
  /** Ops are cheap and independent: batch many between clock reads. */
  batchable: boolean;
  make: () => { wsraw: Impl; ws: Impl };
}

interface Stats {
  median: number; // ops per second
  min: number;
  max: number;
}

interface Result {
  cell: Cell;
  wsraw: Stats;
  ws: Stats;
  /** Per-run ratios wsraw / ws of back-to-back runs. */
  ratio: Stats;
}

/** One run: batches until `budget` of wall time has passed. Returns ops per timed second. */
function timedRun(impl: Impl, batch: number, budget: bigint): number {
  let timed = 0n;
  let ops = 0;
  const start = hrtime();
  do {
    impl.prepare?.();
    const t0 = hrtime();
    sink += impl.run(batch);
    const t1 = hrtime();
    timed += t1 - t0;
    ops += batch;
    impl.check?.();
  } while (hrtime() - start < budget);
  return ops / (Number(timed) / 1e9);
}

/** Warms `impl` up and returns the batch size that takes about BATCH_NS. */
function warmUp(impl: Impl, batchable: boolean): number {
  let batch = 1;
  const start = hrtime();
  for (;;) {
    impl.prepare?.();
    const t0 = hrtime();
    sink += impl.run(batch);
    const elapsed = Number(hrtime() - t0);
    impl.check?.();
    if (batchable && elapsed < BATCH_NS / 2) batch = Math.min(batch * 2, 1 << 24);
    if (hrtime() - start >= WARMUP_NS) break;
  }
  return batch;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function measure(cell: Cell): Promise<Result> {
  const { wsraw, ws } = cell.make();
  const batchRaw = warmUp(wsraw, cell.batchable);
  await yieldToLoop();
  const batchWs = warmUp(ws, cell.batchable);
  await yieldToLoop();
  const rawSamples: number[] = [];
  const wsSamples: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // Alternate which goes first, so drift (thermal, GC debt) does not favour one side.
    if (run % 2 === 0) {
      rawSamples.push(timedRun(wsraw, batchRaw, RUN_NS));
      await yieldToLoop();
      wsSamples.push(timedRun(ws, batchWs, RUN_NS));
    } else {
      wsSamples.push(timedRun(ws, batchWs, RUN_NS));
      await yieldToLoop();
      rawSamples.push(timedRun(wsraw, batchRaw, RUN_NS));
    }
    await yieldToLoop();
  }
  const ratios = rawSamples.map((raw, i) => raw / wsSamples[i]);
  return { cell, wsraw: stats(rawSamples), ws: stats(wsSamples), ratio: stats(ratios) };
}

// ---------------------------------------------------------------------------------------
// Inputs.

function randomBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size); // not from the pool: its own, aligned ArrayBuffer
  randomFillSync(bytes);
  return bytes;
}

/** A non-zero masking key (ws skips unmasking for an all-zero key). */
function randomKey(): Buffer {
  const key = randomBytes(4);
  if ((key[0] | key[1] | key[2] | key[3]) === 0) key[0] = 1;
  return key;
}

/**
 * Valid UTF-8 of exactly `size` bytes, mostly ASCII with 2-, 3- and 4-byte characters mixed
 * in (chat-like text), so validation has real work and no fast all-ASCII path.
 */
function utf8Text(size: number): string {
  const words = ["hello", "wörld", "naïve", "café", "日本語", "ok", "😀", "—", "message", "ünïcødé"];
  let text = "";
  let bytes = 0;
  for (let i = 0; ; i++) {
    const word = (i === 0 ? "" : " ") + words[(i * 7) % words.length];
    const wordBytes = Buffer.byteLength(word);
    if (bytes + wordBytes > size) break;
    text += word;
    bytes += wordBytes;
  }
  return text + "x".repeat(size - bytes);
}

/** One masked frame, written independently of both libraries. */
function writeMaskedFrame(target: Buffer, at: number, opcode: number, payload: Buffer): number {
  const length = payload.length;
  target[at++] = 0x80 | opcode;
  if (length < 126) {
    target[at++] = 0x80 | length;
  } else if (length < 0x10000) {
    target[at++] = 0x80 | 126;
    target.writeUInt16BE(length, at);
    at += 2;
  } else {
    target[at++] = 0x80 | 127;
    target.writeUInt32BE(Math.floor(length / 2 ** 32), at);
    target.writeUInt32BE(length >>> 0, at + 4);
    at += 8;
  }
  const key = randomKey();
  key.copy(target, at);
  at += 4;
  for (let i = 0; i < length; i++) target[at + i] = payload[i] ^ key[i & 3];
  return at + length;
}

interface Stream {
  pristine: Buffer;
  frames: number;
  /** Expected sum over messages of length + first byte + last byte. */
  expected: number;
}

/** Frames of `size` bytes in one decode pass: about STREAM_BYTES of payload. */
function streamFrames(size: number): number {
  return Math.max(MIN_FRAMES, Math.round(STREAM_BYTES / size));
}

function maskedStream(opcode: number, payload: Buffer): Stream {
  const frames = streamFrames(payload.length);
  const header = payload.length < 126 ? 6 : payload.length < 0x10000 ? 8 : 14;
  const pristine = Buffer.alloc(frames * (header + payload.length));
  let at = 0;
  for (let i = 0; i < frames; i++) at = writeMaskedFrame(pristine, at, opcode, payload);
  if (at !== pristine.length) throw new Error("stream size mismatch");
  const expected = frames * (payload.length + payload[0] + payload[payload.length - 1]);
  return { pristine, frames, expected };
}

function segments(buffer: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < buffer.length; at += size) pieces.push(buffer.subarray(at, at + size));
  return pieces;
}

// ---------------------------------------------------------------------------------------
// Cells.

function sizeName(size: number): string {
  return size >= 1024 * 1024 ? `${size / (1024 * 1024)} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

// A cell's inputs are made by its make(), when it is measured, and dropped after: the
// inputs of forty cells kept alive at once made every major GC mark ~20 MB instead of ~5,
// and large messages trigger one every few tens of MB of buffers, so cells measured late
// (the 1 MiB split decode) were taxed at random by the others' data.

function decodeCell(kind: "binary" | "text", size: number, chunked: boolean): Cell {
  const frames = streamFrames(size);
  return {
    section: "decode",
    label: `${kind} ${sizeName(size)} ${chunked ? `${SEGMENT} B chunks` : "one chunk"}`,
    bytesPerOp: frames * size,
    framesPerOp: frames,
    batchable: false,
    make() {
      const payload = kind === "binary" ? randomBytes(size) : Buffer.from(utf8Text(size));
      if (payload.length !== size) throw new Error("payload size mismatch");
      const stream = maskedStream(kind === "binary" ? Opcode.Binary : Opcode.Text, payload);
      const side = (feed: (pieces: Buffer[]) => void, counter: { messages: number; sum: number }): Impl => {
        const work = Buffer.alloc(stream.pristine.length);
        const pieces = chunked ? segments(work, SEGMENT) : [work];
        return {
          prepare() {
            stream.pristine.copy(work);
            counter.messages = 0;
            counter.sum = 0;
          },
          run(n) {
            for (let i = 0; i < n; i++) feed(pieces);
            return counter.messages;
          },
          check() {
            if (counter.messages !== stream.frames || counter.sum !== stream.expected) {
              throw new Error(`decode check failed: ${counter.messages}/${stream.frames} messages, sum ${counter.sum}/${stream.expected}`);
            }
          },
        };
      };

      const rawCount = { messages: 0, sum: 0 };
      const handler: FrameHandler = {
        onMessage(data) {
          rawCount.messages++;
          rawCount.sum += data.length + data[0] + data[data.length - 1];
        },
        onPing() {},
        onPong() {},
        onClose() {},
      };
      const parser = new FrameParser(handler, { role: "server", maxPayload: MAX_PAYLOAD });

      const wsCount = { messages: 0, sum: 0 };
      const receiver = new Receiver({ isServer: true, maxPayload: 0, skipUTF8Validation: false });
      receiver.on("message", (data) => {
        wsCount.messages++;
        wsCount.sum += data.length + data[0] + data[data.length - 1];
      });
      receiver.on("error", (error) => {
        throw error;
      });

      return {
        wsraw: side((pieces) => {
          for (let i = 0; i < pieces.length; i++) parser.push(pieces[i]);
        }, rawCount),
        ws: side((pieces) => {
          for (let i = 0; i < pieces.length; i++) receiver.write(pieces[i]);
        }, wsCount),
      };
    },
  };
}

const WS_BINARY: WsFrameOptions = { fin: true, rsv1: false, opcode: 2, mask: false, readOnly: false };
// Sender.frame() on a string encodes it with Buffer.from (ws.send() instead passes the byte
// length through a private symbol and lets the socket encode the string): both sides turn
// the string into UTF-8 bytes once.
const WS_TEXT: WsFrameOptions = { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false };
// ws.send() passes readOnly: true for a Buffer, so a masked frame is header+payload in one
// new buffer, masked while copying (sender.js `merge`); wsraw does the same in two passes.
const WS_BINARY_MASKED: WsFrameOptions = { fin: true, rsv1: false, opcode: 2, mask: true, readOnly: true };

function frameChecksum(frames: Buffer[]): number {
  return frames.length + frames[0][1];
}

function encodeCell(kind: "binary" | "text" | "binary masked", size: number): Cell {
  return {
    section: "encode",
    label: `${kind} ${sizeName(size)}`,
    bytesPerOp: size,
    framesPerOp: 1,
    batchable: true,
    make() {
      if (kind === "text") {
        const text = utf8Text(size);
        return {
          wsraw: {
            run(n) {
              let sum = 0;
              for (let i = 0; i < n; i++) sum += encodeTextFrame(text)[1];
              return sum;
            },
          },
          ws: {
            run(n) {
              let sum = 0;
              for (let i = 0; i < n; i++) sum += frameChecksum(Sender.frame(text, WS_TEXT));
              return sum;
            },
          },
        };
      }
      const payload = randomBytes(size);
      const masked = kind === "binary masked";
      const wsOptions = masked ? WS_BINARY_MASKED : WS_BINARY;
      return {
        wsraw: {
          run: masked
            ? (n) => {
                let sum = 0;
                for (let i = 0; i < n; i++) sum += frameChecksum(encodeFrame(Opcode.Binary, payload, { mask: true }));
                return sum;
              }
            : (n) => {
                let sum = 0;
                for (let i = 0; i < n; i++) sum += frameChecksum(encodeFrame(Opcode.Binary, payload));
                return sum;
              },
        },
        ws: {
          run(n) {
            let sum = 0;
            for (let i = 0; i < n; i++) sum += frameChecksum(Sender.frame(payload, wsOptions));
            return sum;
          },
        },
      };
    },
  };
}

function unmaskCell(size: number, byteOffset: number): Cell {
  return {
    section: "unmask",
    label: `${sizeName(size)}${byteOffset ? ` at byteOffset ${byteOffset}` : ""}`,
    bytesPerOp: size,
    framesPerOp: 1,
    batchable: true,
    make() {
      // XOR in place is its own inverse and costs the same whatever the bytes: no refresh.
      const side = (unmask: (data: Buffer, key: Buffer) => void): Impl => {
        const data = randomBytes(size + byteOffset).subarray(byteOffset);
        const key = randomKey();
        return {
          run(n) {
            for (let i = 0; i < n; i++) unmask(data, key);
            return data[0] + data[size - 1];
          },
        };
      };
      return { wsraw: side((data, key) => mask(data, key)), ws: side(wsBufferUtil.unmask) };
    },
  };
}

function cells(): Cell[] {
  const all: Cell[] = [];
  for (const chunked of [false, true]) {
    for (const size of SIZES) all.push(decodeCell("binary", size, chunked));
    for (const size of [1024, 64 * 1024]) all.push(decodeCell("text", size, chunked));
  }
  for (const size of SIZES) all.push(encodeCell("binary", size));
  for (const size of [125, 1024, 64 * 1024]) all.push(encodeCell("text", size));
  for (const size of SIZES) all.push(encodeCell("binary masked", size));
  for (const size of SIZES) all.push(unmaskCell(size, 0));
  all.push(unmaskCell(64 * 1024, 1));
  all.push(unmaskCell(1021, 3));
  return FILTER ? all.filter((cell) => FILTER.test(`${cell.section} ${cell.label}`)) : all;
}

// ---------------------------------------------------------------------------------------
// Output.

function rate(value: number, unit: string): string {
  const [scaled, prefix] =
    value >= 1e9 ? [value / 1e9, "G"] : value >= 1e6 ? [value / 1e6, "M"] : value >= 1e3 ? [value / 1e3, "k"] : [value, ""];
  const digits = scaled >= 100 ? 0 : scaled >= 10 ? 1 : 2;
  return `${scaled.toFixed(digits)} ${prefix}${unit}`;
}

function throughput(bytesPerSecond: number, section: string): string {
  if (section === "unmask") return `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`;
  if (bytesPerSecond >= 1e13) return `${(bytesPerSecond / 1e12).toFixed(0)} TB/s`;
  if (bytesPerSecond >= 1e10) return `${(bytesPerSecond / 1e9).toFixed(0)} GB/s`;
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}

function spread(s: Stats): string {
  return `${Math.round((s.min / s.median) * 100)}–${Math.round((s.max / s.median) * 100)}%`;
}

const COLUMNS = [30, 13, 9, 11, 13, 9, 11, 7, 11];

function row(fields: string[]): string {
  return fields
    .map((field, i) => (i === 0 ? field.padEnd(COLUMNS[i]) : field.padStart(COLUMNS[i])))
    .join(" ");
}

function printHeader(section: string): void {
  const titles: Record<string, string> = {
    decode: "decode: masked client→server frames, server-role parser (payload MB/s)",
    encode: "encode: one frame per op (server→client unmasked; 'masked' = client→server)",
    unmask: "unmask in place: wsraw mask() vs ws buffer-util unmask()",
  };
  console.log(`\n## ${titles[section]}`);
  console.log(row(["case", "wsraw", "spread", "frames/s", "ws", "spread", "frames/s", "ratio", "ratio range"]));
  console.log("-".repeat(COLUMNS.reduce((a, b) => a + b + 1, -1)));
}

function printRow(result: Result): void {
  const { cell, wsraw, ws, ratio } = result;
  console.log(
    row([
      cell.label,
      throughput(wsraw.median * cell.bytesPerOp, cell.section),
      spread(wsraw),
      rate(wsraw.median * cell.framesPerOp, "/s"),
      throughput(ws.median * cell.bytesPerOp, cell.section),
      spread(ws),
      rate(ws.median * cell.framesPerOp, "/s"),
      `${ratio.median.toFixed(2)}×`,
      `${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}`,
    ]),
  );
}

function printTargets(results: Result[]): void {
  const ratio = (label: string): number | undefined => {
    const found = results.find((r) => r.cell.section === "decode" && r.cell.label === label);
    return found?.ratio.median;
  };
  const target = (title: string, labels: string[], goal: number): void => {
    const parts: string[] = [];
    let pass = true;
    let seen = 0;
    for (const label of labels) {
      const value = ratio(label);
      if (value === undefined) continue;
      seen++;
      if (value < goal) pass = false;
      parts.push(`${label} ${value.toFixed(2)}×`);
    }
    if (seen === 0) return;
    // The targets are against plain ws; against a native unmask they are only figures.
    const verdict = nativeUnmask ? "INFO" : pass ? "PASS" : "FAIL";
    console.log(`${verdict}  ${title} (≥ ${goal}× ws): ${parts.join(", ")}`);
  };
  const nativeUnmask = wsBufferUtil.unmask.name !== "_unmask";
  if (nativeUnmask) {
    console.log("\nws unmasks natively here (bufferutil): the targets are for plain ws; WS_NO_BUFFER_UTIL=1 judges them");
  }
  console.log("\n## targets");
  target("decode 1 MiB masked frames", [`binary 1 MiB one chunk`, `binary 1 MiB ${SEGMENT} B chunks`], 3);
  target(
    "small-frame decode",
    ["one chunk", `${SEGMENT} B chunks`].flatMap((mode) => [`binary 16 B ${mode}`, `binary 125 B ${mode}`]),
    1.5,
  );
}

// ---------------------------------------------------------------------------------------

/** Other processes on the machine skew everything; say so. */
function load(): string {
  const [one] = loadavg();
  const busy = one > cpus().length / 2;
  return `load average ${one.toFixed(2)}${busy ? " (busy machine: expect noise, trust the paired ratios more than the absolute figures)" : ""}`;
}

async function main(): Promise<void> {
  const started = hrtime();
  console.log("# wsraw frame codec vs ws");
  console.log(`node ${process.version} (${process.arch}), V8 ${process.versions.v8}`);
  console.log(`cpu: ${cpus()[0]?.model ?? "unknown"} ×${cpus().length}; ${load()}`);
  console.log(`ws ${wsVersion}: unmask = ${wsMaskImplementation()}`);
  console.log(`UTF-8 validation: both use node:buffer isUtf8 (SIMD) except for the shortest texts`);
  console.log(
    `method: ${RUNS} runs × ${Number(RUN_NS) / 1e6} ms per side and cell after ${Number(WARMUP_NS) / 1e6} ms warm-up; ` +
      `median, spread = slowest–fastest run as % of median; ratio = median of paired per-run wsraw/ws (> 1: wsraw faster)`,
  );
  console.log(
    `decode: ~${STREAM_BYTES / 1024 / 1024} MiB of payload (≥ ${MIN_FRAMES} frames) per pass, masked input refreshed (untimed) before every pass; ` +
      `ws Receiver({ isServer: true, maxPayload: 0, skipUTF8Validation: false }).write(), wsraw FrameParser.push()`,
  );

  const results: Result[] = [];
  let section = "";
  for (const cell of cells()) {
    if (cell.section !== section) {
      section = cell.section;
      printHeader(section);
    }
    const result = await measure(cell);
    results.push(result);
    printRow(result);
  }
  printTargets(results);
  console.log(`\nchecksum ${sink}; total ${(Number(hrtime() - started) / 1e9).toFixed(1)} s; ${load()}`);
}

await main();
