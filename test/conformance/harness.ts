/**
 * The conformance harness: the `wsraw echo` server started in-process, and a raw TCP
 * WebSocket client that builds every byte it sends by hand.
 *
 * Nothing here uses the codec under test (`src/frame`): frames are written byte by byte
 * (any FIN/RSV/opcode, any mask key or none, any declared length in any of the three
 * length encodings), so the client can send exactly the invalid bytes a case needs. What
 * the server sends back is parsed by a small independent reader that also checks the
 * server's own framing (RFC 6455 §5.1-§5.5: unmasked, RSV 0, known opcodes, unfragmented
 * control frames of at most 125 bytes, minimal length encoding, the fragments of one data
 * message at a time). A client that negotiates an extension (deflate-harness.ts) extends
 * the raw client and judges the RSV bits itself.
 *
 * The cases are organised like the Autobahn|Testsuite catalogue; each ends with a closing
 * handshake, as Autobahn's do, so a frame the server should not have sent is caught.
 */
import { createHash } from "node:crypto";
import { type Socket, connect as netConnect } from "node:net";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { broadcastRoute, echoRoute } from "../../src/apps/echo.js";
import { type ServerOptions, type WsrawServer, createServer } from "../../src/server/index.js";
import {
  type CloseFrame,
  type FrameSpec,
  OP,
  acceptFor,
  buildFrame,
  delay,
  maskBytes,
  newKey,
  parseClose,
  readResponseHead,
  toBytes,
  yieldToServer,
  withTimeout,
} from "../support/index.js";

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

/** The limit the server runs with (the CLI's default). */
export const MAX_PAYLOAD = 16 * 1024 * 1024;

/**
 * Bounds: for one expected frame (generous: it only runs out when a case fails), and for
 * the server's TCP close once its close frame has arrived.
 */
export const FRAME_TIMEOUT_MS = 5_000;
export const TCP_CLOSE_TIMEOUT_MS = 2_000;

/** Pause between frames in the "frames" write mode: long enough for separate TCP reads. */
const FRAME_PACE_MS = 2;

// ---------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------

export interface EchoServer {
  server: WsrawServer;
  port: number;
  /** Errors the server reported through `onError` (a handler that threw): must stay empty. */
  errors: unknown[];
}

/**
 * What a section may change about the server: any `createServer` option but `onError`
 * (`maxPayload` defaults to MAX_PAYLOAD; `perMessageDeflate` omitted is the server's
 * default, off), and its routes.
 */
export interface EchoServerOptions extends Omit<ServerOptions, "onError"> {
  /** Registers the routes; default: `/broadcast` and the echo route on every other path. */
  routes?: (server: WsrawServer) => void;
}

/**
 * The server of `wsraw echo --max-payload 16777216` (by default), on 127.0.0.1, an
 * ephemeral port.
 */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const { routes, ...serverOptions } = options;
  const errors: unknown[] = [];
  const server = createServer({
    ...serverOptions,
    maxPayload: serverOptions.maxPayload ?? MAX_PAYLOAD,
    onError: (error) => errors.push(error),
  });
  if (routes !== undefined) routes(server);
  else server.route("/broadcast", broadcastRoute(server)).route("*", echoRoute());
  const address = await server.listen(0, "127.0.0.1");
  return { server, port: address.port, errors };
}

/**
 * Registers the hooks of one section file (or describe block): the server starts before
 * its tests, every client a test opened is destroyed after it, and the server is closed
 * at the end. The getter is valid inside tests.
 */
export function useEchoServer(options: EchoServerOptions = {}): () => EchoServer {
  let echo: EchoServer | undefined;
  beforeAll(async () => {
    echo = await startEchoServer(options);
  });
  afterEach(() => {
    for (const client of openClients.splice(0)) client.destroy();
  });
  afterAll(async () => {
    for (const client of openClients.splice(0)) client.destroy();
    await echo?.server.close();
  });
  return () => {
    if (echo === undefined) throw new Error("the echo server is not started (use inside a test)");
    return echo;
  };
}

/**
 * The last test of every section: after everything the section threw at it, the server
 * still echoes for a fresh client, reported no handler error, and holds no connection once
 * the clients are gone.
 */
export function itStillServes(getServer: () => EchoServer): void {
  it("the server still serves after the section, and ends with no open connection", async () => {
    const echo = getServer();
    const client = await connect(echo.port);
    await client.send([text("still alive")]);
    await client.expectText("still alive");
    await client.closeHandshake();
    await expectServerIdle(echo);
  });
}

