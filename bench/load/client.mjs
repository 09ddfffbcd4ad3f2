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
 * broadcasts in flight) and "idle" (N connections that send nothing); and their
 * permessage-deflate versions (bench/load/deflate.mjs): "deflate-echo", "deflate-broadcast"
 * and "deflate-idle" (N connections that each send one compressed message, get its echo,
 * then sit there).
 *
 * `tls: { ca }` in a setup's arguments (tls-echo-16k): that workload's connections go over
 * node:tls (wss://), trusting the PEM certificate file `ca` for 127.0.0.1; the setup's
 * answer then names the TLS version and cipher the first connection agreed on.
 *
 * Some workloads run in a native child process when run.mjs could compile it, because
 * Node's per-message (and per-connection) cost, not the fastest servers, would set the
 * pace: the handshake lanes (bench/load/handshake.c, WSRAW_BENCH_HANDSHAKE_BIN), and echo
 * and broadcast over plain TCP (bench/load/traffic.c, WSRAW_BENCH_TRAFFIC_BIN). This
 * process then only relays: `measure` adds the child's counts and CPU to its own.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { basename } from "node:path";
import { connect as tlsConnect } from "node:tls";
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
import {
  CHROMIUM_OFFER,
  MessageReader,
  ReplyInflater,
  clientMessageFrame,
  distinctMessages,
  frameRing,
  parseDeflateResponse,
} from "./deflate.mjs";
import { cpuShare, cpuSnapshot, serveRequests, waitShare } from "./rpc.mjs";

/** Connections being opened at once (stays below the listen backlog). */
const OPEN_CONCURRENCY = 200;
const OPEN_TIMEOUT_MS = 20_000;
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Counters of the running workload; `measure` reads their difference over its window.
 * The deflate workloads also count `wire` (payload bytes as received, compressed or not),
 * `compressed` (messages that arrived with RSV1), and replies inflated and compared with
 * what was sent: `verified` (byte-exact) and `mismatched`.
 */
const stats = { count: 0, bytes: 0, errors: 0, wire: 0, compressed: 0, verified: 0, mismatched: 0 };
let workload;

/** The current workload's TLS options for `tls.connect`, or undefined for plain TCP. */
let tlsOptions;
/** What the first TLS connection of the workload agreed on, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384". */
let tlsAgreed;

function connect(port) {
  if (tlsOptions === undefined) return netConnect({ port, host: "127.0.0.1" });
  const socket = tlsConnect({ port, host: "127.0.0.1", ...tlsOptions });
  socket.once("secureConnect", () => (tlsAgreed ??= `${socket.getProtocol()} ${socket.getCipher()?.standardName}`));
  return socket;
}

/** The event after which a connection of the current workload can carry bytes. */
const connectEvent = () => (tlsOptions === undefined ? "connect" : "secureConnect");

// ---- Connections ----

/**
 * Opens the connection `conn` = `{ port, path, raw, onChunk, offer }` describes and, unless
 * `raw`, performs the opening handshake (offering the extensions `offer` names, if any).
 * Resolves with `conn`, now with `socket`, `closed` and `extensions` (the response's
 * Sec-WebSocket-Extensions), once it can carry frames; `onChunk(chunk)` then gets every
 * chunk the server sends (the first may be what followed the 101 response).
 */
function openConnection(conn) {
  const { port, path, raw, onChunk, offer } = conn;
  return new Promise((resolve, reject) => {
    const socket = connect(port);
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
      socket.once(connectEvent(), () => {
        clearTimeout(timer);
        socket.off("error", fail);
        socket.on("data", onChunk);
        resolve(conn);
      });
      return;
    }
    socket.once(connectEvent(), () => socket.write(upgradeRequest(port, path, offer)));
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
      conn.extensions = reader.extensions;
      socket.off("error", fail);
      socket.off("data", onHead);
      socket.on("data", onChunk);
      resolve(conn);
      if (rest.length > 0) onChunk(rest);
    };
    socket.on("data", onHead);
  });
}

