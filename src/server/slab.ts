/**
 * Memory for small outgoing frames, carved from shared 64 KiB slabs.
 *
 * Frames that one connection encodes one after another land next to each other in
 * memory, so the writer can hand the socket one view spanning all of them: a tick's worth
 * of small messages goes out in one write with no copy. A slab is never written twice: a
 * region belongs to its frame until the garbage collector frees the slab.
 */
const SLAB_SIZE = 64 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let used = 0;

/** `size` bytes of fresh memory, from the current slab when it fits (`size` ≤ 64 KiB). */
export function allocFrame(size: number): Buffer {
  if (size > SLAB_SIZE >>> 2) return Buffer.allocUnsafeSlow(size);
  if (used + size > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    used = 0;
  }
  const region = slab.subarray(used, used + size);
  used += size;
  return region;
}

/** True when `second` starts right where `first` ends in the same memory. */
export function adjacent(first: Buffer, second: Buffer): boolean {
  return first.buffer === second.buffer && first.byteOffset + first.length === second.byteOffset;
}
