/**
 * Helpers for the group and broadcast tests: a small raw WebSocket client on `node:net`
 * (so a test can pause a client's socket and make it a slow reader), a test server that
 * records its connections (bounded waits come from test/support).
 */
import { type Socket, connect as netConnect } from "node:net";
import { FrameParser, Opcode, encodeClose, encodeFrame } from "../../src/frame/index.js";
import {
  type Authorizer,
  type ServerOptions,
  type WebSocket,
  type WsRequest,
  type WsrawServer,
  createServer,
  requireWebSocket,
} from "../../src/server/index.js";
import { HOST, Watch, newKey, readResponseHead, within } from "../support/index.js";

/** The path every test server serves WebSockets on. */
export const WS_PATH = "/g";

/** The status code and reason of a close frame. */
export interface CloseFrame {
  code: number;
  reason: string;
}

/**
 * A WebSocket client on a raw TCP socket. It records every message and the server's close
 * frame, answers a close frame with a close frame (RFC 6455 §5.5.1), and can be paused to
 * play a peer that stops reading.
 */
export class RawClient {
  /** Data messages received: text as is, binary as `bin:<length>`. */
  readonly messages: string[] = [];
  closeFrame: CloseFrame | undefined;
  /** True once the TCP connection has ended. */
  ended = false;
  private readonly watch = new Watch();
  private readonly parser: FrameParser;

  constructor(
    readonly socket: Socket,
    rest: Buffer,
  ) {
    this.parser = new FrameParser(
      {
        onMessage: (payload, binary) => {
          this.messages.push(binary ? `bin:${payload.length}` : payload.toString("utf8"));
          this.watch.changed();
        },
        onPing: (payload) => this.write(encodeFrame(Opcode.Pong, payload, { mask: true })),
        onPong: () => {},
        onClose: (code, reason) => {
          this.closeFrame = { code, reason };
          this.write([encodeClose(code === 1005 ? undefined : code, "", { mask: true })]);
          this.watch.changed();
        },
      },
      { role: "client", maxPayload: 64 * 1024 * 1024 },
    );
    socket.on("data", (chunk: Buffer) => this.parser.push(chunk));
    // ECONNRESET and the like end in 'close', which is what the tests watch.
    socket.on("error", () => {});
    socket.on("close", () => {
      this.ended = true;
      this.watch.changed();
    });
    if (rest.length > 0) this.parser.push(rest);
  }

  /** Sends a masked text message. */
  sendText(text: string): void {
    this.write(encodeFrame(Opcode.Text, Buffer.from(text), { mask: true }));
  }

  /** Starts the closing handshake from the client side. */
  close(code = 1000): void {
    this.write([encodeClose(code, "", { mask: true })]);
  }

  /** Stops reading: the kernel buffers fill up and the server's writes back up. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Resolves once at least `count` messages have arrived. */
  waitForMessages(count: number, ms = 5000): Promise<void> {
    return this.watch.until(() => this.messages.length >= count, ms, `${count} messages (have ${this.messages.length})`);
  }

  /** Resolves once `message` has arrived. */
  waitForMessage(message: string, ms = 5000): Promise<void> {
    return this.watch.until(() => this.messages.includes(message), ms, `the message ${JSON.stringify(message)}`);
  }

  /** Resolves once the server's close frame has arrived and TCP has ended. */
  async waitForClose(ms = 5000): Promise<CloseFrame> {
    await this.watch.until(() => this.closeFrame !== undefined && this.ended, ms, "the close frame and the end of TCP");
    return this.closeFrame!;
  }

  /** Resolves once the TCP connection has ended, close frame or not. */
  waitForEnd(ms = 5000): Promise<void> {
    return this.watch.until(() => this.ended, ms, "the end of TCP");
  }

  destroy(): void {
    this.socket.destroy();
  }

  private write(buffers: Buffer[]): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(Buffer.concat(buffers));
  }
}

/** Opens a WebSocket to `127.0.0.1:port` at `target` (path and query) with a raw socket. */
export async function connectRaw(port: number, target = WS_PATH, ms = 10_000): Promise<RawClient> {
  const socket = netConnect({ host: HOST, port, noDelay: true });
  const failed = new Promise<never>((_, reject) => socket.once("error", reject));
  failed.catch(() => {});
  const request =
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${newKey()}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  try {
    const { status, rest } = await Promise.race([readResponseHead(socket, request, ms, `the handshake of ${target}`), failed]);
    if (!status.startsWith("HTTP/1.1 101 ")) throw new Error(`handshake refused: ${status}`);
    // The socket is handed over paused, so no byte is lost between the two listeners.
    const client = new RawClient(socket, rest);
    socket.resume();
    return client;
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** Opens `count` connections, at most `concurrency` handshakes at a time. */
export async function connectMany(
  port: number,
  count: number,
  { target = WS_PATH, concurrency = 50 }: { target?: string; concurrency?: number } = {},
): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      clients.push(await connectRaw(port, target));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (error) {
    for (const client of clients) client.destroy();
    throw error;
  }
  return clients;
}

export interface TestServerOptions extends ServerOptions {
  /** Runs for each new connection, before its messages are read (join groups here). */
  onConnection?: (ws: WebSocket, req: WsRequest) => void;
  /** The route's authorize hook (set `req.user` here). */
  authorizeRoute?: Authorizer;
}

/**
 * A wsraw server on 127.0.0.1, port 0, serving `WS_PATH`: each connection is recorded in
 * `connections` (in handshake order) and its messages are read until it closes.
 */
export class TestServer {
  readonly connections: WebSocket[] = [];
  readonly server: WsrawServer;
  port = 0;
  private readonly watch = new Watch();

  constructor(options: TestServerOptions = {}) {
    const { onConnection, authorizeRoute, ...serverOptions } = options;
    this.server = createServer({ closeTimeoutMs: 1000, ...serverOptions });
    this.server.route(
      WS_PATH,
      requireWebSocket(
        async (req) => {
          const ws = req.websocket;
          this.connections.push(ws);
          onConnection?.(ws, req);
          this.watch.changed();
          for await (const _ of ws) {
            // Messages are not needed; reading them keeps the connection flowing.
          }
        },
        { authorize: authorizeRoute },
      ),
    );
  }

  async start(): Promise<this> {
    this.port = (await this.server.listen(0)).port;
    return this;
  }

  /** Waits until `count` connections have been accepted, and returns them. */
  async connectionsAccepted(count: number, ms = 5000): Promise<WebSocket[]> {
    await this.watch.until(() => this.connections.length >= count, ms, `${count} server-side connections`);
    return this.connections.slice(0, count);
  }

  close(): Promise<void> {
    return within(this.server.close(), 10_000, "server.close()");
  }
}

/** A message of `size` bytes that starts with `tag` (so a receiver can tell messages apart). */
export function taggedMessage(tag: string, size: number): string {
  return tag.padEnd(size, ".");
}

/** The tag of a message made by `taggedMessage`. */
export function tagOf(message: string): string {
  const end = message.indexOf(".");
  return end === -1 ? message : message.slice(0, end);
}
