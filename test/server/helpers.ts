/**
 * Helpers for the server's integration tests: real sockets on 127.0.0.1, servers on port 0.
 *
 * - `useResources()` gives each test file a tracker: servers and clients made through it
 *   are torn down after each test (clients destroyed first, then servers closed).
 * - `RawClient` is a hand-driven client on `node:net`: it writes request bytes as given,
 *   reads the response head, then sends hand-built masked frames and parses the server's
 *   frames with the codec's `FrameParser` in the client role.
 * - `WsPeer` wraps a `ws` client with queues, so no message or close is missed.
 * - `Tap` is a route that hands each server-side connection to the test.
 *
 * Every wait is bounded (`within`), so a failure reports what was awaited instead of
 * hanging the suite.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { type Socket, connect } from "node:net";
import { afterAll, afterEach } from "vitest";
import WsClient from "ws";
import {
  FrameParser,
  Opcode,
  encodeClose,
  encodeMessage,
  encodePing,
  encodePong,
} from "../../src/frame/index.js";
import {
  type Route,
  type RouteOptions,
  type ServerOptions,
  type UpgradedRequest,
  type WebSocket,
  type WsrawServer,
  createServer,
  requireWebSocket,
} from "../../src/index.js";

export const HOST = "127.0.0.1";
/** Default bound for one awaited event; generous, the machine may be slow and busy. */
export const WAIT_MS = 10_000;
export const KiB = 1024;
export const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Bounded waiting
// ---------------------------------------------------------------------------------------

/** `promise`, or a rejection naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One turn of the event loop: lets nextTick/microtask work and pending I/O callbacks run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Whether `promise` has settled by the next turn of the event loop. */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await turn();
  return settled;
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A FIFO of events that a test awaits one by one, each wait bounded. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(item: T) => void> = [];

  constructor(private readonly label: string) {}

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(item);
    else this.items.push(item);
  }

  next(ms = WAIT_MS): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    const waiter = deferred<T>();
    this.waiters.push(waiter.resolve);
    return within(waiter.promise, `the next ${this.label}`, ms).catch((error: unknown) => {
      const index = this.waiters.indexOf(waiter.resolve);
      if (index !== -1) this.waiters.splice(index, 1);
      throw error;
    });
  }

  /** Items received so far and not yet taken. */
  drain(): T[] {
    return this.items.splice(0);
  }
}

// ---------------------------------------------------------------------------------------
// Handshake requests
// ---------------------------------------------------------------------------------------

export const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A fresh Sec-WebSocket-Key: base64 of 16 random bytes (RFC 6455 §4.1). */
export function newKey(): string {
  return randomBytes(16).toString("base64");
}

/** The Sec-WebSocket-Accept for `key`, computed here independently (RFC 6455 §4.2.2). */
export function acceptFor(key: string): string {
  return createHash("sha1").update(key + WS_GUID).digest("base64");
}

/** Header values: `null` removes a default header, an array repeats the header. */
export type HeaderSpec = Record<string, string | readonly string[] | null>;

export interface RequestSpec {
  method?: string;
  path?: string;
  httpVersion?: string;
  /** Replaces the whole request line. */
  requestLine?: string;
  key?: string;
  headers?: HeaderSpec;
}

/** Request-head bytes: the request line, the header lines, the empty line. */
export function requestHead(requestLine: string, headers: HeaderSpec): Buffer {
  const lines = [requestLine];
  for (const [name, value] of Object.entries(headers)) {
    if (value === null) continue;
    for (const item of typeof value === "string" ? [value] : value) lines.push(`${name}: ${item}`);
  }
  return Buffer.from(lines.map((line) => line + "\r\n").join("") + "\r\n", "latin1");
}

/** A valid opening handshake request (RFC 6455 §4.1), altered by `spec`. */
export function upgradeRequest(spec: RequestSpec = {}): Buffer {
  const line = spec.requestLine ?? `${spec.method ?? "GET"} ${spec.path ?? "/"} HTTP/${spec.httpVersion ?? "1.1"}`;
  return requestHead(line, {
    Host: HOST,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": spec.key ?? newKey(),
    "Sec-WebSocket-Version": "13",
    ...spec.headers,
  });
}

/** A plain HTTP/1.1 request (no upgrade). */
export function plainRequest(spec: RequestSpec = {}): Buffer {
  const line = spec.requestLine ?? `${spec.method ?? "GET"} ${spec.path ?? "/"} HTTP/${spec.httpVersion ?? "1.1"}`;
  return requestHead(line, { Host: HOST, ...spec.headers });
}

// ---------------------------------------------------------------------------------------
// The raw client
// ---------------------------------------------------------------------------------------

export interface HttpResponse {
  status: number;
  statusLine: string;
  /** By lower-cased name; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** For a 101, empty; otherwise every byte after the head until the server closed. */
  body: Buffer;
}

