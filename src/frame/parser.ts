import { Buffer } from "node:buffer";
import { CloseCode, isValidCloseCode } from "./close-code.js";
import { view } from "./buffer-view.js";
import { keyWord, maskWithKeyWord } from "./mask.js";
import { MessageParts } from "./message-parts.js";
import { Opcode } from "./opcode.js";
import { ProtocolError, protocolViolation } from "./protocol-error.js";
import { Utf8Validator, isValidUtf8 } from "./utf8.js";

/** Which end of the connection the parser reads for; it decides the masking rule. */
export type Role = "server" | "client";

export interface FrameParserOptions {
  /**
   * `"server"` parses what a client sends: every frame must be masked. `"client"` parses
   * what a server sends: no frame may be masked (RFC 6455 §5.1).
   */
  role: Role;
  /**
   * Largest payload, in bytes, of one data frame and of one assembled message. A frame whose
   * header announces more, or a fragment that would take its message past it, fails with
   * 1009 as soon as its header is read, before any of the payload is buffered.
   * Default 16 MiB.
   */
  maxPayload?: number;
  /**
   * permessage-deflate was negotiated (RFC 7692): RSV1 may mark the first frame of a
   * data message as compressed. Default false: RSV1 anywhere is a protocol error.
   */
  perMessageDeflate?: boolean;
}

/**
 * What the parser found, in stream order. Called synchronously from `FrameParser.push`;
 * the callbacks must not call `push` themselves.
 *
 * Aliasing: `payload` may be a view into a chunk that was passed to `push` (see
 * `FrameParser`); it stays valid for as long as the caller keeps that chunk untouched.
 */
export interface FrameHandler {
  /**
   * A complete message: fragments joined, text already validated as UTF-8, unless
   * `compressed` (RSV1 on its first frame, RFC 7692 §6): then `payload` is the joined
   * compressed payload, and its text is checked once inflated.
   *
   * Returning `false` suspends the parser after this message (an inflation that finishes
   * later must come before what follows it): the rest of the bytes wait, and so do
   * chunks pushed meanwhile, until `resume()`.
   */
  onMessage(payload: Buffer, binary: boolean, compressed: boolean): boolean | void;
  /**
   * When present, a text message that is not compressed comes here instead, decoded:
   * the parser, which has just unmasked its bytes, also knows whether they are all ASCII,
   * and then makes the string straight from the chunk, with no view and no UTF-8 check.
   * Returning `false` suspends the parser as `onMessage` does.
   */
  onText?(text: string, byteLength: number): boolean | void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /**
   * A close frame. `code` is 1005 (`CloseCode.NoStatus`) when the frame had no body. The
   * parser ignores everything after it (RFC 6455 §5.5.1: no data frames follow a close).
   */
  onClose(code: number, reason: string): void;
}

export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

/**
 * `maxPayload` as given, or the default. Throws `RangeError` for a value no length can be
 * compared with (negative, NaN, past 2^53 - 1): checked where the option is given, since a
 * connection makes its parser only when its first bytes arrive.
 */
export function resolveMaxPayload(maxPayload: number | undefined): number {
  const value = maxPayload ?? DEFAULT_MAX_PAYLOAD;
  if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`maxPayload must be between 0 and 2^53 - 1, got ${value}`);
  }
  return value;
}

const EMPTY = Buffer.alloc(0);

/**
 * Text frames up to this size that lie within one chunk are decoded on the fast path
 * (`smallText`): below it the byte loop that unmasks them also tells whether they are
 * ASCII for free; above it the word-wise unmasking and SIMD UTF-8 check win.
 */
const SMALL_TEXT = 127;

