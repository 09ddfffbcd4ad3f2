import { Buffer } from "node:buffer";
import { CloseCode } from "../frame/close-code.js";
import type { Role } from "../frame/parser.js";
import { ProtocolError } from "../frame/protocol-error.js";
import { Utf8Validator } from "../frame/utf8.js";
import type { DeflateParams } from "../http/permessage-deflate.js";
import { type EnginePool, sharedPool } from "./engine-pool.js";
import { type DeflateSettings, senderParams, sharedInstance } from "./options.js";
import { ZlibDataError, ZlibEngine } from "./zlib-engine.js";

/**
 * RFC 7692 §7.2.2: the receiver appends these four bytes (an empty stored block's
 * LEN/NLEN, which the sender removed) before inflating.
 */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Where a small payload and its tail are put together (synchronous calls never overlap). */
const INPUT_SCRATCH_SIZE = 16 * 1024;
const inputScratch = Buffer.allocUnsafe(INPUT_SCRATCH_SIZE);

/**
 * Decompresses one direction's compressed messages (RFC 7692 §7.2.2) for one connection.
 *
 * Bounded while it runs: the output of a message is counted as zlib produces it, and the
 * message fails with 1009 as soon as it passes `maxPayload`, so a zip bomb costs at most
 * `maxPayload` bytes (plus one 64 KiB piece) whatever it would inflate to. Text is checked
 * as UTF-8 piece by piece and fails with 1007 at the first invalid piece. Corrupt DEFLATE
 * data fails with 1007, as `ws` does: the frame is well formed, its payload is not what a
 * compressed message must be (RFC 6455 §7.4.1: "data within a message that was not
 * consistent with the type of the message").
 *
 * Memory: when the peer keeps no context (`*_no_context_takeover`), the connection holds
 * no zlib state; it borrows a pooled engine per message. Otherwise it owns one engine with
 * the peer's window (2^bits bytes, allocated by zlib at first use) plus about 7 KiB.
 */
export class MessageInflater {
  private readonly pool: EnginePool | undefined;
  private readonly windowBits: number;
  /** The connection's own engine, when the peer uses context takeover. */
  private engine: ZlibEngine | undefined;

  /**
   * The inflater for a connection: a new one when the peer keeps a context, else the one
   * that every connection with the same limit shares (it holds no state between messages).
   */
  static for(params: DeflateParams, role: Role, settings: DeflateSettings, maxPayload: number): MessageInflater {
    const make = (): MessageInflater => new MessageInflater(params, role, settings, maxPayload);
    const peer = senderParams(params, role === "server" ? "client" : "server");
    return peer.noContextTakeover ? sharedInstance(settings, `inflate:${role}:${maxPayload}`, make) : make();
  }

  constructor(
    params: DeflateParams,
    /** The role of this end: a server inflates what the client compressed. */
    role: Role,
    private readonly settings: DeflateSettings,
    private readonly maxPayload: number,
  ) {
    const peer = senderParams(params, role === "server" ? "client" : "server");
    this.windowBits = peer.maxWindowBits;
    // Any window inflates what a smaller one compressed: one pool serves every peer.
    if (peer.noContextTakeover) this.pool = sharedPool("inflate", { windowBits: 15 });
  }

  /**
   * Whether `payload` is inflated synchronously. A compressed byte costs zlib about four
   * times what a byte to compress does (`bench/deflate-sync-limit.mjs`), so the line is a
   * quarter of `syncLimit`: either way a synchronous call blocks for about as long.
   */
  isSync(payload: Buffer): boolean {
    return payload.length <= this.settings.syncLimit / 4;
  }

  /**
   * Inflates a whole compressed message (its frames' payloads joined) synchronously.
   * Throws `ProtocolError` (1007 corrupt data or invalid UTF-8, 1009 too big).
   */
  inflateSync(payload: Buffer, text: boolean): Buffer {
    const engine = this.acquire();
    const output = new InflatedMessage(this.maxPayload, text);
    try {
      if (payload.length <= INPUT_SCRATCH_SIZE - TAIL.length) {
        // One zlib call instead of two: the payload and its tail side by side.
        payload.copy(inputScratch);
        TAIL.copy(inputScratch, payload.length);
        if (engine.processSync(inputScratch.subarray(0, payload.length + TAIL.length), output.sink)) {
          return this.finish(engine, output);
        }
      } else if (engine.processSync(payload, output.sink) && engine.processSync(TAIL, output.sink)) {
        return this.finish(engine, output);
      }
    } catch (error) {
      throw this.failed(engine, error);
    }
    throw this.failed(engine, output.error);
  }

