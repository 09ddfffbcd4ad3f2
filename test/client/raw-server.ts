/**
 * A raw TCP "WebSocket server" that the client conformance tests script byte for byte.
 *
 * Nothing here uses wsraw's own code: the handshake request is parsed and checked by
 * hand (RFC 6455 §4.1: GET, Host, Upgrade, Connection, a Sec-WebSocket-Key that is base64
 * of 16 bytes and new for every connection, Version 13, the offered subprotocols and
 * extensions), the accept value is computed here with SHA-1, and the client's frames are
 * read by a small parser of its own that asserts what a server must see from a client
 * (RFC 6455 §5.1-§5.3): every frame masked, a masking key that changes from frame to frame,
 * minimal length encodings, no RSV bits unless an extension was negotiated.
 *
 * Each test takes the next connection with `server.next()` and answers whatever its case
 * needs with `peer.write()` (and friends), so a client can be shown exactly the bytes a
 * broken or hostile server would send. Every wait is bounded.
 */
import { type Server, type Socket, createServer } from "node:net";
import { expect } from "vitest";
import { acceptFor, sleep, within } from "../support/index.js";

/** Bound of one wait for bytes from the client (only reached when a case fails). */
export const WAIT_MS = 3_000;

/** Every Sec-WebSocket-Key seen by any raw server in this process: a key must never repeat. */
const keysSeen = new Set<string>();

/** What the client asked for, as the raw server read it. */
export interface ClientHandshake {
  method: string;
  target: string;
  httpVersion: string;
  /** Header fields by lower-cased name, repeated fields joined with ", ". */
  headers: Record<string, string>;
  /** Header names in order, as sent (for duplicate checks). */
  names: string[];
  key: string;
  /** The subprotocols offered, in order ([] when none). */
  protocols: string[];
  /** The Sec-WebSocket-Extensions value, or undefined. */
  extensions: string | undefined;
}

/** What a case expects in the request beyond the RFC's fixed parts. */
export interface HandshakeExpectations {
  /** Default "/". */
  target?: string;
  /** The exact list offered; default: no Sec-WebSocket-Protocol header at all. */
  protocols?: string[];
  /** A pattern the Sec-WebSocket-Extensions value must match; default: no such header. */
  extensions?: RegExp;
  /** Extra headers that must be present with these values (lower-cased names). */
  headers?: Record<string, string>;
}

/** One frame from the client, unmasked. */
export interface ClientFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  key: Buffer;
  payload: Buffer;
}

/** A close frame's body, decoded. */
export interface CloseBody {
  code: number | undefined;
  reason: string;
}

export function decodeCloseBody(payload: Buffer): CloseBody {
  if (payload.length === 0) return { code: undefined, reason: "" };
  expect(payload.length, "a close body with a code has at least 2 bytes").toBeGreaterThanOrEqual(2);
  const reason = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2));
  return { code: payload.readUInt16BE(0), reason };
}

function hasToken(value: string | undefined, token: string): boolean {
  return (
    value !== undefined &&
    value
      .split(",")
      .map((part) => part.trim().toLowerCase())
      .includes(token)
  );
}

