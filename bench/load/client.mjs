/**
 * The load generator: a child process of bench/run.mjs (pinned to its own core) that
 * drives one server under test. Each workload is set up, measured for a while as many
 * times as asked while traffic keeps flowing, then torn down:
 *
 *   setup {workload, ...}  -> connections opened, traffic running
 *   measure {durationMs}   -> { count, bytes, seconds, cpuShare, errors } over that window
 *   teardown               -> traffic stopped, connections closed (bounded waits)
 *
 * Workloads: "echo" (N connections, k messages in flight on each: one new message per
 * echo received), "handshake" (open, upgrade, close handshake, repeat; c at a time),
 * "broadcast" (N receivers on /broadcast, one of them publishing with a bounded window of
 * broadcasts in flight) and "idle" (N connections that send nothing).
 */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import {
  CLOSE_FRAME,
  EXPECTED_ACCEPT,
  FrameCounter,
  HandshakeReader,
  KEY,
  Opcode,
  maskedFrame,
  payloadOf,
  repeated,
  upgradeRequest,
} from "./frames.mjs";
import { cpuShare, cpuSnapshot, serveRequests, waitShare } from "./rpc.mjs";

/** Connections being opened at once (stays below the listen backlog). */
const OPEN_CONCURRENCY = 200;
const OPEN_TIMEOUT_MS = 20_000;
const CLOSE_TIMEOUT_MS = 5_000;

/** Counters of the running workload; `measure` reads their difference over its window. */
const stats = { count: 0, bytes: 0, errors: 0 };
let workload;

// ---- Connections ----

/**
 * Opens the connection `conn` = `{ port, path, raw, onChunk }` describes and, unless `raw`,
 * performs the opening handshake. Resolves with `conn`, now with `socket` and `closed`,
 * once it can carry frames; `onChunk(chunk)` then gets every chunk the server sends (the
 * first may be what followed the 101 response).
 */
function openConnection(conn) {
  const { port, path, raw, onChunk } = conn;
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.setNoDelay(true);
    conn.socket = socket;
    conn.closed = new Promise((done) => socket.once("close", done));
    const timer = setTimeout(() => fail(new Error("connection not open in time")), OPEN_TIMEOUT_MS);
    const fail = (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once("error", fail);
    socket.on("error", () => stats.errors++);
    if (raw) {
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", fail);
        socket.on("data", onChunk);
        resolve(conn);
      });
      return;
    }
    socket.once("connect", () => socket.write(upgradeRequest(port, path)));
    const reader = new HandshakeReader();
    const onHead = (chunk) => {
      let rest;
      try {
        rest = reader.push(chunk);
      } catch (error) {
        fail(error);
        return;
      }
      if (rest === undefined) return;
      clearTimeout(timer);
      socket.off("error", fail);
      socket.off("data", onHead);
      socket.on("data", onChunk);
      resolve(conn);
      if (rest.length > 0) onChunk(rest);
    };
    socket.on("data", onHead);
  });
}

