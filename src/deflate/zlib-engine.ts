import { Buffer } from "node:buffer";
import zlib from "node:zlib";

/**
 * The parts of a `node:zlib` stream that this file drives directly. Node's public API
 * offers either a one-shot synchronous call (`inflateRawSync`, which builds and frees a
 * whole zlib state per call and cannot carry an LZ77 window from one message to the
 * next) or an asynchronous stream (a thread-pool round trip for every message). RFC 7692
 * wants neither for small messages: a reusable state, run synchronously. The stream's
 * native handle does exactly that (`writeSync`, the loop `zlib.inflateRawSync` itself
 * runs); `zlibAvailable` checks at load that it is there.
 */
interface ZlibInternals {
  _handle: {
    writeSync(
      flush: number,
      input: Buffer,
      inOffset: number,
      inLength: number,
      output: Buffer,
      outOffset: number,
      outLength: number,
    ): void;
  } | null;
  /** [avail_out, avail_in] after the last write. */
  _writeState: Uint32Array;
  /** Output buffer of the asynchronous path, and its size. */
  _outBuffer: Buffer;
  _outOffset: number;
  _chunkSize: number;
  _processChunk(input: Buffer, flush: number, callback: () => void): void;
}

type ZlibStream = (zlib.DeflateRaw | zlib.InflateRaw) & ZlibInternals;

const SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;

/**
 * Output of synchronous calls goes here first: every synchronous call on this thread
 * shares it (they never overlap), so an engine owns no output buffer of its own.
 */
const scratch = Buffer.allocUnsafe(64 * 1024);

/** Output buffer of one asynchronous call, given to the engine for that call only. */
const ASYNC_CHUNK = 64 * 1024;

/** The output buffer an idle engine keeps (Node makes one per stream; the smallest it allows). */
const IDLE_CHUNK = zlib.constants.Z_MIN_CHUNK;

/**
 * Receives output. `chunk` is valid only during the call when `stable` is false (it is
 * the shared scratch buffer); returns false to stop the operation.
 */
export type ZlibSink = (chunk: Buffer, stable: boolean) => boolean;

/** Corrupt input: the zlib message (`invalid distance too far back`, ...). */
export class ZlibDataError extends Error {
  override readonly name = "ZlibDataError";
}

export interface ZlibEngineOptions {
  windowBits: number;
  level?: number;
  memLevel?: number;
  /** Preset window (raw inflate: the LZ77 history to continue from). */
  dictionary?: Buffer;
}

/**
 * One raw DEFLATE compressor or decompressor (RFC 1951, no zlib header: RFC 7692 §7.2.1)
 * that is fed input with Z_SYNC_FLUSH, so every call ends on a byte boundary with all of
 * its output out: synchronously for small inputs, on Node's thread pool for large ones.
 * Once a call fails or is stopped, the engine is closed: a caller makes a new one.
 */
export class ZlibEngine {
  private readonly stream: ZlibStream;
  /** An asynchronous call is running. */
  private busy = false;

  constructor(kind: "deflate" | "inflate", options: ZlibEngineOptions) {
    const { windowBits, level, memLevel, dictionary } = options;
    const settings = { windowBits, level, memLevel, dictionary, chunkSize: IDLE_CHUNK };
    this.stream = (kind === "deflate" ? zlib.createDeflateRaw(settings) : zlib.createInflateRaw(settings)) as ZlibStream;
    // Errors are read synchronously from `errored`; the 'error' event follows on the next
    // tick and must find a listener.
    this.stream.on("error", ignore);
  }

  /** False once the engine has failed, been stopped, or been closed. */
  get usable(): boolean {
    return this.stream._handle !== null && !this.stream.destroyed && !this.busy;
  }

