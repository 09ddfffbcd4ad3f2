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
