import { Buffer } from "node:buffer";
import type { Role } from "../frame/parser.js";
import type { DeflateParams } from "../http/permessage-deflate.js";
import { type EnginePool, sharedPool } from "./engine-pool.js";
import { type DeflateSettings, senderParams, sharedInstance } from "./options.js";
import { ZlibEngine, type ZlibEngineOptions } from "./zlib-engine.js";

/**
 * Compresses one direction's messages (RFC 7692 §7.2.1) for one connection, or for a
 * broadcast shared by many.
 *
 * Without context takeover (the default), every message is compressed on its own by an
 * engine borrowed from a process-wide pool, so an idle connection holds no zlib state,
 * and the compressed bytes are the same for every receiver that negotiated the same
 * window: a broadcast compresses once. A message that does not shrink is sent as it is
 * (RSV1 clear), which RFC 7692 §6 allows for any message.
 *
 * With context takeover, the connection owns an engine whose window carries over between
 * messages (better ratios for streams of similar messages), created at the first
 * compressed message: 2^(bits + 2) + 2^(memLevel + 9) bytes of zlib state, 256 KiB at
 * the widest settings.
 */
export class MessageDeflater {
  private readonly pool: EnginePool | undefined;
  private readonly engineOptions: ZlibEngineOptions;
  private engine: ZlibEngine | undefined;
  /**
   * The own engine is in use beyond a synchronous call (a compression on the thread pool,
   * a message sent in fragments): later messages wait their turn.
   */
  private running = false;
  /** Compressions waiting for the own engine, in send order. */
  private waiting: Array<() => void> | undefined;
  /** The own engine was freed for good (`close()`). */
  private closed = false;
  /** zlib cannot compress with a 256-byte window (2^8): such a peer gets plain messages. */
  private enabled: boolean;

  /**
   * The deflater for a connection: a new one when it keeps a context, else the one that
   * every connection with the same settings shares (it holds no state between messages).
   */
  static for(params: DeflateParams, role: Role, settings: DeflateSettings): MessageDeflater {
    const own = senderParams(params, role);
    const make = (): MessageDeflater => new MessageDeflater(params, role, settings);
    return own.noContextTakeover ? sharedInstance(settings, `deflate:${role}:${own.maxWindowBits}`, make) : make();
  }

  constructor(
    params: DeflateParams,
    /** The role of this end: a server compresses with the server's parameters. */
    role: Role,
    private readonly settings: DeflateSettings,
  ) {
    const own = senderParams(params, role);
    const policyBits = (role === "server" ? settings.policy.serverMaxWindowBits : settings.policy.clientMaxWindowBits) ?? 15;
    const windowBits = Math.min(own.maxWindowBits, policyBits);
    this.enabled = windowBits > 8;
    this.engineOptions = { windowBits, level: settings.level, memLevel: settings.memLevel };
    if (own.noContextTakeover) this.pool = sharedPool("deflate", this.engineOptions);
  }

  /**
   * True when this deflater compresses every message on its own (no context takeover):
   * its output for a message can be shared with every receiver of the same `settingKey`.
   */
  get shareable(): boolean {
    return this.pool !== undefined;
  }

  /** Names the compressor setting: deflaters with the same key produce the same bytes. */
  get settingKey(): string {
    const { windowBits, level, memLevel } = this.engineOptions;
    return `${windowBits}:${level}:${memLevel}`;
  }

  /** Whether a message of `length` bytes is compressed at all (threshold, window). */
  wants(length: number): boolean {
    return this.enabled && length >= this.settings.threshold;
  }

  /**
   * Whether a message of `length` bytes may be compressed synchronously: it is small, and
   * no earlier message is still being compressed into the same window.
   */
  isSync(length: number): boolean {
    return length <= this.settings.syncLimit && !this.running;
  }

  /**
   * The compressed payload of `data`, or undefined when it goes out uncompressed (it
   * would not shrink). Call only when `wants(data.length)`.
   */
  compressSync(data: Buffer): Buffer | undefined {
    const engine = this.acquire();
    const output = new CompressedMessage();
    engine.processSync(data, output.sink);
    return this.finish(engine, output, data.length);
  }

  /**
   * The same on the thread pool, for large messages. With context takeover the messages
   * of a connection go through its one window in order (RFC 7692 §7.2.1): one waits for
   * the one before it.
   */
  compress(data: Buffer, callback: (compressed: Buffer | undefined) => void): void {
    this.inTurn(() => {
      if (this.closed) {
        this.endTurn();
        callback(undefined);
        return;
      }
      const engine = this.acquire();
      const output = new CompressedMessage();
      this.processOnThreadPool(engine, data, output, (ok) => {
        const compressed = ok ? this.finish(engine, output, data.length) : undefined;
        this.endTurn();
        callback(compressed);
      });
    });
  }