/**
 * Ends a section's last test: every client is destroyed, then the server must let go of
 * all its connections and must have reported no handler error.
 */
export async function expectServerIdle(echo: EchoServer): Promise<void> {
  for (const open of openClients.splice(0)) open.destroy();
  const closing = [...echo.server.clients].map((ws) => ws.closed);
  await withTimeout(Promise.all(closing), 5_000, "server connections to close");
  expect(echo.server.connections).toBe(0);
  expect(echo.errors).toEqual([]);
}

// ---------------------------------------------------------------------------------------
// Building frames: any bytes at all
// ---------------------------------------------------------------------------------------

// Shorthands for the frames the tables are made of.
type Extra = Omit<FrameSpec, "opcode" | "payload">;
export const text = (payload: Uint8Array | string = "", extra: Extra = {}): FrameSpec => ({ opcode: OP.TEXT, payload, ...extra });
export const binary = (payload: Uint8Array | string = EMPTY, extra: Extra = {}): FrameSpec => ({ opcode: OP.BINARY, payload, ...extra });
export const cont = (payload: Uint8Array | string = EMPTY, extra: Extra = {}): FrameSpec => ({ opcode: OP.CONT, payload, ...extra });
export const ping = (payload: Uint8Array | string = EMPTY, extra: Extra = {}): FrameSpec => ({ opcode: OP.PING, payload, ...extra });
export const pong = (payload: Uint8Array | string = EMPTY, extra: Extra = {}): FrameSpec => ({ opcode: OP.PONG, payload, ...extra });
/** A close frame: no body when `code` is undefined; `reason` may be raw bytes (invalid UTF-8). */
export function close(code?: number, reason: string | Uint8Array = "", extra: Extra = {}): FrameSpec {
  if (code === undefined) return { opcode: OP.CLOSE, payload: EMPTY, ...extra };
  const body = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), toBytes(reason)]);
  return { opcode: OP.CLOSE, payload: body, ...extra };
}

/**
 * A data message cut into fragments at the given payload offsets (RFC 6455 §5.4): the first
 * frame has the data opcode, the others are continuations, only the last has FIN.
 */
export function fragmentsAt(opcode: number, payload: Uint8Array | string, cuts: number[]): FrameSpec[] {
  const bytes = toBytes(payload);
  const bounds = [0, ...cuts, bytes.length];
  const frames: FrameSpec[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    frames.push({
      opcode: i === 0 ? opcode : OP.CONT,
      fin: i + 2 === bounds.length,
      payload: bytes.subarray(bounds[i], bounds[i + 1]),
    });
  }
  return frames;
}

/** A data message in fragments of `size` payload bytes (the last may be shorter). */
export function fragmentsOf(opcode: number, payload: Uint8Array | string, size: number): FrameSpec[] {
  const bytes = toBytes(payload);
  const cuts: number[] = [];
  for (let at = size; at < bytes.length; at += size) cuts.push(at);
  return fragmentsAt(opcode, bytes, cuts);
}

// ---------------------------------------------------------------------------------------
// Reading the server's frames
// ---------------------------------------------------------------------------------------

export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** The length used the shortest of the three encodings. */
  minimalLength: boolean;
}

/** Bytes received and not yet parsed, kept as the chunks they arrived in. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** A copy of the first `n` bytes (n <= length), leaving them queued. */
  peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const chunk of this.chunks) {
      filled += chunk.copy(out, filled, 0, Math.min(chunk.length, n - filled));
      if (filled === n) break;
    }
    return out;
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    this.length -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const parts: Buffer[] = [];
    let needed = n;
    while (needed > 0) {
      const chunk = this.chunks[0];
      if (chunk.length <= needed) {
        parts.push(chunk);
        this.chunks.shift();
        needed -= chunk.length;
      } else {
        parts.push(chunk.subarray(0, needed));
        this.chunks[0] = chunk.subarray(needed);
        needed = 0;
      }
    }
    return Buffer.concat(parts, n);
  }
}

