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
  /** The own engine is compressing on the thread pool: later messages wait their turn. */
  private running = false;
  /** Compressions waiting for the own engine, in send order. */
  private waiting: Array<() => void> | undefined;
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
    if (this.pool === undefined) {
      if (this.running) {
        (this.waiting ??= []).push(() => this.compress(data, callback));
        return;
      }
      this.running = true;
    }
    this.settings.limiter.run((done) => {
      const engine = this.acquire();
      const output = new CompressedMessage();
      engine.process(data, output.sink, (result) => {
        done();
        let compressed: Buffer | undefined;
        if (result === true) {
          compressed = this.finish(engine, output, data.length);
        } else {
          // Compressing valid bytes cannot fail; an engine that did is dropped. A receiver
          // that keeps a window could not follow the next message, so it must not come
          // compressed from a new engine: this connection stops compressing.
          engine.close();
          if (engine === this.engine) this.enabled = false;
        }
        if (this.pool === undefined) {
          this.running = false;
          this.waiting?.shift()?.();
        }
        callback(compressed);
      });
    });
  }

  /** Frees the connection's own engine (the connection has closed); a shared deflater has none. */
  close(): void {
    this.engine?.close();
    this.engine = undefined;
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

const EMPTY_BLOCK = Buffer.from([0x00]);

/** The output of one compression, collected from zlib. */
class CompressedMessage {
  private readonly parts: Buffer[] = [];
  private length = 0;

  readonly sink = (chunk: Buffer, stable: boolean): boolean => {
    this.parts.push(stable ? chunk : Buffer.from(chunk));
    this.length += chunk.length;
    return true;
  };

  /** The output less its last four bytes (00 00 ff ff). */
  payload(): Buffer {
    // zlib writes nothing for an empty message when its last flush left nothing pending
    // (context takeover): the message is then one empty stored block's first byte, as
    // RFC 7692 §7.2.3.6 shows, and the receiver's appended 00 00 ff ff completes it.
    if (this.length === 0) return EMPTY_BLOCK;
    const parts = this.parts;
    const whole = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.length);
    return whole.subarray(0, whole.length - 4);
  }
}
