import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import {
  CloseCode,
  type FrameHandler,
  FrameParser,
  Opcode,
  ProtocolError,
  RSV1,
  type Role,
  encodeClose,
  truncateCloseReason,
} from "../frame/index.js";
import { type DeflateSettings, EMPTY_BLOCK, MessageDeflater, MessageInflater } from "../deflate/index.js";
import type { DeflateParams } from "../http/index.js";
import { type BinaryData, payloadBytes, toBuffer } from "../frame/buffer-view.js";
import { clockMs } from "./clock.js";
import { ConnectionClosedError } from "./errors.js";
import { FLUSHED, FrameWriter, type Slot } from "./frame-writer.js";
import { MessageQueue } from "./message-queue.js";
import type { ConnectionStats } from "./stats.js";
import type { SharedMessage } from "./shared-message.js";

/** What names the user a connection belongs to (set by the server's `authorize` hook). */
export type UserId = string | number;

/** A received message: text as a string, binary as a Buffer. */
export type Message = string | Buffer;

/** Options of {@link WebSocket.sendFragmented}. */
export interface FragmentedSendOptions {
  /**
   * Compress the message when permessage-deflate is negotiated (the default, true). False
   * sends it plain, for pieces that are compressed already.
   */
  compress?: boolean;
}

/** How a connection ended; the value of `WebSocket.closed`. */
export interface CloseInfo {
  /**
   * The peer's close code when the closing handshake completed; the code this server
   * failed the connection with (1002, 1007, 1008, 1009...) when it did; 1006 when the TCP
   * connection ended without a close handshake (a vanished peer, a heartbeat timeout).
   */
  code: number;
  reason: string;
  /** True when both close frames were exchanged before TCP closed (RFC 6455 §7.1.5). */
  wasClean: boolean;
}

/** `WebSocket.readyState` values, as in the browser API. */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** The text message a browser client sends as an application-level heartbeat. */
export const APP_PING = "wsraw:ping";
/** The answer to `APP_PING`. */
export const APP_PONG = "wsraw:pong";

/** Per-connection limits and behaviour, resolved from the server and route options. */
export interface ConnectionOptions {
  /** The end this is: a server reads masked frames and writes plain ones, a client the reverse (RFC 6455 §5.1). */
  role: Role;
  maxPayload: number;
  /** Unread messages at which the server stops reading the socket. */
  maxQueuedMessages: number;
  /** Unread bytes at which the server stops reading the socket. */
  maxQueuedBytes: number;
  /** `send()` returns false once this many bytes wait to be written. */
  sendHighWaterMark: number;
  /** Past this many unsent bytes the connection is failed with 1008. */
  maxBufferedAmount: number;
  /** How long to wait for the peer's side of the closing handshake. */
  closeTimeoutMs: number;
  /** Answer `APP_PING` text messages with `APP_PONG` instead of delivering them. */
  answerAppPings: boolean;
  /** Where the connection counts what it does (shared by a server's connections). */
  stats: ConnectionStats;
  /** Hears of the connection's end: the server's registries (none for a client). */
  owner?: ConnectionOwner;
  /**
   * While reading is paused by backpressure, TCP keepalive watches the peer after this much
   * silence (liveness.ts says why); undefined: never turned on.
   */
  pausedKeepAliveMs?: number;
}

/** permessage-deflate as negotiated for one connection (RFC 7692). */
export interface Compression {
  params: DeflateParams;
  settings: DeflateSettings;
}

/**
 * One WebSocket connection, a server's (handed to its route handlers) or a client's (from
 * `connect`), with a pull-style API after dwebsocket: `wait()`, `read()`,
 * `countMessages()`, `hasMessages()`, `send()` and `for await (const message of ws)`.
 *
 * Incoming messages queue up until the application reads them; when more than
 * `maxQueuedMessages` (or `maxQueuedBytes`) are unread, this end stops reading the
 * socket, so TCP flow control slows the peer down and nothing is dropped.
 *
 * @example
 * ```ts
 * for await (const message of ws) ws.send(message); // echo until the peer closes
 * console.log(await ws.closed); // { code: 1000, reason: "", wasClean: true }
 * ```
 */
export class WebSocket implements AsyncIterable<Message> {
  /** The subprotocol the server selected during the handshake, or "" for none. */
  readonly protocol: string;
  /** The extensions negotiated during the handshake (the Sec-WebSocket-Extensions value), or "". */
  readonly extensions: string;
  /** The user this connection belongs to, as set by the `authorize` hook (`req.user`). */
  user: UserId | undefined;
  /**
   * Set by the server: time (`clockMs()`) of the last bytes received.
   * @internal
   */
  lastReceivedAt = clockMs();
  /**
   * Set by the heartbeat: when the unanswered ping was sent, 0 when none is outstanding.
   * @internal
   */
  pingSentAt = 0;

  private state: ReadyState = ReadyState.OPEN;
  private readonly socket: Socket;
  private readonly options: ConnectionOptions;
  /** Made for the first bytes received: a connection that has not spoken has none. */
  private parserOf: FrameParser | undefined;
  /** Made for the first frame sent: a connection that only listens has none. */
  private writerOf: FrameWriter | undefined;
  /** Messages received and not yet read; made for the first message that finds no reader. */
  private queue: MessageQueue<Message> | undefined;
  /** The reader waiting longest for a message (`wait()` or `for await`), if any. */
  private waiter: Waiter | undefined;
  private paused = false;
  /** How the connection ends: made at the first step of its end, or for `closed`. */
  private endingOf: Ending | undefined;
  /** permessage-deflate, when negotiated. */
  private readonly compression: ConnectionCompression | undefined;

