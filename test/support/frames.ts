/**
 * Frames built byte by byte (any FIN/RSV/opcode, any mask key or none, any announced
 * length in any of the three length encodings), without the codec under test, and small
 * readers for what a server sends back.
 */
import { createHash, randomFillSync } from "node:crypto";

export const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** RSV bits as the 3-bit value of `FrameSpec.rsv`: RSV1 is the high bit (RFC 6455 §5.2). */
export const RSV1 = 0b100;
export const RSV2 = 0b010;
export const RSV3 = 0b001;

export const KiB = 1024;
export const MiB = 1024 * 1024;

const EMPTY = Buffer.alloc(0);

export interface FrameSpec {
  /** FIN bit; default true. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit value (RSV1 = 4, RSV2 = 2, RSV3 = 1); default 0. */
  rsv?: number;
  /** Any 4-bit opcode, reserved ones included. */
  opcode: number;
  payload?: Uint8Array | string;
  /** Masking key; default a random one; `null` sends the frame unmasked (invalid from a client). */
  mask?: Uint8Array | null;
  /** Payload length written in the header (default: the real one). May be a lie. */
  length?: number | bigint;
  /** Length encoding (default: the shortest, as RFC 6455 §5.2 requires). */
  lengthEncoding?: "7" | "16" | "64";
}

/** The bytes of one frame exactly as `spec` says, valid or not. */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload = toBytes(spec.payload ?? EMPTY);
  const length = BigInt(spec.length ?? payload.length);
  const encoding = spec.lengthEncoding ?? (length < 126n ? "7" : length < 0x10000n ? "16" : "64");
  const key = spec.mask === undefined ? randomKey() : spec.mask;
  const extended = encoding === "7" ? 0 : encoding === "16" ? 2 : 8;
  const header = Buffer.alloc(2 + extended + (key === null ? 0 : 4));
  header[0] = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) & 7) << 4 | (spec.opcode & 0x0f);
  const maskBit = key === null ? 0 : 0x80;
  if (encoding === "7") {
    header[1] = maskBit | Number(length & 0x7fn);
  } else if (encoding === "16") {
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(length & 0xffffn), 2);
  } else {
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt.asUintN(64, length), 2);
  }
  if (key === null) return Buffer.concat([header, payload]);
  Buffer.from(key).copy(header, 2 + extended);
  return Buffer.concat([header, maskBytes(payload, key)]);
}

// Masking keys: random (RFC 6455 §5.3), drawn from a pool so that 65,536 one-byte frames
// do not cost 65,536 calls into the CSPRNG.
const keyPool = Buffer.alloc(4096);
let keyPoolAt = keyPool.length;
function randomKey(): Buffer {
  if (keyPoolAt === keyPool.length) {
    randomFillSync(keyPool);
    keyPoolAt = 0;
  }
  keyPoolAt += 4;
  return keyPool.subarray(keyPoolAt - 4, keyPoolAt);
}

/** XOR with the key, byte by byte (RFC 6455 §5.3), into a new buffer. */
export function maskBytes(payload: Uint8Array, key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  const k0 = key[0], k1 = key[1], k2 = key[2], k3 = key[3];
  const whole = payload.length & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    out[i] = payload[i] ^ k0;
    out[i + 1] = payload[i + 1] ^ k1;
    out[i + 2] = payload[i + 2] ^ k2;
    out[i + 3] = payload[i + 3] ^ k3;
  }
  for (; i < payload.length; i++) out[i] = payload[i] ^ key[i & 3];
  return out;
}

/** A close frame body: the code (big-endian) and the UTF-8 reason; empty without a code. */
export function closeBody(code?: number, reason = ""): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const body = Buffer.alloc(2 + Buffer.byteLength(reason));
  body.writeUInt16BE(code, 0);
  body.write(reason, 2, "utf8");
  return body;
}

/** A close frame's code and reason: `code` is undefined when the frame had no body. */
export interface CloseFrame {
  code: number | undefined;
  reason: string;
}

/** A server close frame's body (§5.5.1); throws when the server sent an invalid one. */
export function parseClose(payload: Buffer): CloseFrame {
  if (payload.length === 0) return { code: undefined, reason: "" };
  if (payload.length === 1) throw new Error("server close frame has a 1-byte body");
  const reason = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2));
  return { code: payload.readUInt16BE(0), reason };
}

export function toBytes(data: Uint8Array | string): Buffer {
  return typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

export const sha256 = (bytes: string | Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** Bytes 0..255 repeating, `size` long: easy to check, not all the same. */
export function patternBytes(size: number, seed = 0): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** Printable ASCII text, `size` characters (= bytes) long. */
export function patternText(size: number): string {
  const unit = "The quick brown fox jumps over the lazy dog 0123456789. ";
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}