export type ServerFrame =
  | { type: "text"; data: string }
  | { type: "binary"; data: Buffer }
  | { type: "ping"; data: Buffer }
  | { type: "pong"; data: Buffer }
  | { type: "close"; code: number; reason: string };

/**
 * A client that writes exactly the bytes a test gives it. Incoming bytes are read as an
 * HTTP response head; after a 101 they go to a `FrameParser` (client role), whose events
 * queue up in `frames`. It never answers anything by itself (no pong, no close reply).
 */
export class RawClient {
  readonly frames = new AsyncQueue<ServerFrame>("frame from the server");
  /** Resolves when the server has ended its side of the TCP connection (FIN). */
  readonly ended: Promise<void>;
  /** Resolves when the TCP connection is fully closed. */
  readonly closed: Promise<void>;
  /** A socket error (ECONNRESET...), if any. */
  error: Error | undefined;
  /** A protocol error in what the server sent: always a bug of the server. */
  parseError: unknown;

  private head = Buffer.alloc(0);
  private parsed: HttpResponse | undefined;
  private readonly responseReady = deferred<HttpResponse | Error>();
  private readonly bodyChunks: Buffer[] = [];
  private readonly parser = new FrameParser(
    {
      onMessage: (payload, binary) =>
        this.frames.push(
          binary ? { type: "binary", data: Buffer.from(payload) } : { type: "text", data: payload.toString("utf8") },
        ),
      onPing: (payload) => this.frames.push({ type: "ping", data: Buffer.from(payload) }),
      onPong: (payload) => this.frames.push({ type: "pong", data: Buffer.from(payload) }),
      onClose: (code, reason) => this.frames.push({ type: "close", code, reason }),
    },
    { role: "client", maxPayload: 64 * MiB },
  );

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (error) => (this.error = error));
    this.ended = new Promise((resolve) => {
      socket.once("end", resolve);
      socket.once("close", resolve);
    });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    void this.closed.then(() => this.finishResponse());
  }

  /** `allowHalfOpen`: the server's FIN does not end this side (it stays open until destroyed). */
  static connect(port: number, host = HOST, allowHalfOpen = false): Promise<RawClient> {
    const socket = connect({ port, host, noDelay: true, allowHalfOpen });
    return within(
      new Promise((resolve, reject) => {
        socket.once("connect", () => resolve(new RawClient(socket)));
        socket.once("error", reject);
      }),
      `a TCP connection to ${host}:${port}`,
    );
  }

  write(bytes: Buffer | readonly Buffer[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.concat(bytes));
  }

  /** Writes `bytes` one byte per write, each after the previous one was handed to the kernel. */
  async writeByteByByte(bytes: Buffer): Promise<void> {
    for (let i = 0; i < bytes.length; i++) {
      await new Promise<void>((resolve, reject) =>
        this.socket.write(bytes.subarray(i, i + 1), (error) => (error ? reject(error) : resolve())),
      );
    }
  }

  /** The response: at its head for a 101, at the end of the connection otherwise. */
  async response(ms = WAIT_MS): Promise<HttpResponse> {
    const result = await within(this.responseReady.promise, "the HTTP response", ms);
    if (result instanceof Error) throw result;
    return result;
  }

  /** Sends `request` and expects 101 with the right Sec-WebSocket-Accept. */
  async handshake(request: RequestSpec = {}): Promise<HttpResponse> {
    const key = request.key ?? newKey();
    this.write(upgradeRequest({ ...request, key }));
    const response = await this.response();
    if (response.status !== 101) {
      throw new Error(`expected 101, got ${response.statusLine}: ${response.body.toString()}`);
    }
    if (response.headers["sec-websocket-accept"] !== acceptFor(key)) {
      throw new Error(`wrong Sec-WebSocket-Accept ${response.headers["sec-websocket-accept"]}`);
    }
    return response;
  }

  // Masked frames, as a client must send them (RFC 6455 §5.3).
  sendText(text: string, fragmentSize?: number): void {
    this.write(encodeMessage(text, { mask: true, fragmentSize }));
  }
  sendBinary(bytes: Uint8Array, fragmentSize?: number): void {
    this.write(encodeMessage(bytes, { mask: true, fragmentSize }));
  }
  ping(data: string | Uint8Array = ""): void {
    this.write(encodePing(Buffer.from(data), { mask: true }));
  }
  pong(data: string | Uint8Array = ""): void {
    this.write(encodePong(Buffer.from(data), { mask: true }));
  }
  sendClose(code?: number, reason?: string): void {
    this.write(encodeClose(code, reason, { mask: true }));
  }

  nextFrame(ms = WAIT_MS): Promise<ServerFrame> {
    return this.frames.next(ms);
  }

  /** Waits for the TCP connection to be closed by the server. */
  async waitClosed(ms = WAIT_MS): Promise<void> {
    await within(this.closed, "the TCP connection to close", ms);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.parsed !== undefined) {
      if (this.parsed.status === 101) this.parse(chunk);
      else this.bodyChunks.push(chunk);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    const end = this.head.indexOf("\r\n\r\n");
    if (end === -1) return;
    const [statusLine, ...lines] = this.head.toString("latin1", 0, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? NaN);
    this.parsed = { status, statusLine, headers, body: Buffer.alloc(0) };
    const rest = this.head.subarray(end + 4);
    if (status === 101) {
      this.responseReady.resolve(this.parsed);
      if (rest.length > 0) this.parse(rest);
    } else if (rest.length > 0) {
      this.bodyChunks.push(rest);
    }
  }

  private parse(chunk: Buffer): void {
    try {
      this.parser.push(chunk);
    } catch (error) {
      this.parseError = error;
    }
  }

  private finishResponse(): void {
    if (this.parsed === undefined) {
      const got = this.head.toString("latin1");
      this.responseReady.resolve(new Error(`connection closed before a response head; got ${JSON.stringify(got)}`));
    } else if (this.parsed.status !== 101) {
      this.parsed.body = Buffer.concat(this.bodyChunks);
      this.responseReady.resolve(this.parsed);
    }
  }
}