  /**
   * @internal Created by the server after it has written the 101 response, and by
   * `connect()` after the 101 it received.
   */
  constructor(socket: Socket, options: ConnectionOptions, protocol = "", extensions = "", compression?: Compression) {
    this.socket = socket;
    this.options = options;
    this.protocol = protocol;
    this.extensions = extensions;
    this.compression = compression === undefined ? undefined : new ConnectionCompression(compression);
    // Listeners shared by every socket, which finds its connection under a symbol: two
    // closures and their context per connection cost more than the property.
    (socket as ConnectionSocket)[kConnection] = this;
    socket.on("data", onSocketData);
    socket.on("close", onSocketClose);
    // The peer's FIN: no frame can follow. A `node:http` server's sockets (handleUpgrade)
    // are allowHalfOpen, so unlike ours they do not end our side by themselves; without
    // this, a peer gone without a close frame would keep the connection OPEN forever.
    if (socket.allowHalfOpen) socket.on("end", endOurSide);
    // Errors (ECONNRESET, EPIPE) always end in 'close'; that is where they are handled.
    socket.on("error", ignoreError);
  }

  /** Resolves once the TCP connection is closed, with how it ended. Never rejects. */
  get closed(): Promise<CloseInfo> {
    const ending = this.ending;
    ending.promise ??=
      ending.info !== undefined ? Promise.resolve(ending.info) : new Promise((resolve) => (ending.resolve = resolve));
    return ending.promise;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3), as in the browser API. */
  get readyState(): ReadyState {
    return this.state;
  }

  /** Bytes of sent messages not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.writerOf?.bufferedAmount ?? this.socket.writableLength;
  }

  /** The peer's IP address. */
  get remoteAddress(): string | undefined {
    const socket = this.socket as Socket & { session?: { socket?: Socket } };
    if (socket.remoteAddress !== undefined || socket.session === undefined) return socket.remoteAddress;
    // An HTTP/2 stream (RFC 8441): its connection's peer. node:http2 hands out a proxy of
    // that socket, which throws once the connection is gone.
    try {
      return socket.session.socket?.remoteAddress;
    } catch {
      return undefined;
    }
  }

  /** True while this end has stopped reading the socket because messages are unread. */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * @internal For the liveness checks (liveness.ts): ends a connection paused by
   * backpressure whose TCP connection the kernel has given up on (keepalive probes
   * unanswered: ETIMEDOUT; a reset: ECONNRESET). libuv does not poll a paused socket, so
   * that error would wait for reading to resume. A write of no bytes sends nothing, yet
   * write(2) on a Linux TCP socket returns it; the socket then closes (1006). node:tls
   * writes nothing for no bytes: a TLS connection's TCP socket (`_parent`) is written to.
   */
  probeSocket(): void {
    if (!this.paused || this.state !== ReadyState.OPEN) return;
    const tcp = (this.socket as { _parent?: Socket | null })._parent ?? this.socket;
    // The TCP socket under an https.Server's TLS socket may have no listener: no throw.
    if (tcp.listenerCount("error") === 0) tcp.on("error", ignoreError);
    tcp.write(EMPTY, (error) => {
      const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
      if (code !== undefined) this.ending.failure ??= { code: CloseCode.Abnormal, reason: `connection lost while paused (${code})` };
    });
  }

  // ---- Reading (dwebsocket's API) ----

  /**
   * The next message, waiting for one if none is queued; `null` once the connection is
   * closing or closed and every queued message has been read.
   *
   * With `signal`, the wait can be given up: when the signal aborts first, the promise
   * rejects with its reason and nothing else changes (the connection stays open, queued
   * and later messages wait for the next reader).
   *
   * @example
   * ```ts
   * const message = await ws.wait({ signal: AbortSignal.timeout(5_000) }); // throws TimeoutError
   * ```
   */
  wait(options?: { signal?: AbortSignal }): Promise<Message | null> {
    const signal = options?.signal;
    if (signal === undefined) return this.nextMessage(undefined) as Promise<Message | null>;
    if (signal.aborted) return Promise.reject(signal.reason);
    const message = this.read();
    if (message !== null || this.noMoreMessages()) return Promise.resolve(message);
    return new Promise((resolve, reject) => {
      // Giving up takes this reader out of the line and nothing else: the connection stays
      // open and every message stays queued for the next reader, as after an
      // asyncio.timeout around Python websockets' recv().
      const onAbort = (): void => {
        this.removeWaiter(waiter);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        resolve: (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value as Message | null);
        },
        iterating: false,
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.addWaiter(waiter);
    });
  }

  /** A queued message, or `null` when none is queued. Never waits. */
  read(): Message | null {
    const queue = this.queue;
    const message = queue?.shift();
    if (message === undefined) return null;
    queue!.bytes -= message.length;
    if (this.paused) this.resumeIfDrained();
    return message;
  }

  /** How many received messages wait to be read. */
  countMessages(): number {
    return this.queue?.length ?? 0;
  }

  /** Whether a message can be read without waiting. */
  hasMessages(): boolean {
    return this.countMessages() > 0;
  }

