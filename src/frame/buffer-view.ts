import { Buffer } from "node:buffer";

/**
 * Node's own Buffer class (`Buffer[Symbol.species]`, as `ws` uses it):
 * `new FastBuffer(arrayBuffer, byteOffset, length)` makes a view without the argument
 * checks of `subarray`, which cost as much as the rest of the per-frame work for small
 * frames.
 */
export const FastBuffer = (
  Buffer as unknown as {
    [Symbol.species]: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;
  }
)[Symbol.species];

/** A view of `length` bytes of `buffer` from `start`, sharing its memory. */
export function view(buffer: Uint8Array, start: number, length: number): Buffer {
  return new FastBuffer(buffer.buffer, buffer.byteOffset + start, length);
}

/** Bytes as the API takes them: a Buffer or any other typed array, a DataView, an ArrayBuffer. */
export type BinaryData = ArrayBufferView | ArrayBuffer;

/**
 * Binary data as a Buffer over the same memory: a Buffer as it is, any other view (typed
 * array, DataView) or an ArrayBuffer without a copy.
 * @throws TypeError for anything else, naming what it got
 */
export function toBuffer(data: BinaryData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return new FastBuffer(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new FastBuffer(data, 0, data.byteLength);
  const got = data === null ? "null" : typeof data;
  throw new TypeError(`data must be a string, an ArrayBuffer or a view of one (Buffer, typed array, DataView), got ${got}`);
}

/** A payload's bytes: a string as UTF-8, any view by its bytes (a Uint16Array's length counts elements). */
export function payloadBytes(data: string | BinaryData): Buffer {
  return typeof data === "string" ? Buffer.from(data, "utf8") : toBuffer(data);
}