/** Builds a frame byte by byte, with any bits set, for frames the encoder refuses to make. */
export function handmadeFrame(options: {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  /** RSV1..RSV3 as the 3 bits 0b100, 0b010, 0b001. */
  rsv?: number;
  masked?: boolean;
}): Buffer {
  const payload = Buffer.from(options.payload ?? "");
  const masked = options.masked ?? true;
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0));
  header[0] = ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | options.opcode;
  header[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(length, 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!masked) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  key.copy(header, header.length - 4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ key[i & 3]));
  return Buffer.concat([header, body]);
}

export { Opcode };

// ---------------------------------------------------------------------------------------
// The `ws` client, with queues
// ---------------------------------------------------------------------------------------

export type PeerMessage = string | Buffer;

/** A `ws` client whose messages, pings and close are queued from the start. */
export class WsPeer {
  readonly messages = new AsyncQueue<PeerMessage>("message at the ws client");
  readonly pings = new AsyncQueue<Buffer>("ping at the ws client");
  /** The close code and reason the client saw (1006 when TCP ended without a close). */
  readonly closeEvent: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WsClient) {
    ws.on("message", (data: Buffer, isBinary: boolean) => this.messages.push(isBinary ? data : data.toString("utf8")));
    ws.on("ping", (data: Buffer) => this.pings.push(data));
    ws.on("error", () => {}); // reported through 'close'
    this.closeEvent = new Promise((resolve) =>
      ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
    );
  }

  static open(url: string, protocols?: string | string[], options: WsClient.ClientOptions = {}): Promise<WsPeer> {
    const ws = new WsClient(url, protocols, options);
    const peer = new WsPeer(ws);
    return within(
      new Promise<WsPeer>((resolve, reject) => {
        ws.once("open", () => resolve(peer));
        ws.once("unexpected-response", (_req, res) => {
          reject(new Error(`unexpected response ${res.statusCode}`));
          ws.terminate();
        });
        ws.once("error", reject);
      }),
      `the ws client to open ${url}`,
    ).catch((error: unknown) => {
      ws.terminate();
      throw error;
    });
  }

  next(ms = WAIT_MS): Promise<PeerMessage> {
    return this.messages.next(ms);
  }

  closed(ms = WAIT_MS): Promise<{ code: number; reason: string }> {
    return within(this.closeEvent, "the ws client's close event", ms);
  }
}

// ---------------------------------------------------------------------------------------
// Server-side handlers and routes
// ---------------------------------------------------------------------------------------

/** Sends every message back with its opcode, respecting the send buffer's high-water mark. */
export async function echo(ws: WebSocket): Promise<void> {
  for await (const message of ws) {
    if (!ws.send(message)) await ws.drained();
  }
}

export function echoRoute(options?: RouteOptions): Route {
  return requireWebSocket(({ websocket }) => echo(websocket), options);
}

/**
 * A route that hands each accepted connection to the test (`next()`), then runs `body`
 * (default: keep the connection open until it closes, so the test drives it).
 */
export class Tap {
  readonly requests = new AsyncQueue<UpgradedRequest>("connection accepted by the server");

  constructor(private readonly body: (req: UpgradedRequest) => Promise<unknown> = (req) => req.websocket.closed) {}

  route(options?: RouteOptions): Route {
    return requireWebSocket(async (req) => {
      this.requests.push(req);
      await this.body(req);
    }, options);
  }

  async next(ms = WAIT_MS): Promise<WebSocket> {
    return (await this.requests.next(ms)).websocket;
  }
}