  /** Iterates over messages until the connection closes: `for await (const m of ws)`. */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return new MessageIterator(this);
  }

  // ---- Writing ----

  /**
   * Sends a message: a string as a text frame, bytes as a binary frame. A large binary
   * payload is written without being copied, so it must not be modified afterwards.
   *
   * Returns false when the outgoing buffer is over its high-water mark: wait for
   * `drained()` before sending more. Throws `ConnectionClosedError` when the connection is
   * closing or closed, and fails the connection with 1008 (then throws) when the unsent
   * data would pass `maxBufferedAmount`: a peer that stops reading cannot make the server
   * buffer without bound.
   */
  send(data: string | BinaryData): boolean {
    this.assertOpen();
    if (typeof data === "string") {
      // A UTF-16 code unit is at most 3 bytes of UTF-8: only near the limit can the message
      // pass it, and only there is it counted exactly and checked.
      if (this.bufferedAmount + data.length * 3 > this.options.maxBufferedAmount) {
        this.checkBufferLimit(Buffer.byteLength(data));
      }
      // `data.length` is at most the UTF-8 length: a string that short stays below the threshold.
      if (this.compression !== undefined && this.deflater.wants(data.length)) {
        const bytes = Buffer.from(data);
        this.counted(bytes.length);
        this.sendCompressed(bytes, Opcode.Text);
      } else {
        this.counted(this.writer.text(data));
      }
    } else {
      const bytes = toBuffer(data);
      this.checkBufferLimit(bytes.length);
      this.counted(bytes.length);
      this.sendBytes(bytes, Opcode.Binary);
    }
    return this.bufferedAmount < this.options.sendHighWaterMark;
  }

  /**
   * Queues a message that many connections receive (a broadcast): its frames, plain or
   * compressed, are made once and shared by every member they suit. Same errors as
   * `send`; no return value, as a broadcast does not wait for any one member.
   * @internal
   */
  sendShared(message: SharedMessage): void {
    this.assertOpen();
    const length = message.payload.length;
    const deflater = this.compression !== undefined && this.deflater.wants(length) ? this.deflater : undefined;
    if (deflater !== undefined && !deflater.shareable) {
      // This connection's deflater carries a window: the message goes through it.
      this.checkBufferLimit(length);
      this.sendCompressed(message.payload, message.opcode);
    } else {
      const frame = deflater === undefined ? message.plainFrame : message.compressedFrame(deflater);
      this.checkBufferLimit(frame.length);
      this.writer.queue(frame);
    }
    this.counted(length);
  }

  /**
   * Sends a ping with at most 125 bytes of data (without data, 4 random bytes, so that its
   * pong is told apart from the heartbeat's). Resolves with the round trip in milliseconds
   * once the peer's pong comes back; a pong to a later ping answers this one too (RFC 6455
   * §5.5.3 lets a peer answer only the latest). Rejects with `ConnectionClosedError` if the
   * connection ends first. Not awaiting it is fine: it never becomes an unhandled rejection.
   *
   * @example
   * ```ts
   * const ms = await ws.ping(); // throws ConnectionClosedError if the peer went away
   * ```
   */
  ping(data?: string | BinaryData): Promise<number> {
    this.assertOpen();
    const bytes = data === undefined ? randomBytes(4) : payloadBytes(data);
    if (bytes.length > 125) throw new RangeError(`ping data is ${bytes.length} bytes; at most 125 allowed`);
    // A copy: the caller may reuse its buffer before the pong comes.
    const sent = data === undefined ? bytes : Buffer.from(bytes);
    this.controlFrame(Opcode.Ping, sent);
    const answered = new Promise<number>((resolve, reject) => {
      let waiters = pongWaiters.get(this);
      if (waiters === undefined) pongWaiters.set(this, (waiters = []));
      waiters.push({ data: sent, sentAt: performance.now(), resolve, reject });
    });
    answered.catch(ignoreError);
    return answered;
  }

  /**
   * The heartbeat's ping: empty, and nothing waits for its pong but `pingSentAt`.
   * @internal
   */
  heartbeatPing(): void {
    this.controlFrame(Opcode.Ping, EMPTY);
  }

  /**
   * Resolves when the outgoing buffer is below its high-water mark (at once if it already
   * is), or when the connection closes.
   */
  drained(): Promise<void> {
    return this.until(() => this.isDrained());
  }

  /**
   * Sends one message in fragments (RFC 6455 §5.4), a frame for each piece `source`
   * yields, as it comes: a file or a feed streamed without being held whole. Strings make
   * a text message, bytes a binary one (all pieces of one kind); a final empty frame ends
   * it. Resolves once the last frame is queued; it waits while the peer reads slower
   * than the pieces come. A source that yields nothing sends nothing.
   *
   * With permessage-deflate negotiated, the message is compressed piece by piece, each
   * frame as its piece comes, unless `{ compress: false }` (for data that is compressed
   * already, such as video). Uncompressed, large pieces go by reference, as in `send()`.
   *
   * Messages sent meanwhile (`send()`, broadcasts, another `sendFragmented()`) wait until
   * the message is complete, as RFC 6455 §5.4 asks, and go out in the order they were
   * sent; pings and pongs go between the fragments. If the connection closes first
   * (`close()` included), the message stays unfinished, what waited behind it is dropped,
   * and this rejects with `ConnectionClosedError`. Once a frame is out, a source that
   * throws, or a piece of the wrong kind (a `TypeError`), fails the connection with 1011:
   * the peer must not take a message broken off for a whole one. Before that, it only
   * rejects.
   *
   * @example
   * ```ts
   * await ws.sendFragmented(createReadStream("video.webm"), { compress: false }); // one binary message
   * ```
   */
  async sendFragmented(
    source: Iterable<string | BinaryData> | AsyncIterable<string | BinaryData>,
    options: FragmentedSendOptions = {},
  ): Promise<void> {
    this.assertOpen();
    if (!isSourceOfPieces(source)) {
      throw new TypeError("sendFragmented() takes an iterable or async iterable of pieces (strings or bytes); send() sends one string or buffer");
    }
    if (typeof options !== "object" || options === null || !["boolean", "undefined"].includes(typeof options.compress)) {
      throw new TypeError("sendFragmented()'s options are { compress?: boolean }");
    }
    const writer = this.writer;
    // Whatever is queued from now on waits behind this slot until the message is complete;
    // a message begun before this one still holds what is behind its own, this one included.
    const barrier = writer.reserve(0);
    let barriers = fragmentedSends.get(this);
    if (barriers === undefined) fragmentedSends.set(this, (barriers = []));
    barriers.push(barrier);
    // The first piece's kind (text or binary) is the message's, set once its frame is out;
    // the frames after it are continuations.
    let kind: "text" | "binary" | undefined;
    let bytesSent = 0;
    // Taken now, in call order: with context takeover, messages sent after this one are
    // compressed after it, into the same window.
    const deflate = options.compress !== false && this.compression !== undefined ? this.deflater.fragments() : undefined;
    try {
      for await (const piece of source) {
        this.assertOpen();
        const pieceKind = typeof piece === "string" ? "text" : "binary";
        if (kind !== undefined && pieceKind !== kind) {
          throw new TypeError(`a ${kind} message's pieces are all ${kind === "text" ? "strings" : "bytes"}, got ${pieceKind}`);
        }
        const bytes = payloadBytes(piece);
        this.checkBufferLimit(bytes.length);
        let payload = bytes;
        if (deflate !== undefined) {
          // A connection that closes frees its engine under a running compression, which
          // then fails: the failure to report is the close.
          payload = await deflate.compress(bytes).catch((error: unknown) => {
            this.assertOpen();
            throw error;
          });
          this.assertOpen();
        }
        // RFC 7692 §6.1: RSV1 on the first frame of a compressed message only.
        const opcode = kind !== undefined ? Opcode.Continuation : (pieceKind === "text" ? Opcode.Text : Opcode.Binary) | (deflate ? RSV1 : 0);
        writer.insertBefore(barrier, writer.encode(opcode, payload, false));
        kind = pieceKind;
        bytesSent += bytes.length;
        // Backpressure on this message's own frames: what waits behind it cannot drain yet.
        const mark = this.options.sendHighWaterMark;
        await this.until(() => this.state !== ReadyState.OPEN || writer.bytesAhead(barrier) + this.socket.writableLength < mark);
      }
      this.assertOpen();
      if (kind !== undefined) {
        // Each compressed piece ended with a whole empty block (Z_SYNC_FLUSH); the peer
        // appends 00 00 ff ff to the message, which needs a block's first byte before it.
        writer.insertBefore(barrier, writer.encode(Opcode.Continuation, deflate ? EMPTY_BLOCK : EMPTY, true));
        this.counted(bytesSent);
      }
    } catch (error) {
      // Once a frame is out, the peer must not take what follows for a whole message.
      if (kind !== undefined && this.state === ReadyState.OPEN) this.fail(CloseCode.InternalError, "a fragmented message was broken off");
      throw error;
    } finally {
      deflate?.end();
      const index = barriers.indexOf(barrier);
      if (index !== -1) {
        barriers.splice(index, 1);
        if (barriers.length === 0 && fragmentedSends.get(this) === barriers) fragmentedSends.delete(this);
        writer.fill(barrier, []);
      }
    }
  }

  /** Resolves once `done()` holds, checked as the outgoing data drains, or the socket closes. */
  private until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done() && !this.socket.destroyed) return;
        this.socket.off("drain", check);
        this.socket.off("close", check);
        this.socket.off(FLUSHED, check);
        resolve();
      };
      this.socket.on("drain", check);
      this.socket.on("close", check);
      // What this end queued is counted until it is handed to the socket, which may take
      // it all at once (a large message, or one compressed on the thread pool and far
      // smaller than counted): no 'drain' comes for a write that never filled the socket.
      this.socket.on(FLUSHED, check);
    });
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2): sends a close frame and waits up to
   * `closeTimeoutMs` for the peer's, then closes TCP. Does nothing if already closing.
   * Messages already queued can still be read; `wait()` then gives `null`, and messages
   * the peer sent before it saw our close frame are not delivered (as in the browser API).
   * Throws `RangeError` for a code that may not be sent or a reason over 123 bytes, and
   * `TypeError` for a code that is not a number.
   */
  close(code: number = CloseCode.Normal, reason = ""): void {
    const frame = this.closeFrame(code, reason);
    if (this.state !== ReadyState.OPEN) return;
    this.sendClose(frame);
  }

  /** Counts a message sent. */
  private counted(bytes: number): void {
    const stats = this.options.stats;
    stats.messagesOut++;
    stats.bytesOut += bytes;
  }

  /**
   * A broadcast left this connection out: it was over its buffer limit.
   * @internal
   */
  skippedAsSlow(): void {
    this.options.stats.slowMembersSkipped++;
  }

  /**
   * A close frame (RFC 6455 §5.5.1); a client's is masked with a fresh key. Throws
   * `RangeError` for a code that may not be sent or a reason over 123 bytes.
   */
  private closeFrame(code?: number, reason = ""): Buffer {
    return encodeClose(code, reason, { mask: this.options.role === "client" });
  }

  /** Sends bytes as one data message, compressed when negotiated and worth it. */
  private sendBytes(bytes: Buffer, opcode: number): void {
    if (this.compression !== undefined && this.deflater.wants(bytes.length)) this.sendCompressed(bytes, opcode);
    else this.writer.frame(opcode, bytes);
  }

  /**
   * Compresses a message (RFC 7692 §7.2.1): at once when small; on the thread pool when
   * large, with its place in the outgoing queue kept so that nothing sent after it
   * overtakes it.
   */
  private sendCompressed(bytes: Buffer, opcode: number): void {
    const deflater = this.deflater;
    if (deflater.isSync(bytes.length)) {
      const compressed = deflater.compressSync(bytes);
      if (compressed === undefined) this.writer.frame(opcode, bytes);
      else this.writer.frame(opcode | RSV1, compressed);
      return;
    }
    const slot = this.writer.reserve(bytes.length);
    deflater.compress(bytes, (compressed) => {
      const payload = compressed ?? bytes;
      this.writer.fill(slot, this.writer.encode(compressed === undefined ? opcode : opcode | RSV1, payload));
    });
  }

  /** The compressor of this connection's messages (permessage-deflate negotiated). */
  private get deflater(): MessageDeflater {
    const compression = this.compression!;
    return (compression.deflater ??= MessageDeflater.for(compression.params, this.options.role, compression.settings));
  }

  /** The decoder of this connection's incoming frames. */
  private get parser(): FrameParser {
    return (this.parserOf ??= new FrameParser(new ParserEvents(this), {
      role: this.options.role,
      maxPayload: this.options.maxPayload,
      perMessageDeflate: this.compression !== undefined,
    }));
  }

  /** The encoder and batcher of this connection's outgoing frames. */
  private get writer(): FrameWriter {
    return (this.writerOf ??= new FrameWriter(this.socket, this.options.role === "client"));
  }

  private get ending(): Ending {
    return (this.endingOf ??= new Ending());
  }

  /** Destroys the TCP connection at once, without a closing handshake (`closed`: 1006). */
  terminate(reason = ""): void {
    if (this.state === ReadyState.CLOSED) return;
    this.state = ReadyState.CLOSING;
    this.ending.failure ??= { code: CloseCode.Abnormal, reason };
    this.writerOf?.discard();
    this.socket.destroy();
  }

  /** @internal Feeds bytes that arrived with the handshake, then starts reading. */
  start(head: Buffer): void {
    if (head.length > 0) this.receiveData(head);
    if (!this.paused) this.socket.resume();
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): sends a close frame with `code` and `reason`,
   * then closes TCP without waiting for the peer's close.
   * @internal
   */
  fail(code: number, reason: string): void {
    if (this.state !== ReadyState.OPEN) {
      if (this.state === ReadyState.CLOSING) this.socket.destroy();
      return;
    }
    reason = truncateCloseReason(reason);
    this.ending.failure = { code, reason };
    this.sendClose(this.closeFrame(code, reason));
    // Failing does not wait for the peer's close frame: end TCP right after ours.
    this.writer.end();
  }

  // ---- Internals ----

  private receiveData(chunk: Buffer): void {
    this.lastReceivedAt = clockMs();
    try {
      this.parser.push(chunk);
    } catch (error) {
      this.protocolFailure(error);
    }
  }

  private protocolFailure(error: unknown): void {
    if (!(error instanceof ProtocolError)) throw error;
    // The parser ignores everything after the error. The messages it delivered from the
    // same chunk were handed to the application, whose replies (an echo) come in this
    // turn's promise jobs: let them go out before the close frame (Autobahn 3.2, 4.1.3).
    afterPromiseJobs(() => this.fail(error.closeCode, error.message));
  }

  /**
   * A compressed message (RFC 7692 §7.2.2): inflated at once when small. A large one is
   * inflated on the thread pool while the socket and the parser wait, so that messages
   * keep their order; returns false then.
   */
  private receiveCompressed(payload: Buffer, binary: boolean): boolean {
    const compression = this.compression!;
    const { params, settings } = compression;
    const inflater = (compression.inflater ??= MessageInflater.for(params, this.options.role, settings, this.options.maxPayload));
    if (inflater.isSync(payload)) {
      // A ProtocolError goes up through the parser, which fails the connection.
      this.receiveMessage(inflater.inflateSync(payload, !binary), binary);
      return true;
    }
    compression.inflating = true;
    this.socket.pause();
    inflater.inflate(payload, !binary, (error, message) => {
      compression.inflating = false;
      if (this.state === ReadyState.CLOSED) return;
      if (error !== undefined) {
        this.fail(error.closeCode, error.message);
        return;
      }
      this.receiveMessage(message, binary);
      try {
        this.parser.resume();
      } catch (failure) {
        this.protocolFailure(failure);
        return;
      }
      if (!this.paused && !compression.inflating) this.socket.resume();
    });
    return false;
  }

  /** An inflated message (text still as bytes, checked as UTF-8). */
  private receiveMessage(payload: Buffer, binary: boolean): void {
    this.receive(binary ? payload : payload.toString(), payload.length);
  }

  /** A message for the application, of `byteLength` bytes on the wire (or inflated). */
  private receive(message: Message, byteLength: number): void {
    // Once this end has sent its close frame the conversation is over for the
    // application (the WebSocket API drops such messages too): the peer's remaining
    // messages are read off the wire until its close frame, and not delivered.
    if (this.state !== ReadyState.OPEN) return;
    const stats = this.options.stats;
    stats.messagesIn++;
    stats.bytesIn += byteLength;
    if (this.options.answerAppPings && message === APP_PING) {
      // Answered as pings are (see `answerPing`).
      if (!this.isDrained()) this.repliesDue().appPong = true;
      else if (!this.overBufferLimit(APP_PONG.length + 2)) this.writer.text(APP_PONG);
      return;
    }
    const waiter = this.takeWaiter();
    if (waiter !== undefined) {
      wake(waiter, message);
      return;
    }
    const queue = (this.queue ??= new MessageQueue());
    queue.push(message);
    // Counted as `read()` discounts it (a string by its length, what it holds in memory):
    // with UTF-8 byte counts here, multi-byte text would leave a residue on every read
    // until the total never fell below the resume mark and the connection stalled.
    queue.bytes += message.length;
    if (
      !this.paused &&
      (queue.length >= this.options.maxQueuedMessages || queue.bytes >= this.options.maxQueuedBytes)
    ) {
      this.paused = true;
      this.options.stats.backpressurePauses++;
      this.socket.pause();
      // Optional calls: handleUpgrade may be given any Duplex.
      if (this.options.pausedKeepAliveMs) this.socket.setKeepAlive?.(true, this.options.pausedKeepAliveMs);
    }
  }

  private resumeIfDrained(): void {
    if (
      this.countMessages() <= this.options.maxQueuedMessages / 2 &&
      this.queue!.bytes <= this.options.maxQueuedBytes / 2
    ) {
      this.resumeReading();
    }
  }

  /** Reads the socket again after a backpressure pause. */
  private resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.compression?.inflating !== true) this.socket.resume();
    if (this.options.pausedKeepAliveMs) this.socket.setKeepAlive?.(false);
  }

  /**
   * Answers the `ping()` whose data the pong carries, and every earlier one (RFC 6455
   * §5.5.3: a peer may answer only the latest ping). A pong nobody waits for is a
   * unidirectional heartbeat (§5.5.3) or the heartbeat's: nothing to do.
   */
  private pongReceived(payload: Buffer): void {
    const waiters = pongWaiters.get(this);
    if (waiters === undefined) return;
    const index = waiters.findIndex((waiter) => waiter.data.equals(payload));
    if (index === -1) return;
    const now = performance.now();
    for (const waiter of waiters.splice(0, index + 1)) waiter.resolve(now - waiter.sentAt);
    if (waiters.length === 0) pongWaiters.delete(this);
  }

  /** The peer's close frame (RFC 6455 §5.5.1, §7.1.1). */
  private receiveClose(code: number, reason: string): void {
    // RFC 6455 §5.5.1: an endpoint "MAY delay sending a Close frame until its current
    // message is sent". The application's replies to messages that arrived in the same
    // chunk as the close (in this turn's promise jobs) go first (Autobahn 7.1.1).
    afterPromiseJobs(() => this.closeReceived(code, reason));
  }

  private closeReceived(code: number, reason: string): void {
    if (this.state === ReadyState.CLOSED) return;
    this.ending.peerClose = { code, reason };
    if (!this.ending.closeSent) {
      // Echo the peer's status code (§5.5.1); a close without one is answered likewise.
      this.ending.closeSent = true;
      this.queueClose(this.options.role === "server" ? closeReply(code) : this.closeFrame(code === CloseCode.NoStatus ? undefined : code));
    }
    this.state = ReadyState.CLOSING;
    // The server closes the TCP connection first (RFC 6455 §7.1.1): our FIN follows our
    // close frame. The socket is not destroyed then but reads on, discarding, until the
    // peer's FIN (or the close timer): a descriptor closed with unread input, or receiving
    // input afterwards (a ping sent after the peer's close frame), is answered with a RST,
    // and a RST discards what the kernel has not delivered yet, our last frames among it.
    this.writer.end();
    this.resumeReading();
    // Both close frames are exchanged once ours has reached the kernel: the connection is
    // closed cleanly then (§7.1.4), whether or not the peer ever ends its side of TCP.
    this.socket.on("finish", onSocketFinish);
    this.wakeWaitersIfDone();
    this.startCloseTimer();
  }

  /**
   * Sends this side's close frame from OPEN: the state becomes CLOSING, no message can be
   * waited for any more, and the peer has `closeTimeoutMs` to finish the handshake.
   */
  private sendClose(frame: Buffer): void {
    this.state = ReadyState.CLOSING;
    this.ending.closeSent = true;
    this.queueClose(frame);
    // The peer's close frame must be read, behind whatever the application left unread:
    // what arrives from now on is read off the wire and not delivered (see `receive`),
    // so reading on cannot fill the queue.
    this.resumeReading();
    this.wakeWaitersIfDone();
    this.startCloseTimer();
  }

  /** A ping or a pong: between the fragments of a message being sent, if one is (RFC 6455 §5.4). */
  private controlFrame(opcode: number, payload: Buffer): void {
    const barrier = fragmentedSends.get(this)?.[0];
    if (barrier === undefined) this.writer.frame(opcode, payload);
    else this.writer.insertBefore(barrier, this.writer.encode(opcode, payload));
  }

  /**
   * Our close frame, after everything queued; while a message is being sent in fragments,
   * between them instead (a control frame, RFC 6455 §5.4), and what waited behind the
   * message is dropped: nothing may follow a close frame (§5.5.1).
   */
  private queueClose(frame: Buffer): void {
    const barrier = fragmentedSends.get(this)?.[0];
    if (barrier === undefined) {
      this.writer.queue(frame);
      return;
    }
    // Every message being sent in fragments ends unfinished: their slots go with the rest.
    fragmentedSends.get(this)!.length = 0;
    fragmentedSends.delete(this);
    this.writer.insertBefore(barrier, [frame]);
    this.writer.dropFrom(barrier);
  }

  /** Bounds the closing handshake and then the wait for the peer's FIN: TCP closes by then. */
  private startCloseTimer(): void {
    const ending = this.ending;
    if (ending.timer !== undefined) return;
    ending.timer = setTimeout(closeTimedOut, this.options.closeTimeoutMs, this);
    ending.timer.unref();
  }

  private closeTimedOut(): void {
    if (this.state !== ReadyState.CLOSED) {
      this.ending.failure ??= { code: CloseCode.Abnormal, reason: "closing handshake timed out" };
    }
    this.socket.destroy();
  }

  private socketClosed(): void {
    const timer = this.endingOf?.timer;
    if (timer !== undefined) clearTimeout(timer);
    this.enterClosed();
  }

  /**
   * Our FIN (END_STREAM on an HTTP/2 stream) has followed both close frames: the
   * connection is closed cleanly. On TCP the socket reads on until the peer's FIN (see
   * `closeReceived`). An HTTP/2 stream (RFC 8441) is closed at once with RST_STREAM
   * NO_ERROR: browsers never end their side of it, so it would hold one of the
   * connection's concurrent streams for `closeTimeoutMs`. Unlike a TCP reset, it cannot
   * discard what we sent: it follows our last DATA frame, in order, on the connection.
   */
  private ourSideEnded(): void {
    this.enterClosed();
    const stream = this.socket as Socket & { close?: (code: number) => void; session?: unknown };
    if (stream.session !== undefined && !stream.readableEnded) stream.close?.(NO_ERROR);
  }

  /** The state becomes CLOSED, when TCP closes or our FIN follows both close frames: reports how it ended. */
  private enterClosed(): void {
    if (this.state === ReadyState.CLOSED) return;
    this.state = ReadyState.CLOSED;
    this.writerOf?.discard();
    this.compression?.inflater?.close();
    this.compression?.deflater?.close();
    // Literals rather than spreads: a spread costs microseconds on every connection's end.
    const ending = this.ending;
    const { failure, peerClose, closeSent } = ending;
    const info: CloseInfo = (ending.info =
      failure !== undefined
        ? { code: failure.code, reason: failure.reason, wasClean: false }
        : peerClose !== undefined && closeSent
          ? { code: peerClose.code, reason: peerClose.reason, wasClean: true }
          : { code: CloseCode.Abnormal, reason: "", wasClean: false });
    this.options.stats.closed(info.code);
    ending.resolve?.(info);
    const waiters = pongWaiters.get(this);
    if (waiters !== undefined) {
      pongWaiters.delete(this);
      for (const waiter of waiters) waiter.reject(new ConnectionClosedError(info.code, info.reason));
    }
    this.wakeWaitersIfDone();
    this.options.owner?.connectionClosed(this);
  }

  /** No message can arrive any more. */
  private noMoreMessages(): boolean {
    return this.state !== ReadyState.OPEN;
  }

  private wakeWaitersIfDone(): void {
    if (!this.noMoreMessages()) return;
    for (let waiter = this.takeWaiter(); waiter !== undefined; waiter = this.takeWaiter()) wake(waiter, null);
  }

  /**
   * The next message for `wait()` (no `iterator`: the message, or null at the end) or for
   * `iterator.next()` (an IteratorResult, made here rather than by a `then` per wait).
   */
  private nextMessage(iterator: MessageIterator | undefined): Promise<Message | null | IteratorResult<Message>> {
    const message = this.read();
    if (message !== null || this.noMoreMessages()) {
      return Promise.resolve(iterator !== undefined ? toIteratorResult(message) : message);
    }
    return new Promise((resolve) => {
      // A `for await` loop waits for one message at a time: its iterator is the waiter.
      let waiter: Waiter;
      if (iterator !== undefined && iterator.resolve === undefined) {
        iterator.resolve = resolve;
        waiter = iterator;
      } else {
        waiter = { resolve, iterating: iterator !== undefined };
      }
      this.addWaiter(waiter);
    });
  }

  private addWaiter(waiter: Waiter): void {
    if (this.waiter === undefined) this.waiter = waiter;
    else {
      let waiters = laterWaiters.get(this);
      if (waiters === undefined) laterWaiters.set(this, (waiters = []));
      waiters.push(waiter);
    }
  }

  /** Takes a reader that gave up out of the line. */
  private removeWaiter(waiter: Waiter): void {
    if (this.waiter === waiter) {
      this.waiter = this.nextWaiter();
      return;
    }
    const waiters = laterWaiters.get(this);
    const index = waiters?.indexOf(waiter) ?? -1;
    if (index !== -1) waiters!.splice(index, 1);
  }

  /** Removes and returns the reader waiting longest, if any. */
  private takeWaiter(): Waiter | undefined {
    const waiter = this.waiter;
    if (waiter !== undefined) this.waiter = this.nextWaiter();
    return waiter;
  }

  /** The longest-waiting reader after the first, taken out of the line. */
  private nextWaiter(): Waiter | undefined {
    const waiters = laterWaiters.get(this);
    if (waiters === undefined) return undefined;
    const waiter = waiters.shift();
    if (waiters.length === 0) laterWaiters.delete(this);
    return waiter;
  }

  private isDrained(): boolean {
    return this.state === ReadyState.CLOSED || this.bufferedAmount < this.options.sendHighWaterMark;
  }

  private assertOpen(): void {
    if (this.state === ReadyState.OPEN) return;
    const status = this.endingOf?.failure ?? this.endingOf?.peerClose;
    const closingHere = status === undefined && this.state === ReadyState.CLOSING;
    throw new ConnectionClosedError(status?.code ?? CloseCode.Abnormal, status?.reason ?? "", closingHere);
  }

  /** Throws once `adding` bytes would take the unsent data past `maxBufferedAmount` (see `overBufferLimit`). */
  private checkBufferLimit(adding: number): void {
    if (this.overBufferLimit(adding)) throw new ConnectionClosedError(CloseCode.PolicyViolation, this.endingOf!.failure!.reason);
  }

  /**
   * True, with the connection failed (1008, TCP destroyed: a peer that does not read gets
   * no close frame either), when `adding` bytes would take the unsent data past
   * `maxBufferedAmount`.
   */
  private overBufferLimit(adding: number): boolean {
    if (this.bufferedAmount + adding <= this.options.maxBufferedAmount) return false;
    const reason = `more than ${this.options.maxBufferedAmount} bytes of unsent data`;
    this.ending.failure = { code: CloseCode.PolicyViolation, reason };
    this.terminate();
    return true;
  }

  /**
   * RFC 6455 §5.5.2: a ping is answered with a pong carrying the same data, unless closing.
   * While the peer does not read (the unsent data is at `sendHighWaterMark` or above),
   * only its latest ping is answered, once the data has drained below the mark: RFC 6455
   * §5.5.3 allows it, and a peer that pings without reading gets no more of this end's
   * memory than 125 bytes.
   */
  private answerPing(payload: Buffer): void {
    if (this.state !== ReadyState.OPEN) return;
    // A copy: a view would hold the whole chunk it was read in.
    if (!this.isDrained()) this.repliesDue().pong = Buffer.from(payload);
    else if (!this.overBufferLimit(payload.length + 2)) this.controlFrame(Opcode.Pong, payload);
  }

  /** The answers owed to a peer that is not reading, sent once it has read enough. */
  private repliesDue(): RepliesDue {
    let due = repliesDue.get(this);
    if (due === undefined) {
      repliesDue.set(this, (due = { pong: undefined, appPong: false }));
      void this.drained().then(() => this.sendRepliesDue());
    }
    return due;
  }

  private sendRepliesDue(): void {
    const due = repliesDue.get(this)!;
    repliesDue.delete(this);
    if (this.state !== ReadyState.OPEN) return;
    if (due.pong !== undefined) this.controlFrame(Opcode.Pong, due.pong);
    if (due.appPong) this.writer.text(APP_PONG);
  }
}

