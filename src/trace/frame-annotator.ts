import { Buffer } from "node:buffer";
import { CloseCode, isValidCloseCode } from "../frame/close-code.js";
import { mask } from "../frame/mask.js";
import { Opcode } from "../frame/opcode.js";
import { ProtocolError } from "../frame/protocol-error.js";
import { Utf8Validator, isValidUtf8 } from "../frame/utf8.js";
import { MessageInflater, deflateSettings } from "../deflate/index.js";
import type { DeflateParams } from "../http/permessage-deflate.js";
import { closeCodeMeaning } from "./close-meaning.js";
import type { Direction, FrameEvent, MessageSummary, TruncatedEvent, Violation } from "./events.js";
import { DEFAULT_PREVIEW_BYTES, hex, previewPayload } from "./payload-preview.js";

/** Limits of a {@link FrameAnnotator}. */
export interface FrameAnnotatorOptions {
  /** Payload bytes shown per frame. Default 64. */
  previewBytes?: number;
  /**
   * Largest compressed message (and inflated size) the trace inflates to show it; a larger
   * one is reported, not inflated. Default 1 MiB.
   */
  maxInflate?: number;
}

/** The largest header: 2 bytes, 8 bytes of extended length, 4 bytes of masking key (§5.2). */
const MAX_HEADER = 14;
/** A control frame carries at most 125 bytes (§5.5); a longer one is kept only this far. */
const MAX_CONTROL = 125;
const DEFAULT_MAX_INFLATE = 1024 * 1024;

const OPCODE_NAMES: Record<number, string> = {
  [Opcode.Continuation]: "continuation",
  [Opcode.Text]: "text",
  [Opcode.Binary]: "binary",
  [Opcode.Close]: "close",
  [Opcode.Ping]: "ping",
  [Opcode.Pong]: "pong",
};

/** The frame being read: its header's fields and what has been kept of its payload. */
interface FrameInProgress {
  event: FrameEvent;
  key: Buffer | undefined;
  received: number;
  /** The unmasked start of the payload (what a preview or a close body needs). */
  kept: Buffer[];
  keptLength: number;
  keepLimit: number;
  /** The frame's payload belongs to the data message in progress. */
  data: boolean;
}

/** The data message whose frames are being read. */
interface MessageInProgress {
  kind: "text" | "binary";
  frames: number;
  size: number;
  compressed: boolean;
  /** A compressed message's unmasked payload, kept to inflate it; undefined once past the limit. */
  parts: Buffer[] | undefined;
  utf8: Utf8Validator | undefined;
  utf8Failed: boolean;
}

/**
 * Reads one direction of a WebSocket connection's frames and describes each one, without
 * I/O and without ever failing: where `FrameParser` throws at the first violation (an
 * endpoint must fail the connection), this reports the rule broken and reads on, so that a
 * relay can show both ends as they are.
 *
 * It never modifies the chunks it is given: payloads are unmasked in copies, and only the
 * bytes a preview, a close body or an inflation needs are kept (bounded by the options).
 */
export class FrameAnnotator {
  private readonly previewBytes: number;
  private readonly maxInflate: number;
  private readonly header = Buffer.alloc(MAX_HEADER);
  private headerLength = 0;
  private offset: number;
  private frame: FrameInProgress | undefined;
  private message: MessageInProgress | undefined;
  private closed = false;
  private inflater: MessageInflater | undefined;
  /** A compressed message with context takeover could not be inflated: later ones cannot either. */
  private contextLost = false;
  private deflateNegotiated = false;
  /** The sender resets its compression context after every message (no context takeover). */
  private senderResetsContext = false;

  /**
   * @param connection - the connection's number, copied into every event
   * @param direction - whose bytes these are: a client's frames must be masked, a server's must not (§5.1)
   * @param offset - where the frames start in the direction's stream (after the handshake head)
   */
  constructor(
    private readonly connection: number,
    private readonly direction: Direction,
    offset = 0,
    options: FrameAnnotatorOptions = {},
  ) {
    this.offset = offset;
    this.previewBytes = options.previewBytes ?? DEFAULT_PREVIEW_BYTES;
    this.maxInflate = options.maxInflate ?? DEFAULT_MAX_INFLATE;
  }

