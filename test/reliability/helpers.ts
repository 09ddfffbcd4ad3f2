/**
 * Helpers for the reliability tests: servers on ephemeral loopback ports, a raw `node:net`
 * WebSocket client that can misbehave on purpose, and resource snapshots (bounded waits,
 * frames and the handshake come from test/support).
 *
 * The raw client encodes its frames (test/support's `buildFrame`) and decodes the server's
 * by hand (not with `src/frame`), so a bug in the codec under test cannot hide itself here.
 *
 * Every server and client made here is registered for cleanup: call `cleanupAll()` in
 * `afterEach`, and nothing outlives a test even when it fails half-way.
 */
import { type Socket, connect } from "node:net";
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { expect } from "vitest";
import { WebSocket as WsClient } from "ws";
import {
  type ServerOptions,
  type UpgradedRequest,
  type WebSocket,
  type WsrawServer,
  createServer,
  requireWebSocket,
} from "../../src/index.js";
import { type CloseFrame, HOST, acceptFor, buildFrame, closeBody, newKey, nextMacrotask, delay, waitUntil, within } from "../support/index.js";

// ---------------------------------------------------------------------------------------
// Cleanup registry
// ---------------------------------------------------------------------------------------

const cleanups = new Set<() => unknown>();

/**
 * Runs `fn` in the next `cleanupAll()`, latest first. Returns a function that forgets it
 * (a long soak must not keep 20,000 destroyed sockets alive through this list).
 */
export function onCleanup(fn: () => unknown): () => void {
  const entry = (): unknown => fn();
  cleanups.add(entry);
  return () => cleanups.delete(entry);
}