/** A pong and an app pong owed, the latest ping's data for the pong. */
interface RepliesDue {
  pong: Buffer | undefined;
  appPong: boolean;
}

/** Kept apart from the connections, few of which ever owe an answer for long. */
const repliesDue = new WeakMap<WebSocket, RepliesDue>();

/** An iterable of pieces, not one piece (a string or a Buffer is iterable too, by characters or bytes). */
function isSourceOfPieces(source: unknown): boolean {
  if (typeof source !== "object" || source === null || ArrayBuffer.isView(source)) return false;
  return Symbol.iterator in source || Symbol.asyncIterator in source;
}

/**
 * The places in the outgoing queue behind which messages wait while one is sent in
 * fragments (`sendFragmented`), in the order the messages were begun.
 */
const fragmentedSends = new WeakMap<WebSocket, Slot[]>();

/** A `ping()` waiting for its pong. */
interface PongWaiter {
  data: Buffer;
  sentAt: number;
  resolve(roundTripMs: number): void;
  reject(error: ConnectionClosedError): void;
}

/**
 * The pings each connection's application awaits, oldest first: kept beside the
 * connections rather than in a field, as most never ping.
 */
const pongWaiters = new WeakMap<WebSocket, PongWaiter[]>();

/** Readers that called `wait()` while another was already waiting: beside the connections too, as that is rare. */
const laterWaiters = new WeakMap<WebSocket, Waiter[]>();

