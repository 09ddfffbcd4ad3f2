/**
 * XOR masking (RFC 6455 §5.3). The same operation masks and unmasks.
 *
 * Works four bytes at a time through an `Int32Array` view over the aligned middle of the
 * data; only the unaligned head and the tail are done byte by byte.
 */

// Byte order of this machine, so the 32-bit key word lines up with the bytes in memory.
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Below this many bytes a byte loop beats building an `Int32Array` view (creating the view
 * costs about as much as XOR-ing ~100 bytes one by one).
 */
const WORD_THRESHOLD = 128;

/**
 * XORs `data` in place with the 4-byte `key`. `offset` is the position of `data[0]` within
 * the frame payload, so a payload that arrives in pieces can be unmasked piece by piece:
 * pass the number of payload bytes that came before this piece.
 */
export function mask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  const length = data.length;
  // The key bytes in the order they apply from data[0] on.
  const k0 = key[offset & 3];
  const k1 = key[(offset + 1) & 3];
  const k2 = key[(offset + 2) & 3];
  const k3 = key[(offset + 3) & 3];
  let i = 0;
  if (length >= WORD_THRESHOLD) {
    // Bytes before the first 4-byte-aligned address.
    const head = (4 - (data.byteOffset & 3)) & 3;
    if (head > 0) {
      data[0] ^= k0;
      if (head > 1) {
        data[1] ^= k1;
        if (head > 2) data[2] ^= k2;
      }
    }
    // The key as one word, rotated so that its first byte applies to data[head].
    const word = littleEndian ? k0 | (k1 << 8) | (k2 << 16) | (k3 << 24) : (k0 << 24) | (k1 << 16) | (k2 << 8) | k3;
    const shift = head * 8;
    const keyWord =
      shift === 0 ? word : littleEndian ? (word >>> shift) | (word << (32 - shift)) : (word << shift) | (word >>> (32 - shift));
    const words = (length - head) >>> 2;
    const view = new Int32Array(data.buffer, data.byteOffset + head, words);
    // Unrolled: V8 keeps a bounds check per access, the loop overhead is what unrolling saves
    // (about 2.5x on large payloads).
    const unrolled = words & ~7;
    let w = 0;
    for (; w < unrolled; w += 8) {
      view[w] ^= keyWord;
      view[w + 1] ^= keyWord;
      view[w + 2] ^= keyWord;
      view[w + 3] ^= keyWord;
      view[w + 4] ^= keyWord;
      view[w + 5] ^= keyWord;
      view[w + 6] ^= keyWord;
      view[w + 7] ^= keyWord;
    }
    for (; w < words; w++) view[w] ^= keyWord;
    i = head + words * 4;
    for (; i < length; i++) data[i] ^= key[(offset + i) & 3];
    return;
  }
  for (; i + 3 < length; i += 4) {
    data[i] ^= k0;
    data[i + 1] ^= k1;
    data[i + 2] ^= k2;
    data[i + 3] ^= k3;
  }
  if (i < length) {
    data[i] ^= k0;
    if (i + 1 < length) {
      data[i + 1] ^= k1;
      if (i + 2 < length) data[i + 2] ^= k2;
    }
  }
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
