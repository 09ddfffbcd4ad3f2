import { Buffer } from "node:buffer";
import { randomFillSync } from "node:crypto";
import { isValidCloseCode } from "./close-code.js";
import { type BinaryData, payloadBytes, view } from "./buffer-view.js";
import { mask } from "./mask.js";
import { Opcode, isControlOpcode } from "./opcode.js";

const EMPTY = Buffer.alloc(0);

/** Options for one encoded frame or message. */
export interface EncodeOptions {
  /** Last fragment of its message (RFC 6455 §5.2 FIN). Default true. */
  fin?: boolean;
  /**
   * Mask the payload with a fresh random key, as a client must (RFC 6455 §5.3). The
   * caller's payload is left untouched: the masked bytes go into a new buffer.
   */
  mask?: boolean;
  /**
   * Set RSV1: the frame starts a compressed message (permessage-deflate, RFC 7692 §6).
   * The payload must already be compressed. With `encodeMessage`, only the first frame.
   */
  compressed?: boolean;
}

/**
 * RSV1 (RFC 6455 §5.2), which permessage-deflate uses to mark a compressed message
 * (RFC 7692 §6); or it into the `opcode` given to `writeFrameHeader`.
 */
export const RSV1 = 0x40;

/**
 * Payloads up to this size are copied next to their header into one buffer: one small
 * copy is cheaper than a second buffer in every write. Larger payloads are never copied.
 */
export const MERGE_THRESHOLD = 1024;

/** Bytes of the header for a payload of `payloadLength` bytes (RFC 6455 §5.2). */
export function frameHeaderSize(payloadLength: number, masked: boolean): number {
  const size = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? size + 4 : size;
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset after it. The
 * length uses the shortest encoding, as RFC 6455 §5.2 requires. With `maskKey`, the mask
 * bit is set and the key written; the payload must then be masked with the same key.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  opcode: number,
  payloadLength: number,
  fin: boolean,
  maskKey?: Uint8Array,
): number {
  const maskBit = maskKey === undefined ? 0 : 0x80;
  target[offset++] = (fin ? 0x80 : 0) | opcode;
  if (payloadLength < 126) {
    target[offset++] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    target[offset++] = maskBit | 126;
    target[offset++] = payloadLength >>> 8;
    target[offset++] = payloadLength & 0xff;
  } else {
    target[offset++] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[offset++] = high >>> 24;
    target[offset++] = (high >>> 16) & 0xff;
    target[offset++] = (high >>> 8) & 0xff;
    target[offset++] = high & 0xff;
    target[offset++] = low >>> 24;
    target[offset++] = (low >>> 16) & 0xff;
    target[offset++] = (low >>> 8) & 0xff;
    target[offset++] = low & 0xff;
  }
  if (maskKey !== undefined) {
    target[offset++] = maskKey[0];
    target[offset++] = maskKey[1];
    target[offset++] = maskKey[2];
    target[offset++] = maskKey[3];
  }
  return offset;
}

// Masking keys come from a pool of random bytes, refilled a few hundred keys at a time
// (RFC 6455 §5.3: keys must be unpredictable, so a CSPRNG; one syscall per key is wasteful).
// 2,048 keys a refill: a client sending small messages spent ~2% of its time refilling 256.
const keyPool = Buffer.allocUnsafe(4 * 2048);
let keyPoolOffset = keyPool.length;
/** Handed out by `randomMaskKey` and refilled by each call: no allocation per key. */
const currentKey = Buffer.allocUnsafe(4);

/** A fresh, unpredictable 4-byte masking key. The buffer is valid until the next call. */
export function randomMaskKey(): Buffer {
  if (keyPoolOffset === keyPool.length) {
    randomFillSync(keyPool);
    keyPoolOffset = 0;
  }
  const at = keyPoolOffset;
  currentKey[0] = keyPool[at];
  currentKey[1] = keyPool[at + 1];
  currentKey[2] = keyPool[at + 2];
  currentKey[3] = keyPool[at + 3];
  keyPoolOffset = at + 4;
  return currentKey;
}


/** Below this, copying and masking in one byte loop beats `set` + `mask` on a new view. */
const FUSED_MASK_THRESHOLD = 48;

/**
 * Encodes one frame as the buffers to write, in order. Unmasked, a large payload is not
 * copied: the result is `[header, payload]` and `payload` is the caller's own buffer
 * (don't modify it before it is written). A small payload, or a masked one, comes back as
 * one buffer holding header and payload.
 */
export function encodeFrame(opcode: number, data: string | BinaryData, options: EncodeOptions = {}): Buffer[] {
  // RFC 6455 §5.2: four bits. Reserved opcodes are encoded as asked (peers are tested with them).
  if (!(Number.isInteger(opcode) && opcode >= 0 && opcode <= 15)) {
    throw new RangeError(`an opcode is 4 bits (0 to 15), got ${opcode}`);
  }
  const payload = payloadBytes(data);
  const fin = options.fin ?? true;
  const length = payload.length;
  if (isControlOpcode(opcode)) {
    checkControlPayload(length, fin);
    // RFC 7692 §6.1: control frames are never compressed.
    if (options.compressed) throw new RangeError("control frames cannot be compressed");
  }
  if (options.compressed) opcode |= RSV1;
  if (options.mask) {
    const key = randomMaskKey();
    const frame = Buffer.allocUnsafe(frameHeaderSize(length, true) + length);
    const start = writeFrameHeader(frame, 0, opcode, length, fin, key);
    if (length < FUSED_MASK_THRESHOLD) {
      for (let i = 0; i < length; i++) frame[start + i] = payload[i] ^ key[i & 3];
    } else {
      frame.set(payload, start);
      mask(view(frame, start, length), key);
    }
    return [frame];
  }
  const headerSize = frameHeaderSize(length, false);
  if (length <= MERGE_THRESHOLD) {
    const frame = Buffer.allocUnsafe(headerSize + length);
    frame.set(payload, writeFrameHeader(frame, 0, opcode, length, fin));
    return [frame];
  }
  const header = Buffer.allocUnsafe(headerSize);
  writeFrameHeader(header, 0, opcode, length, fin);
  return [header, payload];
}