const EMPTY = Buffer.alloc(0);

/**
 * Runs `fn` once every promise job of the current turn has run (Node runs the tick queue
 * only after draining the microtask queue), yet before the next I/O event, such as the
 * socket's 'end' after a peer's close frame and FIN.
 */
function afterPromiseJobs(fn: () => void): void {
  queueMicrotask(() => process.nextTick(fn));
}

/**
 * How a connection ends, gathered in one object made at the first step of its end (or
 * when `closed` is first asked for): an open connection carries one field for it, not seven.
 */
class Ending {
  /** The peer's close frame, once received. */
  peerClose: CloseStatus | undefined;
  /** Set when this side failed the connection or gave up on it. */
  failure: CloseStatus | undefined;
  /** Set once this side's close frame is queued. */
  closeSent = false;
  /** Bounds the closing handshake, then the wait for the peer's FIN. */
  timer: NodeJS.Timeout | undefined;
  /** How it ended, once CLOSED. */
  info: CloseInfo | undefined;
  promise: Promise<CloseInfo> | undefined;
  resolve: ((info: CloseInfo) => void) | undefined;
}

interface CloseStatus {
  code: number;
  reason: string;
}

/** A connection's permessage-deflate: as negotiated, with its inflater and deflater made at first use. */
class ConnectionCompression implements Compression {
  readonly params: DeflateParams;
  readonly settings: DeflateSettings;
  inflater: MessageInflater | undefined;
  deflater: MessageDeflater | undefined;
  /** A compressed message is being inflated on the thread pool: the socket is paused. */
  inflating = false;