/** Node's Buffer methods behind `toString("latin1" | "utf8", start, end)`, without its argument handling. */
interface SliceMethods {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

// Parser states.
const READ_HEADER = 0;
const READ_PAYLOAD = 1;
/** A close frame was received: the rest of the stream is ignored. */
const CLOSED = 2;
/** A ProtocolError was thrown: the connection is being failed. */
const FAILED = 3;

/** The largest header: 2 bytes, 8 bytes of extended length, 4 bytes of masking key. */
const MAX_HEADER = 14;

/**
 * An incremental RFC 6455 §5 frame parser for one direction of one connection, with no I/O.
 *
 * Feed it the bytes of the stream in chunks of any size with `push`; it calls the handler
 * for every complete message and control frame, in order, and throws a `ProtocolError`
 * (with the close code to fail the connection with) at the first violation. Control frames
 * that arrive between the fragments of a message are handed out at once.
 *
 * Zero-copy: a frame whose payload lies within one chunk is unmasked **in place, in that
 * chunk** and handed out as a view of it. A payload that spans chunks, and a fragmented
 * message, are kept as views too and joined with a single copy when the message ends
 * (pieces under 512 bytes are gathered by copying instead: see `MessageParts`). So:
 * `push` modifies the masked payload bytes of the chunks it is given, and a payload handed
 * out may share memory with them. Give the parser chunks you do not reuse (as `node:net`
 * sockets do); copy a payload you keep if you will overwrite its chunk.
 *
 * Memory: the parser holds at most one message's payload (at most `maxPayload` bytes),
 * and never more than the bytes actually received.
 */
export class FrameParser {
  private readonly handler: FrameHandler;
  private readonly serverRole: boolean;
  private readonly maxPayload: number;
  private readonly rsv1Allowed: boolean;
  /** The handler takes text as strings (`onText`). */
  private readonly decodesText: boolean;

  private state = READ_HEADER;
  /** Set when the handler asked to wait (see `FrameHandler.onMessage`). */
  private suspended = false;
  /** Bytes that arrived or were left while suspended, in stream order. */
  private backlog: Buffer[] | undefined;

  // A header that is split between chunks is gathered here.
  // Allocated the first time it is needed: most connections never split a header.
  private headerBytes: Buffer | undefined;
  private headerLength = 0;

  // The frame being read.
  private fin = false;
  private opcode = 0;
  /** The masking key as `keyWord` makes it: a number, not a 4-byte Buffer per connection. */
  private maskKey = 0;
  private masked = false;
  private payloadLength = 0;
  private payloadReceived = 0;
  /** Pieces of a control frame's payload that spans chunks (made when first needed). */
  private controlParts: Buffer[] | undefined;

  // The data message being assembled.
  /** Opcode of the message in progress (Text or Binary), 0 when none is in progress. */
  private messageOpcode = 0;
  /** The message in progress is compressed (RSV1 on its first frame). */
  private compressed = false;
  /**
   * The pieces of a fragmented message, or of a frame that spans chunks, so far;
   * undefined for none (most messages).
   */
  private messageParts: MessageParts | undefined;
  /** Made for the first text payload: a connection that never gets text has none. */
  private utf8: Utf8Validator | undefined;

  constructor(handler: FrameHandler, options: FrameParserOptions) {
    for (const method of ["onMessage", "onPing", "onPong", "onClose"] as const) {
      if (typeof handler?.[method] !== "function") throw new TypeError(`FrameParser's handler has no ${method}() method`);
    }
    if (options?.role !== "server" && options?.role !== "client") {
      throw new TypeError(`FrameParser needs options.role, "server" or "client", got ${JSON.stringify(options?.role)}`);
    }
    this.handler = handler;
    this.serverRole = options.role === "server";
    this.maxPayload = resolveMaxPayload(options.maxPayload);
    this.rsv1Allowed = options.perMessageDeflate ?? false;
    this.decodesText = handler.onText !== undefined;
  }

  /** True once a close frame has been parsed: later bytes are ignored. */
  get closed(): boolean {
    return this.state === CLOSED;
  }

  /**
   * Parses the next bytes of the stream. Throws `ProtocolError` at the first violation;
   * after that (and after a close frame) further input is ignored.
   */
  push(chunk: Buffer): void {
    if (this.state >= CLOSED) return;
    if (this.suspended) (this.backlog ??= []).push(chunk);
    else this.run(chunk);
  }

  /** True while suspended by the handler: pushed bytes wait for `resume()`. */
  get isSuspended(): boolean {
    return this.suspended;
  }

  /**
   * Goes on after the handler suspended the parser: parses the bytes that waited, until
   * they run out or the handler suspends it again. Throws as `push` does.
   */
  resume(): void {
    this.suspended = false;
    const backlog = this.backlog;
    while (backlog !== undefined && backlog.length > 0 && !this.suspended && this.state < CLOSED) {
      this.run(backlog.shift()!);
    }
    if (this.state >= CLOSED) this.backlog = undefined;
  }

  private run(chunk: Buffer): void {
    try {
      this.parse(chunk);
    } catch (error) {
      this.state = FAILED;
      this.messageParts = undefined;
      this.controlParts = undefined;
      this.backlog = undefined;
      throw error;
    }
  }