/** One TCP connection from the client, read and written by hand. */
export class RawPeer {
  readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  /** The client's FIN arrived. */
  ended = false;
  /** The TCP connection is closed (FIN both ways, a RST, or destroyed here). */
  closed = false;
  /** How many bytes of handshake request arrived (for "nothing was sent" checks). */
  bytesReceived = 0;
  /** Masking keys of this connection's frames, hex: none may repeat. */
  private readonly maskKeys = new Set<string>();
  /** RSV bits a negotiated extension allows on the client's frames. */
  allowedRsv = 0;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.notify();
    });
    socket.on("end", () => {
      this.ended = true;
      this.notify();
    });
    socket.on("close", () => {
      this.closed = true;
      this.notify();
    });
    socket.on("error", () => {});
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Waits until `ready` returns a value (checked on every event), or `ms` pass. */
  private async until<T>(ready: () => T | undefined, what: string, ms = WAIT_MS): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      if (this.ended || this.closed) {
        throw new Error(`the client ended the connection while the server waited for ${what} (${this.buffer.length} bytes unread)`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Reads the request head (up to the empty line) and checks it as RFC 6455 §4.1 requires. */
  async readHandshake(expected: HandshakeExpectations = {}): Promise<ClientHandshake> {
    const text = await this.until(() => {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end === -1) return undefined;
      const head = this.buffer.subarray(0, end).toString("latin1");
      this.buffer = this.buffer.subarray(end + 4);
      return head;
    }, "the handshake request");
    expect(this.buffer.length, "nothing follows the request before the 101").toBe(0);
    const [requestLine, ...lines] = text.split("\r\n");
    const match = /^(\S+) (\S+) HTTP\/(\d\.\d)$/.exec(requestLine);
    expect(match, `request line ${JSON.stringify(requestLine)}`).not.toBeNull();
    const [, method, target, httpVersion] = match!;
    const headers: Record<string, string> = {};
    const names: string[] = [];
    for (const line of lines) {
      const colon = line.indexOf(":");
      expect(colon, `header line ${JSON.stringify(line)}`).toBeGreaterThan(0);
      const name = line.slice(0, colon);
      expect(name, "a header name is a token").toMatch(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
      const value = line.slice(colon + 1).trim();
      const lower = name.toLowerCase();
      names.push(lower);
      headers[lower] = headers[lower] === undefined ? value : `${headers[lower]}, ${value}`;
    }
    // RFC 6455 §4.1: the fixed parts of the client's handshake.
    expect(method).toBe("GET");
    expect(httpVersion).toBe("1.1");
    expect(target).toBe(expected.target ?? "/");
    const port = this.socket.localPort;
    expect(headers["host"]).toBe(`127.0.0.1:${port}`);
    expect(hasToken(headers["upgrade"], "websocket"), `Upgrade: ${headers["upgrade"]}`).toBe(true);
    expect(hasToken(headers["connection"], "upgrade"), `Connection: ${headers["connection"]}`).toBe(true);
    expect(headers["sec-websocket-version"]).toBe("13");
    for (const once of ["host", "upgrade", "sec-websocket-key", "sec-websocket-version"]) {
      expect(names.filter((name) => name === once), `${once} sent once`).toHaveLength(1);
    }
    const key = headers["sec-websocket-key"];
    expect(key, "Sec-WebSocket-Key is base64 of 16 bytes").toMatch(/^[A-Za-z0-9+/]{21}[AQgw]==$/);
    expect(Buffer.from(key, "base64")).toHaveLength(16);
    expect(keysSeen.has(key), `Sec-WebSocket-Key ${key} was used by an earlier connection`).toBe(false);
    keysSeen.add(key);
    const protocolHeader = headers["sec-websocket-protocol"];
    const protocols = protocolHeader === undefined ? [] : protocolHeader.split(",").map((p) => p.trim());
    if (expected.protocols === undefined) expect(protocolHeader, "no subprotocol offered").toBeUndefined();
    else expect(protocols).toEqual(expected.protocols);
    const extensions = headers["sec-websocket-extensions"];
    if (expected.extensions === undefined) expect(extensions, "no extension offered").toBeUndefined();
    else expect(extensions).toMatch(expected.extensions);
    for (const [name, value] of Object.entries(expected.headers ?? {})) expect(headers[name]).toBe(value);
    return { method, target, httpVersion, headers, names, key, protocols, extensions };
  }

  /** The text of a valid 101 for `key`, with `extra` header lines, ending with the empty line. */
  static response101(key: string, extra: string[] = []): string {
    return [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${acceptFor(key)}`,
      ...extra,
      "",
      "",
    ].join("\r\n");
  }

  /** Reads and checks the request, then answers with a valid 101 (and `extra` header lines). */
  async accept(expected: HandshakeExpectations = {}, extra: string[] = []): Promise<ClientHandshake> {
    const handshake = await this.readHandshake(expected);
    this.write(RawPeer.response101(handshake.key, extra));
    return handshake;
  }

  write(data: string | Uint8Array): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /**
   * Writes `chunks` one at a time, `paceMs` apart, so that the client reads them as
   * separate TCP segments (Nagle is off on both sides).
   */
  async writeChunks(chunks: readonly Uint8Array[], paceMs = 1): Promise<void> {
    for (let i = 0; i < chunks.length; i++) {
      if (i > 0) await sleep(paceMs);
      this.write(chunks[i]);
    }
  }

  /** Ends this side (FIN) after what was written. */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Unread bytes from the client. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Tries to take one complete frame from the buffer. */
  private takeFrame(): ClientFrame | undefined {
    const bytes = this.buffer;
    if (bytes.length < 2) return undefined;
    const b0 = bytes[0];
    const b1 = bytes[1];
    let at = 2;
    let length = b1 & 0x7f;
    if (length === 126) {
      if (bytes.length < 4) return undefined;
      length = bytes.readUInt16BE(2);
      at = 4;
      expect(length, "the minimal length encoding (RFC 6455 §5.2)").toBeGreaterThanOrEqual(126);
    } else if (length === 127) {
      if (bytes.length < 10) return undefined;
      const big = bytes.readBigUInt64BE(2);
      expect(big >> 63n, "the most significant bit of a 64-bit length is 0").toBe(0n);
      expect(big, "the minimal length encoding (RFC 6455 §5.2)").toBeGreaterThanOrEqual(65536n);
      expect(big, "a frame this test can hold").toBeLessThanOrEqual(BigInt(64 * 1024 * 1024));
      length = Number(big);
      at = 10;
    }
    // RFC 6455 §5.3: "The masking key ... MUST be ... from a strong source of entropy";
    // §5.1: "a client MUST mask all frames that it sends to the server".
    expect(b1 & 0x80, "every frame a client sends is masked (RFC 6455 §5.1)").toBe(0x80);
    if (bytes.length < at + 4 + length) return undefined;
    const key = Buffer.from(bytes.subarray(at, at + 4));
    at += 4;
    const payload = Buffer.from(bytes.subarray(at, at + length));
    for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    this.buffer = bytes.subarray(at + length);
    const hex = key.toString("hex");
    expect(this.maskKeys.has(hex), `masking key ${hex} used twice on one connection (RFC 6455 §5.3)`).toBe(false);
    this.maskKeys.add(hex);
    const frame: ClientFrame = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, key, payload };
    expect(frame.rsv & ~this.allowedRsv, "RSV bits without an extension that defines them").toBe(0);
    expect([0x0, 0x1, 0x2, 0x8, 0x9, 0xa], "a defined opcode").toContain(frame.opcode);
    if (frame.opcode >= 0x8) {
      expect(frame.fin, "control frames are not fragmented").toBe(true);
      expect(frame.payload.length, "control frames carry at most 125 bytes").toBeLessThanOrEqual(125);
    }
    return frame;
  }

  /** The client's next frame (bounded wait). */
  readFrame(ms = WAIT_MS): Promise<ClientFrame> {
    return this.until(() => this.takeFrame(), "a frame from the client", ms);
  }

  /** How many distinct masking keys this connection's frames used. */
  get maskKeyCount(): number {
    return this.maskKeys.size;
  }

  /**
   * The client's next frame, which must be a close frame: its body decoded. Data frames
   * before it are not allowed here.
   */
  async readClose(ms = WAIT_MS): Promise<CloseBody> {
    const frame = await this.readFrame(ms);
    expect(frame.opcode, `expected a close frame, got opcode ${frame.opcode} (${frame.payload.toString("hex")})`).toBe(0x8);
    return decodeCloseBody(frame.payload);
  }

  /**
   * The client's next data message, fragments joined; control frames met on the way are
   * collected into `controls` (pongs, a close...). Stops at a close frame: returns null.
   */
  async readMessage(controls: ClientFrame[] = [], ms = WAIT_MS): Promise<{ binary: boolean; data: Buffer } | null> {
    const parts: Buffer[] = [];
    let opcode = -1;
    for (;;) {
      const frame = await this.readFrame(ms);
      if (frame.opcode >= 0x8) {
        controls.push(frame);
        if (frame.opcode === 0x8) {
          expect(opcode, "a close frame in the middle of a fragmented message").toBe(-1);
          return null;
        }
        continue;
      }
      if (opcode === -1) {
        expect(frame.opcode, "a message starts with a text or binary frame").not.toBe(0x0);
        opcode = frame.opcode;
      } else {
        expect(frame.opcode, "a message goes on with continuation frames").toBe(0x0);
      }
      parts.push(frame.payload);
      if (frame.fin) return { binary: opcode === 0x2, data: Buffer.concat(parts) };
    }
  }

  /** Resolves once the client has ended its side of TCP (FIN) or the connection closed. */
  async waitEnd(ms = WAIT_MS): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.ended && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for the client to end TCP`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/** A listener on 127.0.0.1 whose connections the tests take one by one. */
export class RawServer {
  private readonly server: Server;
  private readonly ready: RawPeer[] = [];
  private waiting: ((peer: RawPeer) => void) | undefined;
  private readonly peers = new Set<RawPeer>();
  /** Connections accepted so far. */
  connections = 0;

  private constructor(server: Server) {
    this.server = server;
    server.on("connection", (socket) => {
      this.connections++;
      const peer = new RawPeer(socket);
      this.peers.add(peer);
      socket.on("close", () => this.peers.delete(peer));
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting !== undefined) waiting(peer);
      else this.ready.push(peer);
    });
  }

  static async start(): Promise<RawServer> {
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return new RawServer(server);
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    return address.port;
  }

  url(path = "/"): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** The next connection (bounded wait). */
  next(ms = WAIT_MS): Promise<RawPeer> {
    const peer = this.ready.shift();
    if (peer !== undefined) return Promise.resolve(peer);
    return within(new Promise<RawPeer>((resolve) => (this.waiting = resolve)), ms, "a connection from the client");
  }

  /** Destroys every open connection and forgets those not taken yet. */
  reset(): void {
    for (const peer of this.peers) peer.destroy();
    this.ready.length = 0;
    this.waiting = undefined;
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