  /**
   * permessage-deflate was negotiated with `params` (RFC 7692 §7.1): RSV1 marks compressed
   * messages, which are inflated to be shown.
   */
  useDeflate(params: DeflateParams): void {
    this.deflateNegotiated = true;
    // The end that inflates this direction: a server inflates what the client sent.
    const role = this.direction === "client" ? "server" : "client";
    this.senderResetsContext = this.direction === "client" ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.inflater = MessageInflater.for(params, role, deflateSettings({ syncLimit: Infinity }), this.maxInflate);
  }

  /** Reads the next bytes of the direction; returns the frames they completed. `chunk` is not modified. */
  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.frame === undefined) {
        const needed = this.headerLength < 2 ? 2 : headerSize(this.header[1]);
        const take = Math.min(needed - this.headerLength, chunk.length - pos);
        chunk.copy(this.header, this.headerLength, pos, pos + take);
        this.headerLength += take;
        pos += take;
        if (this.headerLength < 2 || this.headerLength < headerSize(this.header[1])) continue;
        this.frame = this.startFrame();
        if (this.frame.event.payloadLength === 0) events.push(this.finishFrame());
      } else {
        const frame = this.frame;
        const take = Math.min(frame.event.payloadLength - frame.received, chunk.length - pos);
        this.payloadPiece(frame, chunk.subarray(pos, pos + take));
        pos += take;
        if (frame.received === frame.event.payloadLength) events.push(this.finishFrame());
      }
    }
    return events;
  }

  /** The direction ended: says what was cut short, if anything. */
  end(): TruncatedEvent | undefined {
    let what: string | undefined;
    if (this.frame !== undefined) {
      const { event, received } = this.frame;
      what = `a ${event.opcodeName} frame at byte ${event.offset}: ${received} of its ${event.payloadLength} payload bytes arrived`;
    } else if (this.headerLength > 0) {
      what = `a frame header: ${this.headerLength} bytes arrived`;
    } else if (this.message !== undefined) {
      what = `a fragmented ${this.message.kind} message: ${this.message.frames} frames and no final one (FIN) (RFC 6455 §5.4)`;
    }
    return what === undefined ? undefined : { type: "truncated", connection: this.connection, direction: this.direction, what };
  }

  private startFrame(): FrameInProgress {
    const h = this.header;
    const b0 = h[0];
    const b1 = h[1];
    const size = headerSize(b1);
    const violations: Violation[] = [];
    const length7 = b1 & 0x7f;
    let payloadLength = length7;
    let lengthEncoding: FrameEvent["lengthEncoding"] = "7-bit";
    if (length7 === 126) {
      payloadLength = h.readUInt16BE(2);
      lengthEncoding = "16-bit";
      if (payloadLength < 126) violations.push(rule("the length fits in 7 bits: the minimal encoding MUST be used", "RFC 6455 §5.2"));
    } else if (length7 === 127) {
      lengthEncoding = "64-bit";
      const big = h.readBigUInt64BE(2);
      if (big >= 1n << 63n) violations.push(rule("64-bit payload length has its most significant bit set", "RFC 6455 §5.2"));
      payloadLength = Number(big);
      if (big < 0x10000n) violations.push(rule("the length fits in 16 bits: the minimal encoding MUST be used", "RFC 6455 §5.2"));
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? Buffer.from(h.subarray(size - 4, size)) : undefined;
    const opcode = b0 & 0x0f;
    const event: FrameEvent = {
      type: "frame",
      connection: this.connection,
      direction: this.direction,
      offset: this.offset,
      header: hex(h.subarray(0, size)),
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode,
      opcodeName: OPCODE_NAMES[opcode] ?? "reserved",
      masked,
      maskKey: key === undefined ? null : key.toString("hex"),
      payloadLength,
      lengthEncoding,
      payload: { kind: "hex", shown: "", omitted: 0 },
      close: null,
      message: null,
      violations,
    };
    this.offset += size + payloadLength;
    this.headerLength = 0;
    this.checkHeader(event);
    const data = this.trackMessage(event);
    const control = opcode >= Opcode.Close;
    const compressedData = data && this.message!.compressed && this.message!.parts !== undefined;
    return {
      event,
      key,
      received: 0,
      kept: [],
      keptLength: 0,
      keepLimit: Math.max(this.previewBytes, control ? MAX_CONTROL : 0, compressedData ? this.maxInflate : 0),
      data,
    };
  }

  /** The rules that the header alone decides (RFC 6455 §5.1-§5.5, RFC 7692 §6). */
  private checkHeader(event: FrameEvent): void {
    const { violations, opcode } = event;
    if (this.closed) violations.push(rule("a frame after this side's close frame", "RFC 6455 §5.5.1"));
    if (event.rsv2 || event.rsv3) violations.push(rule("RSV2 or RSV3 set, and no extension defines them", "RFC 6455 §5.2"));
    if (event.rsv1) {
      if (!this.deflateNegotiated) violations.push(rule("RSV1 set, and permessage-deflate was not negotiated", "RFC 6455 §5.2"));
      else if (opcode >= Opcode.Close) violations.push(rule("RSV1 set on a control frame", "RFC 7692 §6.1"));
      else if (opcode === Opcode.Continuation) violations.push(rule("RSV1 set on a continuation frame", "RFC 7692 §6.1"));
    }
    if (event.opcodeName === "reserved") {
      violations.push(rule(`reserved opcode 0x${opcode.toString(16)}`, "RFC 6455 §5.2"));
    }
    if (opcode >= Opcode.Close) {
      if (!event.fin) violations.push(rule("a control frame MUST NOT be fragmented", "RFC 6455 §5.5"));
      if (event.payloadLength > MAX_CONTROL) violations.push(rule("a control frame carries at most 125 bytes", "RFC 6455 §5.5"));
    }
    if (this.direction === "client" && !event.masked) {
      violations.push(rule("a client MUST mask every frame it sends", "RFC 6455 §5.1, §5.3"));
    } else if (this.direction === "server" && event.masked) {
      violations.push(rule("a server MUST NOT mask the frames it sends", "RFC 6455 §5.1"));
    }
  }

  /**
   * Follows the data message the frame belongs to (§5.4): returns whether the frame's
   * payload is part of one.
   */
  private trackMessage(event: FrameEvent): boolean {
    const { opcode, violations } = event;
    if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.message !== undefined) {
        violations.push(rule("a new data frame before the fragmented message ended", "RFC 6455 §5.4"));
      }
      const kind = opcode === Opcode.Text ? "text" : "binary";
      const compressed = event.rsv1 && this.inflater !== undefined;
      this.message = {
        kind,
        frames: 0,
        size: 0,
        compressed,
        parts: compressed ? [] : undefined,
        utf8: kind === "text" && !compressed ? new Utf8Validator() : undefined,
        utf8Failed: false,
      };
    } else if (opcode === Opcode.Continuation) {
      if (this.message === undefined) {
        violations.push(rule("a continuation frame with no message to continue", "RFC 6455 §5.4"));
        return false;
      }
    } else {
      return false;
    }
    this.message.frames++;
    this.message.size += event.payloadLength;
    if (this.message.parts !== undefined && this.message.size > this.maxInflate) this.message.parts = undefined;
    return true;
  }

  private payloadPiece(frame: FrameInProgress, piece: Buffer): void {
    const message = frame.data ? this.message! : undefined;
    const needWhole = message !== undefined && (message.utf8 !== undefined || message.parts !== undefined);
    const keepTake = Math.min(frame.keepLimit - frame.keptLength, piece.length);
    if (!needWhole && keepTake <= 0) {
      frame.received += piece.length;
      return;
    }
    // A copy: the original goes on to the peer as it came.
    const plain = Buffer.from(needWhole ? piece : piece.subarray(0, keepTake));
    if (frame.key !== undefined) mask(plain, frame.key, frame.received);
    frame.received += piece.length;
    if (keepTake > 0) {
      frame.kept.push(plain.subarray(0, keepTake));
      frame.keptLength += keepTake;
    }
    if (message?.parts !== undefined) message.parts.push(plain);
    if (message?.utf8 !== undefined && !message.utf8Failed && !message.utf8.write(plain)) message.utf8Failed = true;
  }

  private finishFrame(): FrameEvent {
    const frame = this.frame!;
    this.frame = undefined;
    const event = frame.event;
    const kept = Buffer.concat(frame.kept, frame.keptLength);
    const message = frame.data ? this.message : undefined;
    // Ping and pong data is the application's: shown as text when it is UTF-8, like a text message's.
    const asText =
      (message !== undefined && message.kind === "text" && !message.compressed) ||
      event.opcode === Opcode.Ping ||
      event.opcode === Opcode.Pong;
    event.payload = previewPayload(kept, event.payloadLength, asText, this.previewBytes);
    if (event.opcode === Opcode.Close) {
      event.close = this.closeBody(kept, event);
      this.closed = true;
    }
    if (message !== undefined) {
      if (message.utf8Failed) {
        event.violations.push(rule("a text message that is not valid UTF-8", "RFC 6455 §5.6, §8.1"));
        message.utf8 = undefined;
      }
      if (event.fin) {
        this.message = undefined;
        event.message = this.summarize(message, event);
      }
    }
    return event;
  }

  /** RFC 6455 §5.5.1: an optional 2-byte code, then an optional UTF-8 reason. */
  private closeBody(body: Buffer, event: FrameEvent): FrameEvent["close"] {
    if (body.length === 0) return { code: CloseCode.NoStatus, meaning: closeCodeMeaning(CloseCode.NoStatus), reason: "" };
    if (body.length === 1) {
      event.violations.push(rule("a close body of 1 byte: the code takes 2", "RFC 6455 §5.5.1"));
      return null;
    }
    const code = body.readUInt16BE(0);
    if (!isValidCloseCode(code)) event.violations.push(rule(`close code ${code} may not be sent`, "RFC 6455 §7.4"));
    const reasonBytes = body.subarray(2);
    if (!isValidUtf8(reasonBytes)) event.violations.push(rule("the close reason is not valid UTF-8", "RFC 6455 §5.5.1"));
    return { code, meaning: closeCodeMeaning(code), reason: reasonBytes.toString("utf8") };
  }

  private summarize(message: MessageInProgress, event: FrameEvent): MessageSummary {
    const text = message.kind === "text";
    if (message.utf8 !== undefined && !message.utf8.complete) {
      event.violations.push(rule("a text message that ends inside a UTF-8 sequence", "RFC 6455 §5.6, §8.1"));
    }
    const summary: MessageSummary = {
      kind: message.kind,
      frames: message.frames,
      size: message.size,
      compressed: message.compressed,
      inflated: null,
    };
    if (!message.compressed) return summary;
    if (message.parts === undefined) {
      summary.inflated = { error: `not inflated: larger than the trace's ${this.maxInflate}-byte limit` };
      this.contextLost = true;
      return summary;
    }
    if (this.contextLost && !this.senderResetsContext) {
      summary.inflated = { error: "not inflated: an earlier message was not, and this one may refer back to it" };
      return summary;
    }
    try {
      const inflated = this.inflater!.inflateSync(Buffer.concat(message.parts, message.size), text);
      summary.inflated = { size: inflated.length, payload: previewPayload(inflated, inflated.length, text, this.previewBytes) };
    } catch (error) {
      this.contextLost = true;
      const tooBig = error instanceof ProtocolError && error.closeCode === CloseCode.MessageTooBig;
      summary.inflated = { error: tooBig ? `not inflated: more than the trace's ${this.maxInflate}-byte limit` : (error as Error).message };
      if (!tooBig) event.violations.push(rule(`the compressed message does not inflate: ${(error as Error).message}`, "RFC 7692 §7.2.2"));
    }
    return summary;
  }
}

/** The size of a frame's header from its second byte: length encoding and MASK (§5.2). */
function headerSize(b1: number): number {
  const length7 = b1 & 0x7f;
  return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

function rule(message: string, section: string): Violation {
  return { message, rule: section };
}