  /**
   * Begins a message compressed piece by piece, as it is sent in fragments (RFC 7692 §6.1:
   * the payloads of its frames, joined, are the compressed message), or undefined when
   * this deflater sends everything plain. Each piece's output ends with Z_SYNC_FLUSH's
   * empty stored block, so the peer can inflate a frame as soon as it arrives; the last
   * frame then carries only {@link EMPTY_BLOCK}.
   *
   * With context takeover the connection's window is this message's until `end()`:
   * messages sent meanwhile wait their turn, and it waits for those before it. Without,
   * each piece borrows an engine for its own compression only, so a message whose pieces
   * come slowly holds no zlib state between them: the pieces are DEFLATE blocks that
   * reach back no further than their own start, which any inflater follows.
   */
  fragments(): FragmentedMessage | undefined {
    if (!this.enabled) return undefined;
    const turn = new Promise<void>((resolve) => this.inTurn(resolve));
    return {
      compress: async (piece) => {
        await turn;
        return this.compressPiece(piece);
      },
      end: () => void turn.then(() => this.endTurn()),
    };
  }

  /**
   * Frees the connection's own engine (the connection has closed); a shared deflater has
   * none. Compressions still waiting for the window end without one: nothing will send
   * what they make, and a new engine would only be zlib memory to leak.
   */
  close(): void {
    if (this.pool !== undefined) return;
    this.closed = true;
    this.engine?.close();
    this.engine = undefined;
  }

  /** Runs `job` once the own engine is free, and keeps it until `endTurn()`; at once for a shared deflater. */
  private inTurn(job: () => void): void {
    if (this.pool === undefined) {
      if (this.running) {
        (this.waiting ??= []).push(() => this.inTurn(job));
        return;
      }
      this.running = true;
    }
    job();
  }

  private endTurn(): void {
    if (this.pool !== undefined) return;
    this.running = false;
    this.waiting?.shift()?.();
  }

  /** One piece of a fragmented message, flushed: synchronously when small. */
  private compressPiece(piece: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error("permessage-deflate: the connection's compressor is closed"));
    const engine = this.acquire();
    const output = new CompressedMessage();
    const flushed = (): Buffer => {
      this.pool?.release(engine);
      return output.flushed();
    };
    if (piece.length <= this.settings.syncLimit) {
      engine.processSync(piece, output.sink);
      return Promise.resolve(flushed());
    }
    return new Promise((resolve, reject) => {
      this.processOnThreadPool(engine, piece, output, (ok) => {
        if (ok) resolve(flushed());
        else reject(new Error("permessage-deflate: zlib failed to compress a piece of a fragmented message"));
      });
    });
  }

  /** `engine.process` within the thread-pool limit; `done(false)` when zlib failed. */
  private processOnThreadPool(engine: ZlibEngine, data: Buffer, output: CompressedMessage, done: (ok: boolean) => void): void {
    this.settings.limiter.run((release) => {
      engine.process(data, output.sink, (result) => {
        release();
        if (result !== true) {
          // Compressing valid bytes cannot fail; an engine that did is dropped. A receiver
          // that keeps a window could not follow the next message, so it must not come
          // compressed from a new engine: this connection stops compressing.
          engine.close();
          if (engine === this.engine) this.enabled = false;
        }
        done(result === true);
      });
    });
  }

  private acquire(): ZlibEngine {
    if (this.pool !== undefined) return this.pool.acquire();
    return (this.engine ??= new ZlibEngine("deflate", this.engineOptions));
  }

  private finish(engine: ZlibEngine, output: CompressedMessage, inputLength: number): Buffer | undefined {
    // RFC 7692 §7.2.1: Z_SYNC_FLUSH ends the output with an empty stored block; its
    // LEN/NLEN (00 00 ff ff) is removed, and the receiver puts it back.
    const compressed = output.payload();
    if (this.pool === undefined) return compressed;
    this.pool.release(engine);
    // Without context takeover the receiver's window is not affected by what it never
    // inflates, so a message that did not shrink can go out as it is.
    return compressed.length < inputLength ? compressed : undefined;
  }
}

/**
 * A message whose pieces are compressed as they come (`MessageDeflater.fragments()`).
 * `end()` is called once, whether or not every piece was compressed.
 */
export interface FragmentedMessage {
  /** The payload of the piece's frame: its compressed bytes, flushed. */
  compress(piece: Buffer): Promise<Buffer>;
  /** The message is over: the window goes to the next message. */
  end(): void;
}

/**
 * An empty stored block's first byte: the peer's appended 00 00 ff ff completes it (RFC
 * 7692 §7.2.3.6). The whole payload of an empty compressed message, and the last frame
 * of a fragmented one, whose pieces each ended with a whole empty block.
 */
export const EMPTY_BLOCK = Buffer.from([0x00]);

/** The output of one compression, collected from zlib. */
class CompressedMessage {
  private readonly parts: Buffer[] = [];
  private length = 0;

  readonly sink = (chunk: Buffer, stable: boolean): boolean => {
    this.parts.push(stable ? chunk : Buffer.from(chunk));
    this.length += chunk.length;
    return true;
  };

  /** The output as it is, ending with 00 00 ff ff: a piece of a fragmented message. */
  flushed(): Buffer {
    const parts = this.parts;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.length);
  }

  /** The output less its last four bytes (00 00 ff ff). */
  payload(): Buffer {
    // zlib writes nothing for an empty message when its last flush left nothing pending
    // (context takeover): the message is then one empty stored block's first byte, as
    // RFC 7692 §7.2.3.6 shows, and the receiver's appended 00 00 ff ff completes it.
    if (this.length === 0) return EMPTY_BLOCK;
    const whole = this.flushed();
    return whole.subarray(0, whole.length - 4);
  }
}
