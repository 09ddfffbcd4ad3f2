/**
 * XOR masking (RFC 6455 §5.3). The same operation masks and unmasks.
 *
 * Works four bytes at a time through an `Int32Array` view over the aligned middle of the
 * data; only the unaligned head and the tail are done byte by byte.
 */
import { Buffer } from "node:buffer";

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
  maskWithKeyWord(data, keyWord(key, 0), offset);
}

/**
 * The 4 key bytes at `bytes[at]` as one little-endian word (the first key byte in the low
 * bits). A parser keeps this number instead of a 4-byte Buffer per connection.
 */
export function keyWord(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
}

/** `mask`, with the key given as `keyWord(key, 0)`. */
export function maskWithKeyWord(data: Uint8Array, key: number, offset = 0): void {
  const length = data.length;
  const word = rotateKey(key, offset);
  let i = 0;
  if (length >= SIMD_THRESHOLD && simd !== undefined) {
    // WebAssembly memory is little-endian whatever this machine is.
    i = length & ~15;
    simdXor(data.subarray(0, i), word);
  } else if (length >= WORD_THRESHOLD) {
    i = maskWords(data, word);
  } else {
    const k0 = word & 0xff;
    const k1 = (word >>> 8) & 0xff;
    const k2 = (word >>> 16) & 0xff;
    const k3 = word >>> 24;
    for (; i + 3 < length; i += 4) {
      data[i] ^= k0;
      data[i + 1] ^= k1;
      data[i + 2] ^= k2;
      data[i + 3] ^= k3;
    }
  }
  // The last few bytes; data[i] takes key byte i & 3 of the rotated word.
  for (; i < length; i++) data[i] ^= word >>> ((i & 3) * 8);
}

/**
 * XORs the 4-byte-aligned middle of `data` a word at a time, and the bytes before it; returns
 * where the unmasked tail starts.
 */
function maskWords(data: Uint8Array, word: number): number {
  const length = data.length;
  // Bytes before the first 4-byte-aligned address.
  const head = (4 - (data.byteOffset & 3)) & 3;
  for (let i = 0; i < head; i++) data[i] ^= word >>> (i * 8);
  // The key as the machine reads a word from memory, rotated so that its first byte
  // applies to data[head].
  const shift = head * 8;
  const rotated = shift === 0 ? word : (word >>> shift) | (word << (32 - shift));
  const memoryWord = littleEndian ? rotated : byteSwap(rotated);
  const words = (length - head) >>> 2;
  const view = new Int32Array(data.buffer, data.byteOffset + head, words);
  // Unrolled: V8 keeps a bounds check per access, the loop overhead is what unrolling saves
  // (about 2.5x on large payloads).
  const unrolled = words & ~7;
  let w = 0;
  for (; w < unrolled; w += 8) {
    view[w] ^= memoryWord;
    view[w + 1] ^= memoryWord;
    view[w + 2] ^= memoryWord;
    view[w + 3] ^= memoryWord;
    view[w + 4] ^= memoryWord;
    view[w + 5] ^= memoryWord;
    view[w + 6] ^= memoryWord;
    view[w + 7] ^= memoryWord;
  }
  for (; w < words; w++) view[w] ^= memoryWord;
  return head + words * 4;
}

