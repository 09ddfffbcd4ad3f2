import { Buffer } from "node:buffer";

/**
 * Memory for small outgoing frames, carved from shared 64 KiB slabs.
 *
 * Frames that one connection encodes one after another land next to each other in
 * memory, so the writer can hand the socket one view spanning all of them: a tick's worth
 * of small messages goes out in one write, with no copy and no Buffer object per frame.
 * A slab is never written twice: a region belongs to its frame until the garbage
 * collector frees the slab.
 */
const SLAB_SIZE = 64 * 1024;

/** The slab being filled: `buffer`, with bytes from `used` on still free. */
export const slab = { buffer: Buffer.allocUnsafeSlow(SLAB_SIZE), used: 0 };

/**
 * Reserves `size` bytes (one small frame, far below 64 KiB) of `slab.buffer`, starting a
 * new slab when the current one is full, and returns their offset. No Buffer is made per
 * frame: the writer makes one view per run of adjacent frames when it writes.
 */
export function reserve(size: number): number {
  if (slab.used + size > SLAB_SIZE) {
    slab.buffer = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slab.used = 0;
  }
  const start = slab.used;
  slab.used += size;
  return start;
}