/** Destroys every client and closes every server created since the last call. */
export async function cleanupAll(): Promise<void> {
  const errors: unknown[] = [];
  const pending = [...cleanups].reverse();
  cleanups.clear();
  for (const fn of pending) {
    try {
      await fn();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
}

// ---------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------

export type Handler = (req: UpgradedRequest) => unknown;

/** Echoes every message until the peer closes. */
export const echo: Handler = async ({ websocket }) => {
  for await (const message of websocket) websocket.send(message);
};

/** Never reads: messages pile up in the connection's queue. */
export const neverRead: Handler = ({ websocket }) => websocket.closed;

export interface TestServer {
  server: WsrawServer;
  port: number;
  /** Server-side connections, in the order their handshakes completed. */
  accepted: WebSocket[];
  /** The `index`-th accepted connection, waiting for it if needed. */
  connection(index: number, ms?: number): Promise<WebSocket>;
}

/**
 * A server on an ephemeral loopback port serving `handler` at every path; closed in
 * cleanup. With `keepAccepted: false` the server-side connections are not listed in
 * `accepted` (a soak must not keep them alive).
 */
export async function startServer(
  options: ServerOptions = {},
  handler: Handler = echo,
  { keepAccepted = true } = {},
): Promise<TestServer> {
  const server = createServer({ onError: () => {}, ...options });
  const accepted: WebSocket[] = [];
  server.route(
    "*",
    requireWebSocket((req) => {
      if (keepAccepted) accepted.push(req.websocket);
      return handler(req);
    }),
  );
  const { port } = await server.listen(0, HOST);
  onCleanup(() => within(server.close(), 15_000, "server.close() in cleanup"));
  return {
    server,
    port,
    accepted,
    async connection(index, ms = 5_000) {
      await waitUntil(() => accepted.length > index, ms, `server-side connection #${index}`);
      return accepted[index];
    },
  };
}

/** Waits until the server has no open WebSocket connection. */
export function connectionsDrained(t: TestServer, ms = 5_000): Promise<void> {
  return waitUntil(() => t.server.connections === 0, ms, `server.connections to reach 0 (is ${t.server.connections})`);
}

// ---------------------------------------------------------------------------------------
// `ws` clients (they answer pings by themselves)
// ---------------------------------------------------------------------------------------

/** An open `ws` client; terminated in cleanup. */
export async function openWsClient(port: number, path = "/echo"): Promise<WsClient> {
  const client = new WsClient(`ws://${HOST}:${port}${path}`);
  onCleanup(() => client.terminate());
  await within(
    new Promise<void>((resolve, reject) => {
      client.once("open", resolve);
      client.once("error", reject);
    }),
    5_000,
    "a ws client to open",
  );
  return client;
}

/** Sends `text` and expects it back. */
export async function expectWsEcho(client: WsClient, text: string, ms = 5_000): Promise<void> {
  const reply = within(
    new Promise<string>((resolve) => client.once("message", (data) => resolve(String(data)))),
    ms,
    `the echo of ${JSON.stringify(text)}`,
  );
  client.send(text);
  expect(await reply).toBe(text);
}

/** Closes a `ws` client with 1000 and waits until its TCP connection is gone. */
export async function closeWsClient(client: WsClient): Promise<void> {
  const closed = new Promise((resolve) => client.once("close", resolve));
  client.close(1000);
  await within(closed, 5_000, "a ws client to close");
}

/**
 * Keeps `client` busy with one echo round trip after another (a message every `everyMs`)
 * until `stop()`, which resolves with the number of round trips, all verified.
 */
export function keepEchoing(client: WsClient, everyMs = 20): { stop(): Promise<number> } {
  let running = true;
  let count = 0;
  const loop = (async () => {
    for (let i = 0; running && i < 10_000; i++) {
      await expectWsEcho(client, `healthy #${count}`);
      count++;
      await delay(everyMs);
    }
  })();
  loop.catch(() => {}); // reported by stop(); a test that fails before stop() has failed already
  return {
    async stop() {
      running = false;
      await within(loop, 10_000, "the healthy client's echo loop");
      return count;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Hand-made frames (client side: masked) and requests
// ---------------------------------------------------------------------------------------

export const Op = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

export interface FrameSpec {
  fin?: boolean;
  /** Default true: a client must mask (RFC 6455 §5.3). */
  mask?: boolean;
  /** The length to announce when it differs from the payload's (to lie about it). */
  announce?: bigint;
  maskKey?: Buffer;
}

/** One frame as a client sends it, written byte by byte after RFC 6455 §5.2. */
export function clientFrame(opcode: number, payload: Uint8Array | string = Buffer.alloc(0), spec: FrameSpec = {}): Buffer {
  const { fin = true, mask = true } = spec;
  return buildFrame({ opcode, payload, fin, mask: mask ? spec.maskKey : null, length: spec.announce });
}

/** A valid opening handshake for `path`, optionally padded with a header to exactly `size` bytes. */
export function upgradeRequest(path = "/echo", options: { key?: string; size?: number } = {}): Buffer {
  const key = options.key ?? newKey();
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${HOST}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  const head = (extra: string[]): string => [...lines, ...extra].map((line) => line + "\r\n").join("") + "\r\n";
  if (options.size === undefined) return Buffer.from(head([]), "latin1");
  const overhead = Buffer.byteLength(head(["X-Pad: "]), "latin1");
  const padding = options.size - overhead;
  if (padding < 0) throw new RangeError(`a head cannot be as small as ${options.size} bytes`);
  const padded = Buffer.from(head([`X-Pad: ${"a".repeat(padding)}`]), "latin1");
  if (padded.length !== options.size) throw new Error(`padded head is ${padded.length} bytes, not ${options.size}`);
  return padded;
}

// ---------------------------------------------------------------------------------------
// The raw client
// ---------------------------------------------------------------------------------------

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  raw: string;
}

/** A frame from the server, decoded by hand. */
export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket client on a bare `node:net` socket: it does only what the test tells it to
 * (no automatic pong, no close reply unless asked), and records everything it receives.
 */
export class RawClient {
  readonly socket: Socket;
  /** The HTTP response, once its head has arrived. */
  reply: HttpReply | undefined;
  readonly frames: ServerFrame[] = [];
  closeFrame: CloseFrame | undefined;
  /** A description of bytes from the server that are not a valid server frame. */
  malformed: string | undefined;
  /** True once the server's FIN (or a reset) was seen. */
  ended = false;
  /** True once the socket is closed. */
  closed = false;
  /** Resolves when the socket is closed. */
  readonly closedPromise: Promise<void>;
  /** Send a close frame back as soon as one arrives (RFC 6455 §5.5.1). */
  answerClose = false;

  private forget: () => void = () => {};
  private chunks: Buffer[] = [];
  private buffered = 0;
  private needed = 0;
  private readonly listeners = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("end", () => {
      this.ended = true;
      this.notify();
    });
    this.closedPromise = new Promise((resolve) =>
      socket.once("close", () => {
        this.ended = true;
        this.closed = true;
        this.notify();
        resolve();
      }),
    );
  }

  /** Connects to the loopback server; the socket is destroyed in cleanup. */
  static async connect(port: number): Promise<RawClient> {
    const socket = connect({ host: HOST, port });
    const client = new RawClient(socket);
    client.forget = onCleanup(() => socket.destroy());
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      }),
      5_000,
      "a TCP connection",
    );
    return client;
  }

  /** Connects and completes a valid opening handshake (checking the 101 answer). */
  static async open(port: number, path = "/echo"): Promise<RawClient> {
    const client = await RawClient.connect(port);
    await client.handshake(path);
    return client;
  }

  async handshake(path = "/echo"): Promise<void> {
    const key = newKey();
    this.write(upgradeRequest(path, { key }));
    const reply = await this.response();
    // Plain checks, not expect(): this runs 20,000 times in the soak.
    if (reply.status !== 101) throw new Error(`handshake answered with:\n${reply.raw}`);
    if (reply.headers["sec-websocket-accept"] !== acceptFor(key)) throw new Error(`wrong accept:\n${reply.raw}`);
  }

  write(bytes: Uint8Array | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  send(opcode: number, payload?: Uint8Array | string, spec?: FrameSpec): void {
    this.write(clientFrame(opcode, payload, spec));
  }

  sendText(text: string): void {
    this.send(Op.Text, text);
  }

  sendClose(code?: number, reason = ""): void {
    this.send(Op.Close, closeBody(code, reason));
  }

  /** Resolves with whatever `get` returns once it is not undefined; re-checked on every event. */
  until<T>(get: () => T | undefined, ms: number, what: string): Promise<T> {
    const now = get();
    if (now !== undefined) return Promise.resolve(now);
    let listener!: () => void;
    const found = new Promise<T>((resolve) => {
      listener = () => {
        const value = get();
        if (value !== undefined) resolve(value);
      };
      this.listeners.add(listener);
    });
    return within(found, ms, what).finally(() => this.listeners.delete(listener));
  }

  response(ms = 5_000): Promise<HttpReply> {
    return this.until(() => this.reply, ms, "the HTTP response");
  }

  /** The data frames received so far (text and binary), in order. */
  messages(): ServerFrame[] {
    return this.frames.filter((frame) => frame.opcode === Op.Text || frame.opcode === Op.Binary);
  }

  /** Waits until `count` data frames have arrived; resolves with them. */
  messagesUntil(count: number, ms = 5_000): Promise<ServerFrame[]> {
    return this.until(() => (this.messages().length >= count ? this.messages() : undefined), ms, `${count} messages`);
  }

  closeFrameReceived(ms = 5_000): Promise<CloseFrame> {
    return this.until(() => this.closeFrame, ms, "a close frame");
  }

  /** Waits until the server ends the connection (its FIN or a reset). */
  endReceived(ms = 5_000): Promise<true> {
    return this.until(() => (this.ended ? true : undefined), ms, "the server to end the connection");
  }

  /** Waits until the socket is fully closed. */
  closedWithin(ms = 5_000): Promise<void> {
    return within(this.closedPromise, ms, "the client socket to close");
  }

  /** Destroys the socket (and forgets it in the cleanup list). */
  destroy(): void {
    this.socket.destroy();
    this.forget();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered >= this.needed) {
      const data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      let rest: Buffer;
      if (this.reply === undefined) rest = this.parseReply(data);
      else if (this.reply.status === 101) rest = this.parseFrames(data);
      else rest = Buffer.alloc(0); // the body of a refusal is not parsed
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    this.notify();
  }

  private parseReply(data: Buffer): Buffer {
    const end = data.indexOf("\r\n\r\n");
    if (end === -1) return data;
    const raw = data.toString("latin1", 0, end);
    const [statusLine, ...lines] = raw.split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? NaN);
    this.reply = { status, headers, raw };
    return status === 101 ? this.parseFrames(data.subarray(end + 4)) : Buffer.alloc(0);
  }

  /**
   * Decodes complete server frames; returns the incomplete rest and sets `needed`: how many
   * bytes the rest must reach before parsing is worth trying again (a large frame is
   * gathered without re-concatenating on every chunk).
   */
  private parseFrames(data: Buffer): Buffer {
    let pos = 0;
    this.needed = 0;
    while (this.malformed === undefined) {
      const result = decodeServerFrame(data, pos);
      if ("malformed" in result) this.malformed = result.malformed;
      if (!("frame" in result)) {
        if ("needed" in result) this.needed = result.needed;
        break;
      }
      pos = result.next;
      this.frames.push(result.frame);
      if (result.frame.opcode === Op.Close && this.closeFrame === undefined) {
        this.closeFrame = closeFrameOf(result.frame.payload);
        if (this.answerClose) this.sendClose(this.closeFrame.code);
      }
    }
    return data.subarray(pos);
  }
}