  private parse(chunk: Buffer): void {
    const length = chunk.length;
    let pos = 0;
    while (pos < length && this.state < CLOSED) {
      if (this.suspended) {
        // The rest of this chunk goes before anything pushed later.
        (this.backlog ??= []).unshift(view(chunk, pos, length - pos));
        return;
      }
      if (this.state === READ_HEADER) {
        pos = this.readHeader(chunk, pos);
        if (pos < 0) return; // the header is incomplete: wait for more bytes
        if (this.payloadLength === 0) {
          this.frameComplete(EMPTY, false);
        } else if (
          this.payloadLength <= SMALL_TEXT &&
          this.opcode === Opcode.Text &&
          this.fin &&
          this.decodesText &&
          !this.compressed &&
          length - pos >= this.payloadLength
        ) {
          pos = this.smallText(chunk, pos);
        } else if (length - pos >= this.payloadLength) {
          // The whole payload is in this chunk: unmask it in place and hand out a view.
          const payload = view(chunk, pos, this.payloadLength);
          if (this.masked) maskWithKeyWord(payload, this.maskKey);
          pos += this.payloadLength;
          this.frameComplete(payload, false);
        } else {
          this.state = READ_PAYLOAD;
          this.payloadReceived = 0;
        }
      } else {
        const take = Math.min(this.payloadLength - this.payloadReceived, length - pos);
        // In the middle of a large payload the piece is usually the whole chunk.
        const piece = take === length ? chunk : view(chunk, pos, take);
        pos += take;
        this.payloadPiece(piece);
      }
    }
  }

  /**
   * A small text message in one frame, wholly within `chunk` at `pos` (the common chat
   * message): unmasked in place by a byte loop that also ORs the bytes together, so an
   * all-ASCII payload, valid UTF-8 by construction, needs no check and becomes a string
   * straight from the chunk. Returns the position after it.
   */
  private smallText(chunk: Buffer, pos: number): number {
    const end = pos + this.payloadLength;
    const ascii = this.masked ? unmaskSmall(chunk, pos, end, this.maskKey) < 0x80 : orBytes(chunk, pos, end) < 0x80;
    if (ascii) {
      this.messageOpcode = 0;
      const text = (chunk as unknown as SliceMethods).latin1Slice(pos, end);
      if (this.handler.onText!(text, this.payloadLength) === false) this.suspended = true;
    } else {
      this.frameComplete(view(chunk, pos, this.payloadLength), false);
    }
    return end;
  }

  /**
   * Reads a frame header starting at `pos`, gathering it across chunks when needed.
   * Returns the position after the header, or -1 when the chunk ended first. Checks every
   * header rule as soon as the bytes it needs are there.
   */
  private readHeader(chunk: Buffer, pos: number): number {
    let source = chunk;
    let at = pos;
    let available = chunk.length - pos;
    const gathered = this.headerLength;
    if (gathered > 0) {
      const take = Math.min(MAX_HEADER - gathered, available);
      chunk.copy(this.headerBytes!, gathered, pos, pos + take);
      source = this.headerBytes!;
      at = 0;
      available = gathered + take;
    }
    if (available < 2) return this.stashHeader(chunk, pos, available);

    const b0 = source[at];
    const b1 = source[at + 1];
    this.checkFirstBytes(b0, b1);
    const length7 = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;
    const size = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (available < size) return this.stashHeader(chunk, pos, available);

    let payloadLength = length7;
    let keyAt = at + 2;
    if (length7 === 126) {
      payloadLength = (source[at + 2] << 8) | source[at + 3];
      keyAt += 2;
    } else if (length7 === 127) {
      const high = source.readUInt32BE(at + 2);
      // RFC 6455 §5.2: "the most significant bit MUST be 0".
      if (high >= 0x80000000) throw protocolViolation("64-bit payload length has its top bit set");
      // Anything at or above 2^53 is past every possible maxPayload; keep the arithmetic exact.
      payloadLength = high >= 0x200000 ? Infinity : high * 0x100000000 + source.readUInt32BE(at + 6);
      keyAt += 8;
    }
    this.checkLength(b0 & 0x0f, payloadLength);

    this.fin = (b0 & 0x80) !== 0;
    this.opcode = b0 & 0x0f;
    this.masked = masked;
    this.payloadLength = payloadLength;
    if (masked) this.maskKey = keyWord(source, keyAt);
    if (this.opcode === Opcode.Text || this.opcode === Opcode.Binary) {
      this.messageOpcode = this.opcode;
      this.compressed = (b0 & 0x40) !== 0;
      if (this.opcode === Opcode.Text) this.utf8?.reset();
    }
    this.headerLength = 0;
    return pos + size - gathered;
  }