function byteSwap(word: number): number {
  return ((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24);
}

/** From this size on, the WebAssembly SIMD path (two copies, 16-byte XORs) is faster. */
const SIMD_THRESHOLD = 1024;
/** The data goes through the module's memory this many bytes at a time. */
const SIMD_WINDOW = 64 * 1024;
/**
 * Where that window starts in the module's memory: half a page away from the alignments
 * socket buffers usually have. Copies between addresses a multiple of 4 KiB apart alias in
 * the CPU's store buffer and ran at ~2 GB/s instead of ~15 (page-aligned 1 MiB buffers).
 */
const SIMD_WINDOW_OFFSET = 2048 + 64;

interface WasmApi {
  Module: new (bytes: Uint8Array) => unknown;
  Instance: new (module: unknown) => { exports: Record<string, unknown> };
}

/**
 * XORs `data` (a multiple of 16 bytes long) with a little-endian key word, 16 bytes per
 * instruction, through a 90-byte WebAssembly module:
 *
 *   (func (export "x") (param $p i32) (param $n i32) (param $k i32) (local $kv v128)
 *     (local.set $kv (i32x4.splat (local.get $k)))
 *     (block (loop
 *       (br_if 1 (i32.lt_u (local.get $n) (i32.const 16)))
 *       (v128.store (local.get $p) (v128.xor (v128.load (local.get $p)) (local.get $kv)))
 *       (local.set $p (i32.add (local.get $p) (i32.const 16)))
 *       (local.set $n (i32.sub (local.get $n) (i32.const 16)))
 *       (br 0))))
 *
 * Undefined where WebAssembly or its SIMD is missing; the JS loops then do all the work.
 */
const simd: { memory: Uint8Array; xor: (pointer: number, length: number, keyWord: number) => void } | undefined = (() => {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return undefined;
  const section = (id: number, content: number[]): number[] => [id, content.length, ...content];
  const body = [
    0x01, 0x01, 0x7b, 0x20, 0x02, 0xfd, 0x11, 0x21, 0x03, 0x02, 0x40, 0x03, 0x40, 0x20, 0x01, 0x41,
    0x10, 0x49, 0x0d, 0x01, 0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x20, 0x03, 0xfd, 0x51,
    0xfd, 0x0b, 0x04, 0x00, 0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, 0x20, 0x01, 0x41, 0x10, 0x6b,
    0x21, 0x01, 0x0c, 0x00, 0x0b, 0x0b, 0x0b,
  ];
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // type (i32 i32 i32) -> ()
    ...section(3, [0x01, 0x00]), // one function of that type
    ...section(5, [0x01, 0x00, 0x02]), // memory: 2 pages (window + offset)
    ...section(7, [0x02, 0x01, 0x6d, 0x02, 0x00, 0x01, 0x78, 0x00, 0x00]), // export "m", "x"
    ...section(10, [0x01, body.length, ...body]), // the function body above
  ]);
  try {
    const { exports } = new wasm.Instance(new wasm.Module(bytes));
    return {
      memory: new Uint8Array((exports.m as { buffer: ArrayBuffer }).buffer, SIMD_WINDOW_OFFSET, SIMD_WINDOW),
      xor: exports.x as (pointer: number, length: number, keyWord: number) => void,
    };
  } catch {
    return undefined; // an engine without WebAssembly SIMD: the JS paths are correct, only slower
  }
})();

/**
 * XORs `data` (a multiple of 16 bytes long) in place, through the module's window: copied
 * in, XORed, copied back.
 */
function simdXor(data: Uint8Array, keyWord: number): void {
  const memory = simd!.memory;
  // Each window starts at a multiple of 4 bytes: the key needs no rotation there.
  for (let at = 0; at < data.length; at += SIMD_WINDOW) {
    memory.set(data.subarray(at, Math.min(at + SIMD_WINDOW, data.length)));
    windowOut(data, at, Math.min(SIMD_WINDOW, data.length - at), keyWord);
  }
}

/** `word` rotated so that its low byte applies to payload byte `offset`. */
function rotateKey(word: number, offset: number): number {
  const rotation = (offset & 3) * 8;
  return rotation === 0 ? word : (word >>> rotation) | (word << (32 - rotation));
}

/**
 * `pieces` (masked with `key`, a `keyWord`) joined into one new buffer of `length` bytes and
 * unmasked on the way. The SIMD path copies through its window anyway: the pieces are
 * copied into the window one after another, and each full window is XORed and copied out
 * to its place in the message, two copies in all, where joining first (`Buffer.concat`)
 * and unmasking after would make three. Small pieces (TCP segments) cost one copy call
 * each, not a round trip through the window each.
 */
export function joinUnmasked(pieces: readonly Uint8Array[], length: number, key: number): Buffer {
  const joined = Buffer.allocUnsafe(length);
  if (simd === undefined || length < SIMD_THRESHOLD) {
    let at = 0;
    for (const piece of pieces) {
      joined.set(piece, at);
      at += piece.length;
    }
    maskWithKeyWord(joined, key);
    return joined;
  }
  const memory = simd.memory;
  let at = 0; // message bytes written out
  let filled = 0; // bytes waiting in the window
  for (const piece of pieces) {
    for (let from = 0; from < piece.length; ) {
      const take = Math.min(piece.length - from, SIMD_WINDOW - filled);
      memory.set(take === piece.length ? piece : piece.subarray(from, from + take), filled);
      filled += take;
      from += take;
      if (filled === SIMD_WINDOW) {
        windowOut(joined, at, filled, key);
        at += filled;
        filled = 0;
      }
    }
  }
  if (filled > 0) windowOut(joined, at, filled, key);
  return joined;
}

/** XORs the window's first `filled` bytes, message bytes from `at`, and copies them there. */
function windowOut(joined: Uint8Array, at: number, filled: number, key: number): void {
  const { memory, xor } = simd!;
  // Rounded up to whole 16-byte lanes: the bytes past `filled` are scratch.
  xor(SIMD_WINDOW_OFFSET, (filled + 15) & ~15, rotateKey(key, at));
  joined.set(filled === SIMD_WINDOW ? memory : memory.subarray(0, filled), at);
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