/**
 * Decodes the server frame at `pos` (RFC 6455 §5.2; a server never masks): the frame and
 * where the next one starts; or how many bytes from `pos` are needed first; or what is
 * wrong with it.
 */
export function decodeServerFrame(
  data: Buffer,
  pos: number,
): { frame: ServerFrame; next: number } | { needed: number } | { malformed: string } {
  const available = data.length - pos;
  if (available < 2) return { needed: 2 };
  const b0 = data[pos];
  const b1 = data[pos + 1];
  if ((b0 & 0x70) !== 0 || (b1 & 0x80) !== 0) {
    return { malformed: `server frame header ${data.subarray(pos, pos + 2).toString("hex")}: RSV or MASK bit set` };
  }
  let length = b1 & 0x7f;
  let header = 2;
  if (length === 126) {
    if (available < 4) return { needed: 4 };
    length = data.readUInt16BE(pos + 2);
    header = 4;
  } else if (length === 127) {
    if (available < 10) return { needed: 10 };
    length = Number(data.readBigUInt64BE(pos + 2));
    header = 10;
  }
  if (available < header + length) return { needed: header + length };
  const payload = data.subarray(pos + header, pos + header + length);
  return { frame: { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload }, next: pos + header + length };
}

export function closeFrameOf(payload: Buffer): CloseFrame {
  return payload.length >= 2
    ? { code: payload.readUInt16BE(0), reason: payload.toString("utf8", 2) }
    : { code: undefined, reason: "" };
}