  constructor({ params, settings }: Compression) {
    this.params = params;
    this.settings = settings;
  }
}

/** @internal Told when a connection has closed: the server's registries. */
export interface ConnectionOwner {
  connectionClosed(ws: WebSocket): void;
}

/** A reader waiting for a message: `wait()` gets the message, `for await` an IteratorResult. */
interface Waiter {
  /** Resolves the reader's promise; cleared once called. */
  resolve: ((value: Message | null | IteratorResult<Message>) => void) | undefined;
  readonly iterating: boolean;
}

function wake(waiter: Waiter, message: Message | null): void {
  const resolve = waiter.resolve!;
  waiter.resolve = undefined;
  resolve(waiter.iterating ? toIteratorResult(message) : message);
}

function toIteratorResult(message: Message | null): IteratorResult<Message> {
  return message === null ? { value: undefined, done: true } : { value: message, done: false };
}


// The answers to the usual close frames, encoded once: a broadcast-like shared buffer.
const CLOSE_REPLY_EMPTY = encodeClose();
const CLOSE_REPLY_NORMAL = encodeClose(CloseCode.Normal);
const CLOSE_REPLY_GOING_AWAY = encodeClose(CloseCode.GoingAway);

/** The server's close frame answering the peer's: its status code echoed (RFC 6455 §5.5.1). */
function closeReply(code: number): Buffer {
  if (code === CloseCode.NoStatus) return CLOSE_REPLY_EMPTY;
  if (code === CloseCode.Normal) return CLOSE_REPLY_NORMAL;
  if (code === CloseCode.GoingAway) return CLOSE_REPLY_GOING_AWAY;
  return encodeClose(code);
}