// ---------------------------------------------------------------------------------------
// Resource tracking
// ---------------------------------------------------------------------------------------

export interface TestServer {
  server: WsrawServer;
  port: number;
  /** `ws://127.0.0.1:PORT/path` */
  url(path?: string): string;
}

/** Servers and clients of a test, torn down together. */
export class Resources {
  private servers: WsrawServer[] = [];
  private clients: Array<{ destroy(): void }> = [];
  private cleanups: Array<() => unknown> = [];

  async server(routes: Record<string, Route>, options: ServerOptions = {}): Promise<TestServer> {
    const server = createServer(options);
    for (const [path, route] of Object.entries(routes)) server.route(path, route);
    const { port } = await server.listen(0, HOST);
    this.servers.push(server);
    return { server, port, url: (path = "/") => `ws://${HOST}:${port}${path}` };
  }

  /** A raw client, connected (no request sent yet). */
  async raw(port: number, allowHalfOpen = false): Promise<RawClient> {
    const client = await RawClient.connect(port, HOST, allowHalfOpen);
    this.clients.push(client);
    return client;
  }

  /** A raw client past a successful handshake. */
  async rawWebSocket(port: number, request: RequestSpec = {}): Promise<RawClient> {
    const client = await this.raw(port);
    await client.handshake(request);
    return client;
  }

  /** Sends one request on a new connection and returns the whole response. */
  async request(port: number, bytes: Buffer): Promise<HttpResponse> {
    const client = await this.raw(port);
    client.write(bytes);
    return client.response();
  }

  async ws(url: string, protocols?: string | string[], options?: WsClient.ClientOptions): Promise<WsPeer> {
    const peer = await WsPeer.open(url, protocols, options);
    this.clients.push({ destroy: () => peer.ws.terminate() });
    return peer;
  }

  /** Runs `cleanup` at teardown, after the clients are destroyed and before the servers close. */
  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  async release(): Promise<void> {
    for (const client of this.clients.splice(0)) client.destroy();
    for (const cleanup of this.cleanups.splice(0)) await cleanup();
    const servers = this.servers.splice(0);
    await within(Promise.all(servers.map((server) => server.close())), "the test servers to close", 20_000);
  }
}

/** A resource tracker released after each test (or, with "all", after the file). */
export function useResources(scope: "each" | "all" = "each"): Resources {
  const resources = new Resources();
  (scope === "each" ? afterEach : afterAll)(() => resources.release());
  return resources;
}

/**
 * Checks that the server at `port` still completes a handshake on `path` and echoes a
 * message: what every rejection test ends with.
 */
export async function expectEchoes(resources: Resources, port: number, path = "/echo"): Promise<void> {
  const client = await resources.rawWebSocket(port, { path });
  client.sendText("still alive");
  const frame = await client.nextFrame();
  if (frame.type !== "text" || frame.data !== "still alive") {
    throw new Error(`expected the echo of "still alive", got ${JSON.stringify(frame)}`);
  }
  client.destroy();
}

/** Bytes 0..255 repeating, `size` long: easy to check, not all the same. */
export function patternBytes(size: number, seed = 0): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** Printable ASCII text, `size` characters (= bytes) long. */
export function patternText(size: number): string {
  const unit = "The quick brown fox jumps over the lazy dog 0123456789. ";
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

// ---------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------

/** Runs `node ...args` to completion and returns its output; killed (by PID) after `ms`. */
export function runNode(args: readonly string[], ms = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProgram(process.execPath, args, ms);
}

/** Runs `command` with `args`, killed after `ms`; resolves with its exit code and output. */
export async function runProgram(
  command: string,
  args: readonly string[],
  ms = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  try {
    const code = await within(exited, `${command} ${args.join(" ")} to exit`, ms);
    return { code, stdout, stderr };
  } catch (error) {
    killChild(child);
    throw new Error(`${(error as Error).message}; stdout: ${stdout}; stderr: ${stderr}`);
  }
}

/** Sends SIGKILL to `child` by its PID, if it is still running. */
export function killChild(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/**
 * Starts a long-running `node ...args` and resolves once a line of its stdout matches
 * `ready`, with the match. The process is killed by PID at teardown.
 */
export async function startNode(
  resources: Resources,
  args: readonly string[],
  ready: RegExp,
  ms = 20_000,
): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  resources.defer(async () => {
    killChild(child);
    await within(exited, "the child process to exit");
  });
  let output = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const match = await within(
    new Promise<RegExpExecArray>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
        const found = ready.exec(output);
        if (found) resolve(found);
      });
      child.once("close", (code) => reject(new Error(`exited with ${code} before ready: ${output}`)));
    }),
    `node ${args.join(" ")} to print ${ready}`,
    ms,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; output so far: ${output}`);
  });
  return { child, match, output: () => output };
}