  /**
   * Inflates a whole compressed message on the thread pool (large messages); `callback`
   * gets the message, or the `ProtocolError` to fail the connection with.
   */
  inflate(payload: Buffer, text: boolean, callback: (error: ProtocolError | undefined, message: Buffer) => void): void {
    this.settings.limiter.run((done) => {
      const engine = this.acquire();
      const output = new InflatedMessage(this.maxPayload, text);
      const fail = (error: unknown): void => {
        done();
        callback(this.failed(engine, error), EMPTY);
      };
      engine.process(payload, output.sink, (first) => {
        if (first !== true) return fail(first === false ? output.error : first);
        engine.process(TAIL, output.sink, (second) => {
          if (second !== true) return fail(second === false ? output.error : second);
          done();
          let message: Buffer;
          try {
            message = this.finish(engine, output);
          } catch (error) {
            callback(this.failed(engine, error), EMPTY);
            return;
          }
          callback(undefined, message);
        });
      });
    });
  }

  /** Frees the connection's own engine (the connection has closed). */
  close(): void {
    this.engine?.close();
    this.engine = undefined;
  }

  private acquire(): ZlibEngine {
    if (this.pool !== undefined) return this.pool.acquire();
    return (this.engine ??= new ZlibEngine("inflate", { windowBits: this.windowBits }));
  }

  /** The message is complete: check it ends as whole UTF-8, and return the engine. */
  private finish(engine: ZlibEngine, output: InflatedMessage): Buffer {
    if (output.utf8 !== undefined && !output.utf8.complete) {
      throw new ProtocolError(CloseCode.InvalidPayload, "text message ends inside a UTF-8 sequence");
    }
    const message = output.message();
    if (this.pool !== undefined) {
      this.pool.release(engine);
    } else if (engine.ended) {
      // RFC 7692 §7.2.3.3: the sender ended a DEFLATE stream (BFINAL) yet keeps its
      // window. zlib takes no input after a stream's end, so a new engine continues from
      // this message's last 2^bits bytes, the part of the window it knows.
      engine.close();
      const window = message.subarray(Math.max(0, message.length - (1 << this.windowBits)));
      this.engine = new ZlibEngine("inflate", {
        windowBits: this.windowBits,
        dictionary: window.length > 0 ? Buffer.from(window) : undefined,
      });
    }
    return message;
  }

  /** The `ProtocolError` for a failed message; the engine is not reused. */
  private failed(engine: ZlibEngine, error: unknown): ProtocolError {
    engine.close();
    if (engine === this.engine) this.engine = undefined;
    if (error instanceof ProtocolError) return error;
    if (error instanceof ZlibDataError) {
      return new ProtocolError(CloseCode.InvalidPayload, `invalid compressed data: ${error.message}`);
    }
    throw error;
  }
}

const EMPTY = Buffer.alloc(0);

/** The output of one message as zlib produces it: counted, checked, kept. */
class InflatedMessage {
  private readonly parts: Buffer[] = [];
  private length = 0;
  readonly utf8: Utf8Validator | undefined;
  /** Why the sink said stop. */
  error: ProtocolError | undefined;

  constructor(
    private readonly maxPayload: number,
    text: boolean,
  ) {
    if (text) this.utf8 = new Utf8Validator();
  }

  readonly sink = (chunk: Buffer, stable: boolean): boolean => {
    this.length += chunk.length;
    if (this.length > this.maxPayload) {
      this.error = new ProtocolError(
        CloseCode.MessageTooBig,
        `message larger than the limit of ${this.maxPayload} bytes once inflated`,
      );
      return false;
    }
    if (this.utf8 !== undefined && !this.utf8.write(chunk)) {
      this.error = new ProtocolError(CloseCode.InvalidPayload, "text message is not valid UTF-8");
      return false;
    }
    this.parts.push(stable ? chunk : Buffer.from(chunk));
    return true;
  };

  message(): Buffer {
    const parts = this.parts;
    if (parts.length === 0) return EMPTY;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, this.length);
  }
}