/**
 * Opens `count` connections, `OPEN_CONCURRENCY` at a time; `describe(i)` gives the i-th,
 * and `afterOpen(conn, i)`, when given, is awaited before that worker opens the next.
 */
async function openMany(count, describe, afterOpen) {
  const conns = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      conns[i] = await openConnection(describe(i));
      if (afterOpen !== undefined) await afterOpen(conns[i], i);
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
 * each echo received, written together (one write per chunk received). Over plain TCP it
 * runs in bench/load/traffic.c when run.mjs could compile it (TRAFFIC_BIN), `raw` included.
 */
async function echoWorkload({ port, connections, inFlight, size, binary, raw }) {
  if (TRAFFIC_BIN !== undefined && tlsOptions === undefined) {
    const args = ["echo", port, connections, inFlight, size, binary ? "binary" : "text", raw ? "raw" : "ws", "/echo"];
    return nativeTraffic(args);
  }
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
  if (HANDSHAKE_BIN !== undefined) {
    const fields = ["count", "errors", "cpuMs", "waitMs"];
    return nativeWorkload(HANDSHAKE_BIN, [port, concurrency, "/echo", KEY, EXPECTED_ACCEPT], fields);
  }
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

/** The native load generators, compiled by run.mjs; see bench/load/handshake.c and traffic.c. */
const HANDSHAKE_BIN = process.env.WSRAW_BENCH_HANDSHAKE_BIN || undefined;
const TRAFFIC_BIN = process.env.WSRAW_BENCH_TRAFFIC_BIN || undefined;

/**
 * The echo or broadcast workload `args` (traffic.c's command line up to PATH) in
 * bench/load/traffic.c; plain TCP only: the TLS scenario stays here, in node:tls.
 */
function nativeTraffic(args) {
  const fields = ["count", "bytes", "errors", "cpuMs", "waitMs"];
  return nativeWorkload(TRAFFIC_BIN, [...args, KEY, EXPECTED_ACCEPT], fields, { announcesReady: true });
}

/**
 * A workload run by the native program `bin` (argv: its command line) as a child process,
 * on this process's core: it inherits the affinity. Each line written to its stdin is
 * answered with a line of totals so far, `fields` in that order; `sample()` asks for them
 * and measure() adds them (the child's CPU and run-queue wait in ms included) to this
 * process's own. With `announcesReady`, its first line says whether its connections are
 * open ("ready ...", or "error MESSAGE" before it exits), and this resolves once they are,
 * as the Node workloads do. End of its stdin stops it (it bounds its own close).
 */
async function nativeWorkload(bin, argv, fields, { announcesReady = false } = {}) {
  const name = basename(bin);
  const child = spawn(bin, argv.map(String), { stdio: ["pipe", "pipe", "inherit"] });
  let status;
  let stopping = false;
  // "close", not "exit": its last lines (an "error ...") are read by then.
  const exited = new Promise((resolve) => {
    child.once("close", (code, signal) => resolve((status ??= signal ?? `code ${code}`)));
    child.once("error", (error) => resolve((status ??= error.message)));
  });
  child.stdin.on("error", () => {}); // EPIPE once it has exited: reported through `exited`
  let onReady; // while the ready line is awaited
  const ready = new Promise((resolve) => (onReady = announcesReady ? resolve : undefined));
  const waiting = [];
  let buffered = "";
  child.stdout.setEncoding("latin1").on("data", (text) => {
    buffered += text;
    for (let end = buffered.indexOf("\n"); end !== -1; end = buffered.indexOf("\n")) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (onReady !== undefined) {
        onReady(line);
        onReady = undefined;
        continue;
      }
      const values = line.split(" ").map(Number);
      waiting.shift()?.resolve(Object.fromEntries(fields.map((field, i) => [field, values[i]])));
    }
  });
  // A child that dies mid-run fails the measurement: its missing counts would look like a slow server.
  void exited.then(() => {
    onReady?.(undefined);
    const error = new Error(`${name} exited (${status}) during the run`);
    for (const { resolve, reject } of waiting.splice(0)) stopping ? resolve(undefined) : reject(error);
  });
  const teardown = async () => {
    stopping = true;
    child.stdin.end();
    await within(exited, OPEN_TIMEOUT_MS);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  if (announcesReady) {
    const line = await within(ready, OPEN_TIMEOUT_MS + CLOSE_TIMEOUT_MS);
    if (!line?.startsWith("ready")) {
      await teardown();
      throw new Error(`${name}: ${line?.replace(/^error /, "") ?? `connections not open in time (${status ?? "still running"})`}`);
    }
  }
  return {
    sample() {
      if (status !== undefined) return Promise.reject(new Error(`${name} exited (${status})`));
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write("\n");
      });
    },
    teardown,
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
    const socket = netConnect({
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
 * one is sent when the oldest has reached every receiver. Counts deliveries. Over plain TCP
 * it runs in bench/load/traffic.c when run.mjs could compile it (TRAFFIC_BIN).
 */
async function broadcastWorkload({ port, connections, window, size }) {
  if (TRAFFIC_BIN !== undefined && tlsOptions === undefined) {
    const args = ["broadcast", port, connections, window, size, "text", "ws", "/broadcast"];
    return nativeTraffic(args);
  }
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

// ---- permessage-deflate workloads ----

/**
 * The agreed permessage-deflate parameters of `conns` (undefined: the server declined the
 * offer and they run uncompressed). Every connection of a workload must have got the
 * same answer: the frames they send are made once for all.
 */
function agreedParams(conns) {
  const answer = conns[0].extensions;
  const odd = conns.find((c) => c.extensions !== answer);
  if (odd !== undefined) throw new Error(`servers answered the same offer differently: "${answer}" and "${odd.extensions}"`);
  return parseDeflateResponse(answer);
}

/**
 * Receives one connection's messages: every one is counted (`stats.count`, `stats.bytes`
 * as the uncompressed size, `stats.wire`, `stats.compressed`) and `onMessage()` called;
 * when `sampled`, each is also inflated and compared with `expected(k)`, the k-th message
 * (from 0) that connection should get. Returns `{ push(chunk), close() }`.
 *
 * Unsampled connections only read frame headers: counting them costs what it costs in the
 * uncompressed scenarios.
 */
function deflateReceiver({ sampled, expected, size, onMessage, isRunning }) {
  let inflater;
  let received = 0;
  const onClose = () => {
    if (isRunning()) stats.errors++; // the server closed on us: it refused something
  };
  if (sampled) {
    const reader = new MessageReader(
      (payload, compressed) => {
        const want = expected(received++);
        stats.count++;
        stats.bytes += size;
        stats.wire += payload.length;
        if (compressed) {
          stats.compressed++;
          if (receiverParams === undefined) {
            stats.mismatched++; // RSV1 on a connection that agreed on no extension
            onMessage();
            return;
          }
          let out;
          try {
            inflater ??= new ReplyInflater(receiverParams);
            out = inflater.inflate(payload);
          } catch {
            out = undefined; // not valid DEFLATE data: a mismatch
          }
          if (out?.equals(want)) stats.verified++;
          else stats.mismatched++;
        } else if (payload.equals(want)) stats.verified++;
        else stats.mismatched++;
        onMessage();
      },
      (opcode) => {
        if (opcode === Opcode.Close) onClose();
      },
    );
    let receiverParams;
    return {
      setParams: (params) => (receiverParams = params),
      push: (chunk) => reader.push(chunk),
      close: () => inflater?.close(),
    };
  }
  let compressedMessage = false;
  const counter = new FrameCounter((opcode, length, first) => {
    if (opcode >= 8) {
      if (opcode === Opcode.Close) onClose();
      return;
    }
    stats.wire += length;
    if (opcode !== 0) compressedMessage = (first & 0x40) !== 0;
    if ((first & 0x80) === 0) return; // a fragment: the message counts at its last frame
    stats.count++;
    stats.bytes += size;
    if (compressedMessage) stats.compressed++;
    onMessage();
  });
  return { setParams: () => {}, push: (chunk) => counter.push(chunk), close: () => {} };
}

/**
 * Echo with permessage-deflate as Chromium offers it: N connections with `inFlight`
 * messages each, one new message for each echo received. The messages are a cycle of
 * distinct JSON documents of `size` bytes, compressed once (see deflate.mjs) as the
 * server's answer allows; every `sampleEvery`-th connection inflates and checks every reply.
 */
async function deflateEchoWorkload({ port, connections, inFlight, size, sampleEvery }) {
  const messages = distinctMessages(size);
  let running = true;
  let ring;
  const conns = await openMany(connections, (i) => {
    const first = i % messages.length;
    let sent = 0;
    let replies = 0;
    const receiver = deflateReceiver({
      sampled: i % sampleEvery === 0,
      expected: (k) => messages[(first + k) % messages.length],
      size,
      onMessage: () => replies++,
      isRunning: () => running,
    });
    const conn = {
      port,
      path: "/echo",
      offer: CHROMIUM_OFFER,
      receiver,
      start() {
        conn.socket.write(ring.bytes.subarray(ring.offsets[first], ring.offsets[first + inFlight]));
        sent = inFlight;
      },
      onChunk(chunk) {
        receiver.push(chunk);
        if (replies > 0 && running) {
          const at = (first + sent) % messages.length;
          conn.socket.write(ring.bytes.subarray(ring.offsets[at], ring.offsets[at + replies]));
          sent += replies;
        }
        replies = 0;
      },
    };
    return conn;
  });
  const params = agreedParams(conns);
  ring = frameRing(messages, inFlight, (m) => clientMessageFrame(Opcode.Text, m, params));
  for (const conn of conns) conn.receiver.setParams(params);
  for (const conn of conns) conn.start();
  return {
    extensions: conns[0].extensions,
    sentFrameBytes: ring.frameBytes,
    async teardown() {
      running = false;
      await closeAll(conns);
      for (const conn of conns) conn.receiver.close();
    },
  };
}

/**
 * The broadcast workload with permessage-deflate: `connections` receivers on /broadcast,
 * the first also publishing (compressed, a cycle of distinct JSON documents of `size`
 * bytes), at most `window` broadcasts in flight. Every `sampleEvery`-th receiver inflates
 * and checks every message it gets; all count.
 */
async function deflateBroadcastWorkload({ port, connections, window, size, sampleEvery }) {
  const messages = distinctMessages(size);
  const reached = new Int32Array(window);
  let running = true;
  let toSend = 0;
  let published = 0;
  let flushScheduled = false;
  let publisher;
  let ring;
  const publish = (n) => {
    const at = published % messages.length;
    publisher.socket.write(ring.bytes.subarray(ring.offsets[at], ring.offsets[at + n]));
    published += n;
  };
  const flush = () => {
    flushScheduled = false;
    if (running && toSend > 0) publish(toSend);
    toSend = 0;
  };
  const conns = await openMany(connections, (i) => {
    let received = 0;
    const receiver = deflateReceiver({
      sampled: i % sampleEvery === 0,
      expected: (k) => messages[k % messages.length],
      size,
      isRunning: () => running,
      onMessage: () => {
        const slot = ++received % window;
        if (++reached[slot] === connections) {
          reached[slot] = 0;
          toSend++;
          if (!flushScheduled) {
            flushScheduled = true;
            process.nextTick(flush);
          }
        }
      },
    });
    return { port, path: "/broadcast", offer: CHROMIUM_OFFER, receiver, onChunk: (chunk) => receiver.push(chunk) };
  });
  const params = agreedParams(conns);
  ring = frameRing(messages, window, (m) => clientMessageFrame(Opcode.Text, m, params));
  for (const conn of conns) conn.receiver.setParams(params);
  publisher = conns[0];
  publish(window);
  return {
    extensions: conns[0].extensions,
    sentFrameBytes: ring.frameBytes,
    async teardown() {
      running = false;
      await closeAll(conns);
      for (const conn of conns) conn.receiver.close();
    },
  };
}

/**
 * `count` connections offering permessage-deflate as Chromium does, each of which sends
 * one message of `size` bytes (a JSON document, compressed if the server accepted),
 * inflates and checks its echo, then sits idle. Setup resolves once every echo is back.
 */
async function deflateIdleWorkload({ port, count, size, path = "/echo" }) {
  const messages = distinctMessages(size);
  const frames = new Map(); // the agreed answer -> the frames made for it
  let settled = 0;
  const conns = await openMany(
    count,
    () => {
      const conn = {
        port,
        path,
        offer: CHROMIUM_OFFER,
        onChunk: (chunk) => conn.receiver?.push(chunk),
      };
      conn.echoed = new Promise((resolve) => (conn.gotEcho = resolve));
      return conn;
    },
    async (conn, i) => {
      const params = parseDeflateResponse(conn.extensions);
      const key = conn.extensions ?? "";
      if (!frames.has(key)) frames.set(key, messages.map((m) => clientMessageFrame(Opcode.Text, m, params)));
      conn.receiver = deflateReceiver({
        sampled: true,
        expected: () => messages[i % messages.length],
        size,
        isRunning: () => true,
        onMessage: () => {
          settled++;
          conn.gotEcho();
        },
      });
      if (params !== undefined) conn.receiver.setParams(params);
      conn.socket.write(frames.get(key)[i % messages.length]);
      await within(conn.echoed, OPEN_TIMEOUT_MS);
      // Free the reader (and its inflater) on our side: only the server's memory counts.
      conn.receiver.close();
      conn.receiver = { push: () => {} };
    },
  );
  if (settled !== count) throw new Error(`${count - settled} of ${count} connections got no echo`);
  const answers = new Set(conns.map((c) => c.extensions ?? "(none)"));
  return {
    opened: conns.length,
    extensions: [...answers].join(" | "),
    async teardown({ serverGone = false }) {
      await closeAll(conns, { sendClose: !serverGone });
    },
  };
}

const WORKLOADS = {
  echo: echoWorkload,
  handshake: handshakeWorkload,
  broadcast: broadcastWorkload,
  idle: idleWorkload,
  "deflate-echo": deflateEchoWorkload,
  "deflate-broadcast": deflateBroadcastWorkload,
  "deflate-idle": deflateIdleWorkload,
};

serveRequests({
  async setup(args) {
    if (workload !== undefined) throw new Error("a workload is already running");
    for (const key of Object.keys(stats)) stats[key] = 0;
    tlsOptions = args.tls === undefined ? undefined : { ca: readFileSync(args.tls.ca) };
    tlsAgreed = undefined;
    const started = performance.now();
    workload = await WORKLOADS[args.workload](args);
    return {
      setupMs: performance.now() - started,
      opened: workload.opened,
      extensions: workload.extensions,
      sentFrameBytes: workload.sentFrameBytes,
      tls: tlsAgreed,
      verified: stats.verified,
      mismatched: stats.mismatched,
    };
  },
  async measure({ durationMs }) {
    // A workload in a child process (handshake.c, traffic.c) counts there.
    const childBefore = await workload?.sample?.();
    const before = { ...stats };
    const cpuBefore = cpuSnapshot();
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    const cpuAfter = cpuSnapshot();
    const childAfter = await workload?.sample?.();
    const child = (key) => (childBefore && childAfter ? (childAfter[key] ?? 0) - (childBefore[key] ?? 0) : 0);
    const end = { ...cpuAfter, cpuMs: cpuAfter.cpuMs + child("cpuMs"), waitMs: cpuAfter.waitMs + child("waitMs") };
    return {
      count: stats.count - before.count + child("count"),
      bytes: stats.bytes - before.bytes + child("bytes"),
      errors: stats.errors - before.errors + child("errors"),
      wire: stats.wire - before.wire,
      compressed: stats.compressed - before.compressed,
      verified: stats.verified - before.verified,
      mismatched: stats.mismatched - before.mismatched,
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