  private stashHeader(chunk: Buffer, pos: number, available: number): number {
    if (this.headerLength === 0) chunk.copy((this.headerBytes ??= Buffer.allocUnsafe(MAX_HEADER)), 0, pos);
    this.headerLength = available;
    return -1;
  }

  /** The rules that the first two header bytes alone decide (RFC 6455 §5.2, §5.4, §5.5). */
  private checkFirstBytes(b0: number, b1: number): void {
    const opcode = b0 & 0x0f;
    // RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated". The only one
    // here is permessage-deflate, whose RSV1 marks the first frame of a compressed data
    // message and nothing else (RFC 7692 §6, §6.1).
    if ((b0 & 0x70) !== 0) {
      if ((b0 & 0x30) !== 0) throw protocolViolation("RSV2 or RSV3 set but no extension was negotiated that defines them");
      if (!this.rsv1Allowed) throw protocolViolation("RSV1 set but permessage-deflate was not negotiated");
      if (opcode >= Opcode.Close) throw protocolViolation("RSV1 set on a control frame (RFC 7692 §6.1)");
      if (opcode === Opcode.Continuation) throw protocolViolation("RSV1 set on a continuation frame (RFC 7692 §6.1)");
    }
    if (opcode >= Opcode.Close) {
      if (opcode > Opcode.Pong) throw protocolViolation(`reserved control opcode 0x${opcode.toString(16)}`);
      // RFC 6455 §5.5: control frames are never fragmented and carry at most 125 bytes.
      if ((b0 & 0x80) === 0) throw protocolViolation("fragmented control frame");
      if ((b1 & 0x7f) > 125) throw protocolViolation("control frame payload longer than 125 bytes");
    } else if (opcode > Opcode.Binary) {
      throw protocolViolation(`reserved data opcode 0x${opcode.toString(16)}`);
    } else if (opcode === Opcode.Continuation) {
      if (this.messageOpcode === 0) throw protocolViolation("continuation frame with no message to continue");
    } else if (this.messageOpcode !== 0) {
      // RFC 6455 §5.4: the fragments of one message are not interleaved with another.
      throw protocolViolation("new data frame before the fragmented message ended");
    }
    // RFC 6455 §5.1: clients mask every frame, servers none.
    if ((b1 & 0x80) === 0) {
      if (this.serverRole) throw protocolViolation("client frame is not masked");
    } else if (!this.serverRole) {
      throw protocolViolation("server frame is masked");
    }
  }

  /**
   * RFC 6455 §10.4: refuse a frame or message past the limit before buffering it. Control
   * frames are bounded at 125 bytes by the protocol itself and are not counted.
   */
  private checkLength(opcode: number, payloadLength: number): void {
    if (opcode >= Opcode.Close) return;
    if ((this.messageParts?.length ?? 0) + payloadLength > this.maxPayload) {
      throw new ProtocolError(
        CloseCode.MessageTooBig,
        `message larger than the limit of ${this.maxPayload} bytes`,
      );
    }
  }

  /** A piece of a payload that spans chunks. */
  private payloadPiece(piece: Buffer): void {
    // A frame that is a whole message (the first frame, and the last) and needs no UTF-8
    // check as it arrives is unmasked once it is joined: one pass over the joined bytes
    // instead of one call per piece.
    if (this.masked && !this.isWholeUncheckedMessage()) maskWithKeyWord(piece, this.maskKey, this.payloadReceived);
    this.payloadReceived += piece.length;
    const done = this.payloadReceived === this.payloadLength;
    if (this.opcode >= Opcode.Close) {
      (this.controlParts ??= []).push(piece);
      if (done) {
        const payload = Buffer.concat(this.controlParts, this.payloadLength);
        this.controlParts = undefined;
        this.state = READ_HEADER;
        this.frameComplete(payload, false);
      }
      return;
    }
    // Data: validate text as it arrives, so that invalid UTF-8 fails at once, not when
    // the (possibly large) frame is complete.
    if (this.messageOpcode === Opcode.Text && !this.compressed) this.checkUtf8(piece);
    (this.messageParts ??= new MessageParts()).add(piece);
    if (done) {
      this.state = READ_HEADER;
      this.frameComplete(EMPTY, true);
    }
  }