/** One complete frame from the front of `bytes`, or undefined until it has fully arrived. */
function readFrame(bytes: ByteQueue): Frame | undefined {
  if (bytes.length < 2) return undefined;
  const start = bytes.peek(Math.min(14, bytes.length));
  const b0 = start[0];
  const b1 = start[1];
  const length7 = b1 & 0x7f;
  const masked = (b1 & 0x80) !== 0;
  const headerSize = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (masked ? 4 : 0);
  if (bytes.length < headerSize) return undefined;
  let length = length7;
  let minimalLength = true;
  if (length7 === 126) {
    length = start.readUInt16BE(2);
    minimalLength = length >= 126;
  } else if (length7 === 127) {
    const big = start.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`server frame announces ${big} bytes`);
    length = Number(big);
    minimalLength = length >= 0x10000;
  }
  if (bytes.length < headerSize + length) return undefined;
  const header = bytes.take(headerSize);
  let payload = bytes.take(length);
  if (masked) payload = maskBytes(payload, header.subarray(headerSize - 4));
  return { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload, minimalLength };
}

/**
 * What is wrong with a frame the server sent (RFC 6455 §5.1, §5.2, §5.5), or undefined,
 * the RSV bits aside: those depend on what was negotiated (`RawClient.rsvViolation`).
 */
function serverFrameViolation(frame: Frame): string | undefined {
  if (frame.masked) return "server frame is masked (§5.1)";
  if (!frame.minimalLength) return "server frame length is not minimally encoded (§5.2)";
  if ([0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf].includes(frame.opcode)) {
    return `server frame uses reserved opcode ${frame.opcode}`;
  }
  if (frame.opcode >= 0x8 && !frame.fin) return "server control frame is fragmented (§5.5)";
  if (frame.opcode >= 0x8 && frame.payload.length > 125) return "server control frame is over 125 bytes (§5.5)";
  return undefined;
}

// ---------------------------------------------------------------------------------------
// The raw client
// ---------------------------------------------------------------------------------------

/**
 * How a list of frames is handed to TCP:
 * - "whole": all of it in one write;
 * - "frames": one write per frame, with a short pause between them;
 * - "bytes": one write per byte;
 * - `{ chunk: n }`: writes of n bytes.
 * Between the writes of "bytes" and chunks the client yields to the event loop (the server
 * runs in the same process), so the server reads them as separate chunks.
 */
export type WriteMode = "whole" | "frames" | "bytes" | { chunk: number };

export const describeMode = (mode: WriteMode): string =>
  typeof mode === "string" ? mode : `chunks of ${mode.chunk} B`;

/** A received data message: its opcode (text or binary) and its reassembled payload. */
export interface Message {
  opcode: number;
  payload: Buffer;
}

const openClients: RawClient[] = [];

/**
 * The client of the cases. It negotiates no extension; one that does (deflate-harness.ts)
 * extends it and overrides `rsvViolation` and `nextMessage`.
 */
export class RawClient {
  private readonly incoming = new ByteQueue();
  private readonly frames: Frame[] = [];
  private wake: (() => void) | undefined;
  private violation: Error | undefined;
  /** The server ended its side of TCP (FIN) or the socket closed. */
  ended = false;
  private endedAt = 0;
  /** Frames that arrived after the server's close frame: must stay 0. */
  framesAfterClose = 0;
  private closeSeen = false;
  /** A fragmented server message is in progress (for the continuation checks of §5.4). */
  private inMessage = false;

  constructor(readonly socket: Socket) {
    socket.on("error", () => {}); // ECONNRESET/EPIPE after the server closed: 'close' follows.
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    const end = (): void => {
      if (!this.ended) this.endedAt = performance.now();
      this.ended = true;
      this.notify();
    };
    socket.on("end", end);
    socket.on("close", end);
  }

  private receive(chunk: Buffer): void {
    this.incoming.push(chunk);
    try {
      for (let frame = readFrame(this.incoming); frame !== undefined; frame = readFrame(this.incoming)) {
        const violation = serverFrameViolation(frame) ?? this.rsvViolation(frame) ?? this.sequenceViolation(frame);
        if (violation !== undefined) this.violation ??= new Error(violation);
        if (this.closeSeen) this.framesAfterClose++;
        if (frame.opcode === OP.CLOSE) this.closeSeen = true;
        this.frames.push(frame);
      }
    } catch (error) {
      this.violation ??= error as Error;
    }
    this.notify();
  }

  /**
   * What is wrong with the RSV bits of a server frame, or undefined. With no extension
   * negotiated, any RSV bit is (§5.2); a client that negotiates one overrides this.
   */
  protected rsvViolation(frame: Frame): string | undefined {
    return frame.rsv === 0 ? undefined : `server frame has RSV bits ${frame.rsv} without an extension (§5.2)`;
  }