// ---------------------------------------------------------------------------------------
// Resources and memory
// ---------------------------------------------------------------------------------------

export interface ResourceCounts {
  /** Ref'ed timers (unref'ed ones are not listed by Node). */
  Timeout: number;
  TCPSocketWrap: number;
}

export function resourceCounts(): ResourceCounts {
  const counts: ResourceCounts = { Timeout: 0, TCPSocketWrap: 0 };
  for (const name of process.getActiveResourcesInfo()) {
    if (name === "Timeout" || name === "TCPSocketWrap") counts[name]++;
  }
  return counts;
}

/** Waits until sockets and timers are back to (at most) `baseline`. */
export async function expectResourcesBack(baseline: ResourceCounts, ms = 5_000): Promise<void> {
  try {
    await waitUntil(
      () => {
        const now = resourceCounts();
        return now.Timeout <= baseline.Timeout && now.TCPSocketWrap <= baseline.TCPSocketWrap;
      },
      ms,
      "timers and sockets to return to the baseline",
    );
  } catch {
    expect(resourceCounts(), "active timers and sockets").toEqual(baseline);
  }
}

let gcFunction: (() => void) | undefined | null = null;

/**
 * `global.gc`, obtained without a command-line flag (vitest's workers are not started with
 * `--expose-gc`): the flag is set at run time and `gc` read from a fresh context.
 */
export function gc(): (() => void) | undefined {
  if (gcFunction === null) {
    try {
      setFlagsFromString("--expose-gc");
      gcFunction = runInNewContext("gc") as () => void;
    } catch {
      gcFunction = undefined;
    }
  }
  return gcFunction;
}

/** Heap in use after a full collection (when available) and a short settle. */
export async function settledHeapUsed(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await nextMacrotask();
    gc()?.();
  }
  return process.memoryUsage().heapUsed;
}

// ---------------------------------------------------------------------------------------
// Deterministic random bytes
// ---------------------------------------------------------------------------------------

/** `length` pseudo-random bytes from `seed` (xorshift32): the same bytes on every run. */
export function seededBytes(seed: number, length: number): Buffer {
  let x = seed >>> 0 || 1;
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Splits `bytes` at the given cut points (any numbers; taken modulo the length, sorted). */
export function chunked(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  if (bytes.length === 0) return [];
  const points = [...new Set(cuts.map((cut) => cut % bytes.length))].filter((p) => p > 0).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** Writes the chunks one per macrotask, so they tend to arrive as separate reads. */
export async function writeChunks(client: RawClient, chunks: readonly Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    if (client.ended) return;
    client.write(chunk);
    await nextMacrotask();
  }
}

export function describeCase(bytes: Buffer): string {
  const hex = bytes.subarray(0, 64).toString("hex");
  return `${bytes.length} bytes: ${hex}${bytes.length > 64 ? "…" : ""}`;
}