  /**
   * A whole frame has arrived. `payload` is its payload, unless `collected` says it was
   * already appended to the message (a data frame that spanned chunks).
   */
  private frameComplete(payload: Buffer, collected: boolean): void {
    const opcode = this.opcode;
    if (opcode >= Opcode.Close) {
      if (opcode === Opcode.Ping) this.handler.onPing(payload);
      else if (opcode === Opcode.Pong) this.handler.onPong(payload);
      else this.closeFrame(payload);
      return;
    }
    if (!collected && payload.length > 0) {
      if (this.messageOpcode === Opcode.Text && !this.compressed) this.checkUtf8(payload);
      if (this.fin && this.messageParts === undefined) {
        // A message in one frame, the common case: handed out as it is, without the
        // parts list (an array allocated and dropped per message).
        this.endMessage(payload);
        return;
      }
      (this.messageParts ??= new MessageParts()).add(payload);
    }
    if (!this.fin) return;
    const parts = this.messageParts;
    if (collected && this.masked && this.isWholeUncheckedMessage()) {
      // Its pieces are still masked: joined and unmasked in one pass.
      this.endMessage(parts!.joinUnmasked(this.maskKey));
      return;
    }
    this.endMessage(parts === undefined ? EMPTY : parts.join());
  }

  /**
   * The current frame is a whole message (no fragment came before it or follows it) whose
   * bytes are not checked as they arrive: binary, or compressed.
   */
  private isWholeUncheckedMessage(): boolean {
    return this.fin && (this.opcode === Opcode.Binary || (this.opcode === Opcode.Text && this.compressed));
  }

  /** The last frame of a data message is in: check that text ended whole, hand it out. */
  private endMessage(message: Buffer): void {
    const binary = this.messageOpcode === Opcode.Binary;
    const compressed = this.compressed;
    if (!binary && !compressed && this.utf8 !== undefined && !this.utf8.complete) {
      throw new ProtocolError(CloseCode.InvalidPayload, "text message ends inside a UTF-8 sequence");
    }
    this.messageOpcode = 0;
    this.messageParts = undefined;
    const handler = this.handler;
    const goOn =
      !binary && !compressed && this.decodesText
        ? handler.onText!((message as unknown as SliceMethods).utf8Slice(0, message.length), message.length)
        : handler.onMessage(message, binary, compressed);
    if (goOn === false) this.suspended = true;
  }

  private checkUtf8(bytes: Buffer): void {
    if (!(this.utf8 ??= new Utf8Validator()).write(bytes)) {
      throw new ProtocolError(CloseCode.InvalidPayload, "text message is not valid UTF-8");
    }
  }

  /** RFC 6455 §5.5.1: an optional 2-byte code, then an optional UTF-8 reason. */
  private closeFrame(payload: Buffer): void {
    let code: number = CloseCode.NoStatus;
    let reason = "";
    if (payload.length === 1) throw protocolViolation("close frame with a 1-byte payload");
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) throw protocolViolation(`invalid close code ${code}`);
      const reasonBytes = payload.subarray(2);
      if (!isValidUtf8(reasonBytes)) {
        throw new ProtocolError(CloseCode.InvalidPayload, "close reason is not valid UTF-8");
      }
      reason = reasonBytes.toString("utf8");
    }
    this.state = CLOSED;
    this.handler.onClose(code, reason);
  }
}

/**
 * XORs `chunk[pos, end)` with the key word (RFC 6455 §5.3) a byte at a time, four to an
 * iteration, and returns the OR of the unmasked bytes: below 0x80 when all are ASCII.
 */
function unmaskSmall(chunk: Buffer, pos: number, end: number, key: number): number {
  const k0 = key & 0xff;
  const k1 = (key >>> 8) & 0xff;
  const k2 = (key >>> 16) & 0xff;
  const k3 = key >>> 24;
  let or = 0;
  let i = pos;
  for (; i + 3 < end; i += 4) {
    or |= chunk[i] ^= k0;
    or |= chunk[i + 1] ^= k1;
    or |= chunk[i + 2] ^= k2;
    or |= chunk[i + 3] ^= k3;
  }
  for (let k = 0; i < end; i++, k += 8) or |= chunk[i] ^= (key >>> k) & 0xff;
  return or;
}

/** The OR of `chunk[pos, end)`: below 0x80 when all are ASCII. */
function orBytes(chunk: Buffer, pos: number, end: number): number {
  let or = 0;
  for (let i = pos; i < end; i++) or |= chunk[i];
  return or;
}