  /**
   * Data frames must make whole messages, one at a time: a continuation only inside a
   * fragmented message, a new message only once the last one ended; control frames may
   * come in between (§5.4).
   */
  private sequenceViolation(frame: Frame): string | undefined {
    if (frame.opcode >= 0x8) return undefined;
    if (frame.opcode === OP.CONT && !this.inMessage) return "server continuation frame without a message to continue";
    if (frame.opcode !== OP.CONT && this.inMessage) return "server data frame inside a fragmented message";
    this.inMessage = !frame.fin;
    return undefined;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves at the next arrival (or end), or after `ms`. */
  private arrival(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  // ---- Sending ----

  /** Writes bytes as they are. */
  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.writeChunk(bytes);
  }

  /** Builds and writes one frame. */
  sendFrame(spec: FrameSpec): Promise<void> {
    return this.writeChunk(buildFrame(spec));
  }

  /** Builds the frames (or takes raw buffers) and writes them as `mode` says. */
  async send(frames: Array<FrameSpec | Uint8Array>, mode: WriteMode = "whole"): Promise<void> {
    const built = frames.map((f) => (f instanceof Uint8Array ? Buffer.from(f) : buildFrame(f)));
    if (mode === "whole") return this.writeChunk(Buffer.concat(built));
    if (mode === "frames") {
      for (let i = 0; i < built.length; i++) {
        if (i > 0) await delay(FRAME_PACE_MS);
        await this.writeChunk(built[i]);
      }
      return;
    }
    const size = mode === "bytes" ? 1 : mode.chunk;
    const all = Buffer.concat(built);
    for (let at = 0; at < all.length; at += size) {
      if (at > 0) await yieldToServer();
      await this.writeChunk(all.subarray(at, at + size));
    }
  }

  /** Writes one chunk, waiting for 'drain' when the socket buffer is full. */
  private async writeChunk(bytes: Uint8Array): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return;
    if (this.socket.write(bytes)) return;
    await withTimeout(
      new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off("drain", done);
          this.socket.off("close", done);
          resolve();
        };
        this.socket.on("drain", done);
        this.socket.on("close", done);
      }),
      30_000,
      "the socket to drain",
    );
  }

  // ---- Receiving ----

  /** The next frame from the server; throws on timeout, on TCP end, or on a framing violation. */
  async nextFrame(timeoutMs = FRAME_TIMEOUT_MS): Promise<Frame> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.violation !== undefined) throw this.violation;
      const frame = this.frames.shift();
      if (frame !== undefined) return frame;
      if (this.ended) throw new Error("the server closed the connection while a frame was expected");
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no frame from the server within ${timeoutMs} ms`);
      await this.arrival(left);
    }
  }

  /** The next data message, reassembled from its fragments; any control frame in between fails. */
  async nextMessage(timeoutMs = FRAME_TIMEOUT_MS): Promise<Message> {
    const frames = await this.nextMessageFrames(timeoutMs);
    return { opcode: frames[0].opcode, payload: Buffer.concat(frames.map((frame) => frame.payload)) };
  }

  /** The frames of the next data message, first to last (FIN); any control frame in between fails. */
  protected async nextMessageFrames(timeoutMs: number): Promise<Frame[]> {
    const first = await this.nextFrame(timeoutMs);
    if (first.opcode !== OP.TEXT && first.opcode !== OP.BINARY) {
      throw new Error(`expected a data message, got ${describeFrame(first)}`);
    }
    const frames = [first];
    for (let frame = first; !frame.fin; ) {
      frame = await this.nextFrame(timeoutMs);
      if (frame.opcode !== OP.CONT) throw new Error(`expected a continuation, got ${describeFrame(frame)}`);
      frames.push(frame);
    }
    return frames;
  }

  // ---- Expectations ----

  /** The next message is the echo of `payload`: same opcode, same bytes. */
  async expectEcho(opcode: number, payload: Uint8Array | string, timeoutMs = FRAME_TIMEOUT_MS): Promise<Message> {
    const message = await this.nextMessage(timeoutMs);
    expectSameMessage(message, opcode, payload);
    return message;
  }

  async expectText(payload: Uint8Array | string, timeoutMs?: number): Promise<void> {
    await this.expectEcho(OP.TEXT, payload, timeoutMs);
  }

  async expectBinary(payload: Uint8Array | string, timeoutMs?: number): Promise<void> {
    await this.expectEcho(OP.BINARY, payload, timeoutMs);
  }

  /** The next frame is a pong carrying `payload`. */
  async expectPong(payload: Uint8Array | string = EMPTY, timeoutMs = FRAME_TIMEOUT_MS): Promise<void> {
    const frame = await this.nextFrame(timeoutMs);
    expect(describeFrame(frame)).toBe(describeFrame({ ...frame, opcode: OP.PONG, fin: true, payload: Buffer.from(toBytes(payload)) }));
  }

  /**
   * The next frame is a close with `code` (`"empty"`: no body; `"empty-or-1000"`: either),
   * its reason is valid UTF-8, and then the server closes TCP within `tcpTimeoutMs` without
   * sending anything more and without the client closing first.
   */
  async expectClose(
    code: number | "empty" | "empty-or-1000",
    timeoutMs = FRAME_TIMEOUT_MS,
    tcpTimeoutMs = TCP_CLOSE_TIMEOUT_MS,
  ): Promise<CloseFrame> {
    const frame = await this.nextFrame(timeoutMs);
    if (frame.opcode !== OP.CLOSE) throw new Error(`expected a close frame (${code}), got ${describeFrame(frame)}`);
    const received = parseClose(frame.payload);
    if (code === "empty") expect(received.code).toBeUndefined();
    else if (code === "empty-or-1000") expect([undefined, 1000]).toContain(received.code);
    else expect(received.code, `close code (reason ${JSON.stringify(received.reason)})`).toBe(code);
    await this.expectServerEnd(tcpTimeoutMs);
    return received;
  }

  /** The server closes TCP within `timeoutMs`, with no frame left unread and none after its close. */
  async expectServerEnd(timeoutMs = TCP_CLOSE_TIMEOUT_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.ended) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`the server did not close TCP within ${timeoutMs} ms`);
      await this.arrival(left);
    }
    if (this.violation !== undefined) throw this.violation;
    expect(this.frames.map(describeFrame), "frames after the close frame").toEqual([]);
    expect(this.framesAfterClose, "frames after the close frame").toBe(0);
    expect(this.incoming.length, "stray bytes after the last frame").toBe(0);
  }

  /**
   * Ends a case that expects the connection to be healthy: the client closes with 1000, the
   * server answers with exactly that close and nothing else first, then closes TCP.
   */
  async closeHandshake(timeoutMs = FRAME_TIMEOUT_MS): Promise<void> {
    await this.sendFrame(close(1000));
    await this.expectClose(1000, timeoutMs);
  }

  /** When the server ended TCP (performance.now()), once it has. */
  get endTime(): number {
    return this.endedAt;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** `message` is `payload` sent as `opcode`, compared by name and as bytes (readable diffs). */
export function expectSameMessage(message: Message, opcode: number, payload: Uint8Array | string): void {
  expect(opcodeName(message.opcode)).toBe(opcodeName(opcode));
  expect(describeBytes(message.payload)).toBe(describeBytes(toBytes(payload)));
}

/** Opens a TCP connection and performs the opening handshake (RFC 6455 §4.1) by hand. */
export function connect(port: number, path = "/"): Promise<RawClient> {
  return openConnection(port, path, [], (socket, headers) => {
    // No extension is offered, so none is negotiated and every RSV bit must be 0 both ways (§5.2).
    expect(headers.has("sec-websocket-extensions")).toBe(false);
    return new RawClient(socket);
  });
}

/**
 * The opening handshake (RFC 6455 §4.1) by hand, with `extraHeaders` (whole header lines,
 * no CRLF) added to the request. Checks the 101 and its Sec-WebSocket-Accept, then lets
 * `makeClient` check the rest of the response and make the client, which reads from the
 * first byte after it. The client is destroyed after the test, as every client is.
 */
export async function openConnection<C extends RawClient>(
  port: number,
  path: string,
  extraHeaders: string[],
  makeClient: (socket: Socket, headers: Map<string, string>) => C,
): Promise<C> {
  const socket = netConnect({ host: "127.0.0.1", port, allowHalfOpen: true, noDelay: true });
  socket.on("error", () => {});
  const key = newKey();
  const accept = acceptFor(key);
  try {
    const request =
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      extraHeaders.map((line) => `${line}\r\n`).join("") +
      "\r\n";
    const { status, headers, rest } = await readResponseHead(socket, request);
    expect(status).toMatch(/^HTTP\/1\.1 101 /);
    expect(headers.get("sec-websocket-accept")).toBe(accept);
    const client = makeClient(socket, headers);
    openClients.push(client);
    if (rest.length > 0) socket.unshift(rest);
    socket.resume();
    return client;
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------
// Data-driven cases
// ---------------------------------------------------------------------------------------

/** What the server must send, in order. */
export type Expectation =
  | { echo: Uint8Array | string; opcode?: number }
  | { pong: Uint8Array | string }
  | { close: number | "empty" | "empty-or-1000" };

export const echoText = (payload: Uint8Array | string): Expectation => ({ echo: payload, opcode: OP.TEXT });
export const echoBinary = (payload: Uint8Array | string): Expectation => ({ echo: payload, opcode: OP.BINARY });
export const expectPong = (payload: Uint8Array | string = EMPTY): Expectation => ({ pong: payload });
export const failsWith = (code: number): Expectation => ({ close: code });

export interface Case {
  /** Autobahn-style number, e.g. "5.9" (ours where Autobahn has no equivalent: "5.x.3"). */
  id: string;
  title: string;
  frames: Array<FrameSpec | Uint8Array>;
  expect: Expectation[];
  /** Bound for each expected frame (large messages need more). */
  timeoutMs?: number;
  /** Write modes for this case, instead of the table's. */
  modes?: WriteMode[];
  /** Vitest timeout for the whole case (default: the config's). */
  testTimeoutMs?: number;
}

/**
 * Runs one case on a fresh connection: sends its frames as `mode` says, checks every
 * expected frame in order, and, when the case does not end with a close, completes a
 * closing handshake (which also proves nothing unexpected was sent in between).
 */
export async function runCase(port: number, c: Case, mode: WriteMode = "whole"): Promise<void> {
  const client = await connect(port);
  try {
    await client.send(c.frames, mode);
    await expectAll(client, c.expect, c.timeoutMs);
    if (!c.expect.some((e) => "close" in e)) await client.closeHandshake(c.timeoutMs);
  } finally {
    client.destroy();
  }
}

/** Checks the expectations in order on `client`. */
export async function expectAll(client: RawClient, expectations: Expectation[], timeoutMs = FRAME_TIMEOUT_MS): Promise<void> {
  for (const e of expectations) {
    if ("echo" in e) await client.expectEcho(e.opcode ?? (typeof e.echo === "string" ? OP.TEXT : OP.BINARY), e.echo, timeoutMs);
    else if ("pong" in e) await client.expectPong(e.pong, timeoutMs);
    else await client.expectClose(e.close, timeoutMs);
  }
}

/** `it` for every case of a table in every write mode. */
export function itCases(getServer: () => EchoServer, cases: Case[], modes: WriteMode[] = ["whole"]): void {
  for (const c of cases) {
    for (const mode of c.modes ?? modes) {
      it(`${c.id} ${c.title} [${describeMode(mode)}]`, () => runCase(getServer().port, c, mode), c.testTimeoutMs);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------

const EMPTY = Buffer.alloc(0);

/** Hex for short payloads (readable diffs), length + SHA-256 for long ones. */
export function describeBytes(bytes: Uint8Array): string {
  if (bytes.length <= 256) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex") || "(empty)";
  return `<${bytes.length} bytes sha256:${createHash("sha256").update(bytes).digest("hex")}>`;
}

const OPCODE_NAMES: Record<number, string> = { 0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong" };
export const opcodeName = (opcode: number): string => OPCODE_NAMES[opcode] ?? `opcode ${opcode}`;

/** `text (FIN=0) RSV=100 68656c6c6f`: the RSV bits only when set (an extension allows them). */
export function describeFrame(frame: Pick<Frame, "opcode" | "fin" | "payload"> & { rsv?: number }): string {
  const rsv = frame.rsv ? ` RSV=${frame.rsv.toString(2).padStart(3, "0")}` : "";
  const body = frame.opcode === OP.CLOSE ? describeClose(frame.payload) : describeBytes(frame.payload);
  return `${opcodeName(frame.opcode)}${frame.fin ? "" : " (FIN=0)"}${rsv} ${body}`;
}

function describeClose(payload: Buffer): string {
  try {
    const { code, reason } = parseClose(payload);
    return code === undefined ? "(no code)" : `${code} ${JSON.stringify(reason)}`;
  } catch (error) {
    return `invalid: ${(error as Error).message}`;
  }
}