const kConnection = Symbol("wsraw.connection");

/** HTTP/2's error code for a stream closed without error (RFC 9113 §7). */
const NO_ERROR = 0;

/** A socket that carries its connection, for the shared listeners below. */
type ConnectionSocket = Socket & { [kConnection]: WebSocket };

function onSocketData(this: ConnectionSocket, chunk: Buffer): void {
  this[kConnection]["receiveData"](chunk);
}

function onSocketClose(this: ConnectionSocket): void {
  this[kConnection]["socketClosed"]();
}

function onSocketFinish(this: ConnectionSocket): void {
  this[kConnection]["ourSideEnded"]();
}

function closeTimedOut(ws: WebSocket): void {
  ws["closeTimedOut"]();
}

/** The peer's FIN (see the constructor): shared by every socket rather than a closure each. */
function endOurSide(this: Socket): void {
  if (!this.writableEnded) this.end();
}

function ignoreError(): void {}

/**
 * The parser's handler for one connection. Prototype methods instead of four closures per
 * connection (~300 B less per idle connection); the element accesses reach the connection's
 * private members, which stay private to everything else.
 */
class ParserEvents implements FrameHandler {
  constructor(private readonly ws: WebSocket) {}

  onMessage(payload: Buffer, binary: boolean, compressed: boolean): boolean {
    if (compressed) return this.ws["receiveCompressed"](payload, binary);
    this.ws["receive"](payload, payload.length);
    return true;
  }

  onText(text: string, byteLength: number): void {
    this.ws["receive"](text, byteLength);
  }

  onPing(payload: Buffer): void {
    this.ws["answerPing"](payload);
  }

  onPong(payload: Buffer): void {
    this.ws.pingSentAt = 0;
    this.ws["pongReceived"](payload);
  }

  onClose(code: number, reason: string): void {
    this.ws["receiveClose"](code, reason);
  }
}

/** `for await` over a connection's messages; a class, not two closures per connection. */
class MessageIterator implements AsyncIterator<Message>, Waiter {
  /** Set while this iterator waits for a message (it is then the connection's waiter). */
  resolve: Waiter["resolve"];

  constructor(private readonly ws: WebSocket) {}

  get iterating(): boolean {
    return true;
  }

  next(): Promise<IteratorResult<Message>> {
    return this.ws["nextMessage"](this) as Promise<IteratorResult<Message>>;
  }

  return(): Promise<IteratorResult<Message>> {
    return Promise.resolve({ value: undefined, done: true });
  }
}
