/**
 * A hand-driven WebSocket client on `node:net`: it writes request bytes as given, reads
 * the response head, then sends masked frames and parses the server's frames with the
 * codec's `FrameParser` in the client role. It never answers anything by itself (no pong,
 * no close reply).
 */
import { type Socket, connect } from "node:net";
import {
  FrameParser,
  Opcode,
  encodeClose,
  encodeMessage,
  encodePing,
  encodePong,
} from "../../src/frame/index.js";
import { MiB, buildFrame } from "./frames.js";
import { HOST, type RequestSpec, acceptFor, newKey, upgradeRequest } from "./handshake.js";
import { AsyncQueue, WAIT_MS, deferred, within } from "./timeouts.js";

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
      WAIT_MS,
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
    const result = await within(this.responseReady.promise, ms, "the HTTP response");
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
    await within(this.closed, ms, "the TCP connection to close");
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
  return buildFrame({
    opcode: options.opcode,
    payload: options.payload ?? "",
    fin: options.fin,
    rsv: options.rsv,
    mask: (options.masked ?? true) ? undefined : null,
  });
}

export { Opcode };
