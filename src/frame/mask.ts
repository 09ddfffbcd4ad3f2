/**
 * XOR masking (RFC 6455 §5.3). The same operation masks and unmasks.
 *
 * Works four bytes at a time through an `Int32Array` view over the aligned middle of the
 * data; only the unaligned head and the tail are done byte by byte.
 */

// Byte order of this machine, so the 32-bit key word lines up with the bytes in memory.
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this many bytes a plain byte loop beats building a typed-array view. */
const WORD_THRESHOLD = 32;

/**
 * XORs `data` in place with the 4-byte `key`. `offset` is the position of `data[0]` within
 * the frame payload, so a payload that arrives in pieces can be unmasked piece by piece:
 * pass the number of payload bytes that came before this piece.
 */
export function mask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  const length = data.length;
  let i = 0;
  if (length >= WORD_THRESHOLD) {
    // Bytes before the first 4-byte-aligned address.
    const head = (4 - (data.byteOffset & 3)) & 3;
    for (; i < head; i++) data[i] ^= key[(offset + i) & 3];
    const words = (length - head) >>> 2;
    const k0 = key[(offset + head) & 3];
    const k1 = key[(offset + head + 1) & 3];
    const k2 = key[(offset + head + 2) & 3];
    const k3 = key[(offset + head + 3) & 3];
    const keyWord = littleEndian
      ? k0 | (k1 << 8) | (k2 << 16) | (k3 << 24)
      : (k0 << 24) | (k1 << 16) | (k2 << 8) | k3;
    const view = new Int32Array(data.buffer, data.byteOffset + head, words);
    for (let w = 0; w < words; w++) view[w] ^= keyWord;
    i = head + words * 4;
  }
  for (; i < length; i++) data[i] ^= key[(offset + i) & 3];
}

/**
 * Writes `source` XOR `key` into `target` at `targetOffset`, leaving `source` untouched:
 * a client masks the application's buffer without modifying it.
 */
export function maskInto(
  source: Uint8Array,
  key: Uint8Array,
  target: Uint8Array,
  targetOffset: number,
): void {
  target.set(source, targetOffset);
  mask(target.subarray(targetOffset, targetOffset + source.length), key);
}