/** Opens `count` connections, `OPEN_CONCURRENCY` at a time; `describe(i)` gives the i-th. */
async function openMany(count, describe) {
  const conns = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      conns[i] = await openConnection(describe(i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, worker));
  return conns;
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
function within(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * Closes connections: a close frame each (raw ones: a FIN), then waits (bounded) for
 * the server to close TCP first, as RFC 6455 §7.1.1 has it; stragglers are destroyed.
 */
async function closeAll(conns, { raw = false, sendClose = true } = {}) {
  for (const { socket } of conns) {
    if (socket.destroyed || !sendClose) continue;
    if (raw) socket.end();
    else socket.write(CLOSE_FRAME);
  }
  await within(Promise.all(conns.map((c) => c.closed)), CLOSE_TIMEOUT_MS);
  for (const { socket } of conns) socket.destroy();
}

// ---- Workloads ----

/**
 * N connections with `inFlight` messages each: send `inFlight`, then one new message for
 * each echo received, written together (one write per chunk received).
 */
async function echoWorkload({ port, connections, inFlight, size, binary, raw }) {
  const frame = maskedFrame(binary ? Opcode.Binary : Opcode.Text, payloadOf(size));
  const burst = repeated(frame, inFlight);
  const frameLength = frame.length;
  let running = true;
  const conns = await openMany(connections, () => {
    let replies = 0;
    const counter = new FrameCounter((opcode, length) => {
      if (opcode === Opcode.Close) return;
      stats.count++;
      stats.bytes += length;
      replies++;
    });
    const conn = {
      port,
      path: "/echo",
      raw,
      onChunk(chunk) {
        counter.push(chunk);
        if (replies > 0 && running) {
          conn.socket.write(burst.subarray(0, replies * frameLength));
        }
        replies = 0;
      },
    };
    return conn;
  });
  for (const conn of conns) conn.socket.write(burst);
  return {
    async teardown() {
      running = false;
      await closeAll(conns, { raw });
    },
  };
}

/**
 * Handshakes back to back on `concurrency` parallel lanes; a complete one counts. The lanes
 * run in bench/load/handshake.c when run.mjs could compile it (HANDSHAKE_BIN), in this
 * process otherwise.
 */
async function handshakeWorkload({ port, concurrency }) {
  if (HANDSHAKE_BIN !== undefined) return nativeHandshakeWorkload({ port, concurrency });
  let running = true;
  const request = upgradeRequest(port, "/echo");
  const lane = async () => {
    while (running) {
      if (await oneHandshake(port, request)) stats.count++;
      else stats.errors++;
    }
  };
  const lanes = Array.from({ length: concurrency }, lane);
  return {
    async teardown() {
      running = false;
      await within(Promise.all(lanes), OPEN_TIMEOUT_MS);
    },
  };
}

/** The native handshake lanes, compiled by run.mjs; see bench/load/handshake.c. */
const HANDSHAKE_BIN = process.env.WSRAW_BENCH_HANDSHAKE_BIN || undefined;

/**
 * The handshake lanes as a child process (on this process's core: it inherits the
 * affinity). `sample()` asks it for its totals: handshakes, errors, its CPU and run-queue
 * wait in ms, which measure() adds to this process's own.
 */
function nativeHandshakeWorkload({ port, concurrency }) {
  const child = spawn(HANDSHAKE_BIN, [String(port), String(concurrency), "/echo", KEY, EXPECTED_ACCEPT], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const waiting = [];
  let buffered = "";
  child.stdout.setEncoding("latin1").on("data", (text) => {
    buffered += text;
    for (let end = buffered.indexOf("\n"); end !== -1; end = buffered.indexOf("\n")) {
      const [count, errors, cpuMs, waitMs] = buffered.slice(0, end).split(" ").map(Number);
      buffered = buffered.slice(end + 1);
      waiting.shift()?.({ count, errors, cpuMs, waitMs });
    }
  });
  child.once("exit", () => {
    for (const resolve of waiting.splice(0)) resolve(undefined);
  });
  return {
    sample() {
      return new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin.write("\n");
      });
    },
    async teardown() {
      child.stdin.end();
      await within(exited, OPEN_TIMEOUT_MS);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

const HANDSHAKE_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * Connect, upgrade, send a close frame, read the server's close frame and wait for the
 * server to close TCP: true when all of that happened.
 */
function oneHandshake(port, request) {
  return new Promise((resolve) => {
    // No setNoDelay: each side writes once and waits for the other's answer, so Nagle's
    // algorithm never holds a write back here, and the system call is saved. allowHalfOpen:
    // the server's FIN is answered by closing the socket at once (one close, no shutdown).
    // onread: bytes land in one buffer shared by every lane (each read is handled before
    // the next), with no Buffer and no stream 'data' event per read.
    const socket = connect({
      port,
      host: "127.0.0.1",
      allowHalfOpen: true,
      onread: { buffer: HANDSHAKE_READ_BUFFER, callback: (length, buffer) => received(buffer.subarray(0, length)) },
    });
    const reader = new HandshakeReader();
    let counter;
    let ok = true;
    let gotClose = false;
    const timer = setTimeout(() => {
      ok = false;
      socket.destroy();
    }, OPEN_TIMEOUT_MS);
    socket.once("connect", () => socket.write(request));
    const received = (chunk) => {
      if (counter === undefined) {
        let rest;
        try {
          rest = reader.push(chunk);
        } catch {
          ok = false;
          socket.destroy();
          return;
        }
        if (rest === undefined) return;
        counter = new FrameCounter((opcode) => {
          if (opcode === Opcode.Close) gotClose = true;
        });
        socket.write(CLOSE_FRAME);
        chunk = rest;
      }
      counter.push(chunk);
    };
    socket.on("error", () => (ok = false));
    socket.once("end", () => socket.destroy());
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(ok && gotClose);
    });
  });
}

/**
 * `connections` receivers on /broadcast; the first also publishes. Every broadcast reaches
 * all of them (the sender included); at most `window` broadcasts are in flight: the next
 * one is sent when the oldest has reached every receiver. Counts deliveries.
 */
async function broadcastWorkload({ port, connections, window, size }) {
  const frame = maskedFrame(Opcode.Text, payloadOf(size));
  const burst = repeated(frame, window);
  // reached[k % window]: receivers that have broadcast k; reset when it completes.
  const reached = new Int32Array(window);
  let running = true;
  let toSend = 0;
  let flushScheduled = false;
  let publisher;
  const flush = () => {
    flushScheduled = false;
    if (running && toSend > 0) publisher.socket.write(burst.subarray(0, toSend * frame.length));
    toSend = 0;
  };
  const conns = await openMany(connections, () => {
    let received = 0;
    const counter = new FrameCounter((opcode, length) => {
      if (opcode === Opcode.Close) return;
      stats.count++;
      stats.bytes += length;
      const slot = ++received % window;
      if (++reached[slot] === connections) {
        reached[slot] = 0;
        toSend++;
        if (!flushScheduled) {
          flushScheduled = true;
          process.nextTick(flush);
        }
      }
    });
    return { port, path: "/broadcast", onChunk: (chunk) => counter.push(chunk) };
  });
  publisher = conns[0];
  publisher.socket.write(burst);
  return {
    async teardown() {
      running = false;
      await closeAll(conns);
    },
  };
}

/**
 * `count` connections that only sit there. Teardown closes them, or with `serverGone`
 * (the orchestrator killed the server) only waits for them to close.
 */
async function idleWorkload({ port, count, raw }) {
  const conns = await openMany(count, () => ({ port, path: "/echo", raw, onChunk: () => {} }));
  return {
    opened: conns.length,
    async teardown({ serverGone = false }) {
      await closeAll(conns, { raw, sendClose: !serverGone });
    },
  };
}

const WORKLOADS = {
  echo: echoWorkload,
  handshake: handshakeWorkload,
  broadcast: broadcastWorkload,
  idle: idleWorkload,
};

serveRequests({
  async setup(args) {
    if (workload !== undefined) throw new Error("a workload is already running");
    stats.count = stats.bytes = stats.errors = 0;
    const started = performance.now();
    workload = await WORKLOADS[args.workload](args);
    return { setupMs: performance.now() - started, opened: workload.opened };
  },
  async measure({ durationMs }) {
    // A workload in a child process (the native handshake lanes) counts there.
    const childBefore = await workload?.sample?.();
    const before = { ...stats };
    const cpuBefore = cpuSnapshot();
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    const cpuAfter = cpuSnapshot();
    const childAfter = await workload?.sample?.();
    const child = (key) => (childBefore && childAfter ? childAfter[key] - childBefore[key] : 0);
    const end = { ...cpuAfter, cpuMs: cpuAfter.cpuMs + child("cpuMs"), waitMs: cpuAfter.waitMs + child("waitMs") };
    return {
      count: stats.count - before.count + child("count"),
      bytes: stats.bytes - before.bytes,
      errors: stats.errors - before.errors + child("errors"),
      seconds: (cpuAfter.wallMs - cpuBefore.wallMs) / 1000,
      cpuShare: cpuShare(cpuBefore, end),
      waitShare: waitShare(cpuBefore, end),
    };
  },
  async teardown(args) {
    const current = workload;
    workload = undefined;
    await current?.teardown(args ?? {});
    return { errors: stats.errors };
  },
});