/**
 * Encodes a text frame into a single buffer: the UTF-8 bytes are written straight after
 * the header, so the string is encoded once and nothing is copied afterwards.
 */
export function encodeTextFrame(text: string, options: EncodeOptions = {}): Buffer {
  const fin = options.fin ?? true;
  const length = Buffer.byteLength(text);
  const key = options.mask ? randomMaskKey() : undefined;
  const frame = Buffer.allocUnsafe(frameHeaderSize(length, key !== undefined) + length);
  const start = writeFrameHeader(frame, 0, Opcode.Text, length, fin, key);
  frame.write(text, start, "utf8");
  if (key !== undefined) mask(frame.subarray(start), key);
  return frame;
}

/**
 * Encodes a whole data message, split into frames of at most `fragmentSize` payload bytes
 * when that option is given (RFC 6455 §5.4). Returns the buffers to write, in order.
 */
export function encodeMessage(
  payload: string | BinaryData,
  options: EncodeOptions & { fragmentSize?: number } = {},
): Buffer[] {
  const binary = typeof payload !== "string";
  const bytes = payloadBytes(payload);
  const size = options.fragmentSize ?? Infinity;
  if (!(size >= 1)) throw new RangeError(`fragmentSize must be at least 1, got ${size}`);
  if (bytes.length <= size) return encodeFrame(binary ? Opcode.Binary : Opcode.Text, bytes, options);
  const frames: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += size) {
    const end = Math.min(start + size, bytes.length);
    const opcode = start === 0 ? (binary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation;
    const fin = end === bytes.length && (options.fin ?? true);
    const compressed = start === 0 && options.compressed;
    frames.push(...encodeFrame(opcode, bytes.subarray(start, end), { mask: options.mask, fin, compressed }));
  }
  return frames;
}

/** A ping frame (RFC 6455 §5.5.2) with at most 125 bytes of application data. */
export function encodePing(payload: string | BinaryData = EMPTY, options: { mask?: boolean } = {}): Buffer {
  return encodeFrame(Opcode.Ping, payload, { mask: options.mask, fin: true })[0];
}

/** A pong frame (RFC 6455 §5.5.3); in reply to a ping it carries the ping's data. */
export function encodePong(payload: string | BinaryData = EMPTY, options: { mask?: boolean } = {}): Buffer {
  return encodeFrame(Opcode.Pong, payload, { mask: options.mask, fin: true })[0];
}

/**
 * A close frame (RFC 6455 §5.5.1). With no code the body is empty. Throws `RangeError`
 * for a code that may not be sent (§7.4: 1005, 1006 and 1015 are for reporting only) or
 * a reason over 123 bytes of UTF-8 (the control-frame limit of 125 less the code).
 */
export function encodeClose(code?: number, reason = "", options: { mask?: boolean } = {}): Buffer {
  if (typeof reason !== "string") throw new TypeError(`a close reason is a string, got ${typeof reason}`);
  if (code === undefined) {
    if (reason !== "") throw new RangeError("a close reason needs a close code");
    return encodeFrame(Opcode.Close, EMPTY, { mask: options.mask })[0];
  }
  if (typeof code !== "number") throw new TypeError(`a close code is a number, got ${typeof code} ${String(code)}`);
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new RangeError(`close code ${code} may not be sent (RFC 6455 §7.4)`);
  }
  const reasonLength = Buffer.byteLength(reason);
  if (reasonLength > MAX_CLOSE_REASON) {
    throw new RangeError(`close reason is ${reasonLength} bytes of UTF-8; at most ${MAX_CLOSE_REASON} fit`);
  }
  const body = Buffer.allocUnsafe(2 + reasonLength);
  body.writeUInt16BE(code, 0);
  body.write(reason, 2, "utf8");
  return encodeFrame(Opcode.Close, body, { mask: options.mask })[0];
}

/** Longest close reason in bytes: a control frame carries 125, the code takes 2. */
export const MAX_CLOSE_REASON = 123;

/** Cuts `reason` to at most 123 bytes of UTF-8 without splitting a character. */
export function truncateCloseReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON) return reason;
  let result = "";
  let bytes = 0;
  for (const char of reason) {
    const size = Buffer.byteLength(char);
    if (bytes + size > MAX_CLOSE_REASON) break;
    result += char;
    bytes += size;
  }
  return result;
}

function checkControlPayload(length: number, fin: boolean): void {
  // RFC 6455 §5.5.
  if (length > 125) throw new RangeError(`control frame payload is ${length} bytes; at most 125 allowed`);
  if (!fin) throw new RangeError("control frames cannot be fragmented");
}