  /**
   * Runs `input` through zlib with Z_SYNC_FLUSH, handing the output to `sink`. Returns
   * true when all of it was processed and `sink` never said stop; false when `sink` said
   * stop or the input held the end of a DEFLATE stream (BFINAL) with bytes after it
   * (`ended`). Throws `ZlibDataError` for corrupt input.
   */
  processSync(input: Buffer, sink: ZlibSink): boolean {
    // A second call while zlib works on the thread pool would corrupt its state (Node aborts).
    if (this.busy) throw new Error("ZlibEngine: a synchronous call while an asynchronous one runs");
    const stream = this.stream;
    const handle = stream._handle!;
    const state = stream._writeState;
    let inOffset = 0;
    let inLength = input.length;
    for (;;) {
      handle.writeSync(SYNC_FLUSH, input, inOffset, inLength, scratch, 0, scratch.length);
      if (stream.destroyed) throw this.failure();
      const availOut = state[0];
      const availIn = state[1];
      const produced = scratch.length - availOut;
      if (produced > 0 && !sink(scratch.subarray(0, produced), false)) {
        this.close();
        return false;
      }
      // A full output buffer means zlib may have more: call again with what input is left.
      if (availOut !== 0) {
        if (availIn === 0) return true;
        // Output space to spare and input left: the DEFLATE stream ended (a BFINAL block).
        this.ended = true;
        return true;
      }
      inOffset += inLength - availIn;
      inLength = availIn;
    }
  }

  /** Set when the input held the final block of a DEFLATE stream (RFC 7692 §7.2.3.3). */
  ended = false;

  /**
   * The same as `processSync` on Node's thread pool: `done` is called once, with a
   * `ZlibDataError` for corrupt input, with `false` when `sink` said stop, or `true`.
   * The chunks given to `sink` are `stable`: they may be kept.
   */
  process(input: Buffer, sink: ZlibSink, done: (result: boolean | ZlibDataError) => void): void {
    if (this.busy) throw new Error("ZlibEngine: an asynchronous call while another runs");
    const stream = this.stream;
    this.busy = true;
    stream._outBuffer = Buffer.allocUnsafe(ASYNC_CHUNK);
    stream._outOffset = 0;
    stream._chunkSize = ASYNC_CHUNK;
    let stopped = false;
    let finished = false;
    const onData = (chunk: Buffer): void => {
      if (stopped || sink(chunk, true)) return;
      stopped = true;
      stream.destroy();
    };
    const onEnd = (): void => {
      // Node ends the readable side when input is left after the DEFLATE stream's end.
      this.ended = true;
    };
    // Corrupt input destroys the stream without calling back: its 'close' ends the call.
    const finish = (): void => {
      if (finished) return;
      finished = true;
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", finish);
      this.busy = false;
      if (stopped) {
        done(false);
      } else if (stream.destroyed) {
        done(this.failure());
      } else {
        stream._outBuffer = Buffer.allocUnsafe(IDLE_CHUNK);
        stream._outOffset = 0;
        stream._chunkSize = IDLE_CHUNK;
        done(true);
      }
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", finish);
    stream._processChunk(input, SYNC_FLUSH, finish);
  }

  /** Forgets the LZ77 window and all other state: the next input starts a new stream. */
  reset(): void {
    this.stream.reset();
    this.ended = false;
  }

  close(): void {
    this.stream.close();
  }

  private failure(): ZlibDataError {
    const error = this.stream.errored;
    this.close();
    return new ZlibDataError(error?.message ?? "zlib failed");
  }
}

function ignore(): void {}

let available: boolean | undefined;

/**
 * Whether this Node's zlib has what `ZlibEngine` drives (checked once, by a round trip,
 * when first asked). Without it a server declines permessage-deflate rather than fail at
 * run time.
 */
export function zlibAvailable(): boolean {
  available ??= roundTrip();
  return available;
}

function roundTrip(): boolean {
  try {
    const deflater = new ZlibEngine("deflate", { windowBits: 15, level: 1 });
    const parts: Buffer[] = [];
    deflater.processSync(Buffer.from("wsraw"), (chunk) => (parts.push(Buffer.from(chunk)), true));
    deflater.close();
    const inflater = new ZlibEngine("inflate", { windowBits: 15 });
    let text = "";
    inflater.processSync(Buffer.concat(parts), (chunk) => ((text += chunk.toString()), true));
    inflater.close();
    return text === "wsraw";
  } catch {
    return false;
  }
}
