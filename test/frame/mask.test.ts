import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mask, maskInto, randomMaskKey } from "../../src/frame/index.js";
import { joinUnmasked, keyWord } from "../../src/frame/mask.js";

/** The obvious byte-wise definition (RFC 6455 §5.3), returning a new array. */
function naiveMask(data: Uint8Array, key: ArrayLike<number>, offset = 0): Uint8Array {
  return data.map((byte, i) => byte ^ key[(offset + i) % 4]);
}

const GUARD = 0xa5;

/**
 * `length` random bytes at `byteOffset` inside a larger buffer filled with guard bytes,
 * so that a write outside the view (a word loop running past the end) is seen.
 */
function viewInGuardedBuffer(data: Uint8Array, byteOffset: number): { view: Uint8Array; whole: Uint8Array } {
  const whole = new Uint8Array(byteOffset + data.length + 16).fill(GUARD);
  whole.set(data, byteOffset);
  return { view: whole.subarray(byteOffset, byteOffset + data.length), whole };
}

function guardsIntact(whole: Uint8Array, byteOffset: number, length: number): boolean {
  const outside = [...whole.subarray(0, byteOffset), ...whole.subarray(byteOffset + length)];
  return outside.every((byte) => byte === GUARD);
}

function expectGuardsIntact(whole: Uint8Array, byteOffset: number, length: number): void {
  expect(guardsIntact(whole, byteOffset, length)).toBe(true);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

function randomBytes(length: number, seed: number): Uint8Array {
  // A small deterministic generator: reproducible, and no two lengths look alike.
  const bytes = new Uint8Array(length);
  let state = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

describe("mask", () => {
  it("matches the byte-wise reference and is its own inverse for lengths 0..80 at byteOffsets 0..7 and several key offsets", () => {
    // 3888 cases: collect the failing ones and assert once (one expect per case is slow).
    const failures: string[] = [];
    for (let length = 0; length <= 80; length++) {
      const data = randomBytes(length, length);
      for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
        for (const offset of [0, 1, 2, 3, 5, 1023]) {
          const { view, whole } = viewInGuardedBuffer(data, byteOffset);
          const name = `length ${length}, byteOffset ${byteOffset}, offset ${offset}`;
          mask(view, KEY, offset);
          if (!sameBytes(view, naiveMask(data, KEY, offset))) failures.push(`${name}: differs from the reference`);
          if (!guardsIntact(whole, byteOffset, length)) failures.push(`${name}: wrote outside the view`);
          mask(view, KEY, offset);
          if (!sameBytes(view, data)) failures.push(`${name}: not an involution`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("actually changes the data (a no-op mask would pass the involution check)", () => {
    const data = new Uint8Array(64);
    mask(data, KEY);
    expect([...data.subarray(0, 8)]).toEqual([0x37, 0xfa, 0x21, 0x3d, 0x37, 0xfa, 0x21, 0x3d]);
  });

  it("accepts a key that is itself a view at an odd byteOffset", () => {
    const keyHolder = Uint8Array.of(0, 0, 0, ...KEY, 0);
    const key = keyHolder.subarray(3, 7);
    const data = randomBytes(100, 7);
    const copy = data.slice();
    mask(copy, key, 2);
    expect(copy).toEqual(naiveMask(data, KEY, 2));
  });

  it("handles a large payload at an unaligned offset", () => {
    const data = randomBytes(1024 * 1024 + 3, 99);
    const { view, whole } = viewInGuardedBuffer(data, 3);
    mask(view, KEY, 1);
    expect(Buffer.from(view).equals(Buffer.from(naiveMask(data, KEY, 1)))).toBe(true);
    expectGuardsIntact(whole, 3, data.length);
  });

  it("property: unmasking piece by piece with `offset` equals unmasking the whole", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400, size: "max" }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 0, max: 7 }),
        (data, key, seeds, byteOffset) => {
          const cuts = seeds.map((seed) => seed % (data.length + 1)).sort((a, b) => a - b);
          const { view, whole } = viewInGuardedBuffer(data, byteOffset);
          let start = 0;
          for (const end of [...cuts, data.length]) {
            mask(view.subarray(start, end), key, start);
            start = end;
          }
          expect(sameBytes(view, naiveMask(data, key))).toBe(true);
          expectGuardsIntact(whole, byteOffset, data.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("joinUnmasked", () => {
  it("equals joining the pieces, then unmasking, for any pieces and key (both sides of the SIMD threshold)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 70_000 }), { maxLength: 6 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (pieces, key) => {
          const length = pieces.reduce((sum, p) => sum + p.length, 0);
          const expected = Buffer.concat(pieces.map((p) => Buffer.from(p)));
          mask(expected, key);
          const joined = joinUnmasked(pieces, length, keyWord(key, 0));
          expect(joined.equals(expected)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("leaves the pieces as they were", () => {
    const piece = Buffer.alloc(5000, 7);
    joinUnmasked([piece, piece], 10_000, 0x11223344);
    expect(piece.every((b) => b === 7)).toBe(true);
  });
});

describe("maskInto", () => {
  it("writes the masked bytes at targetOffset and leaves the source and the rest of the target alone", () => {
    for (const length of [0, 1, 7, 31, 32, 33, 100]) {
      for (const targetOffset of [0, 1, 2, 3, 6]) {
        const source = randomBytes(length, length + targetOffset);
        const sourceCopy = source.slice();
        const target = new Uint8Array(targetOffset + length + 5).fill(GUARD);
        maskInto(source, KEY, target, targetOffset);
        expect(source).toEqual(sourceCopy);
        expect(target.subarray(targetOffset, targetOffset + length)).toEqual(naiveMask(source, KEY));
        expectGuardsIntact(target, targetOffset, length);
      }
    }
  });
});

describe("randomMaskKey", () => {
  it("returns 4-byte keys that differ from call to call (copied: the view is reused)", () => {
    const keys = new Set<string>();
    const lengths = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const key = randomMaskKey();
      lengths.add(key.length);
      keys.add(Buffer.from(key).toString("hex"));
    }
    expect([...lengths]).toEqual([4]);
    // 2000 random 32-bit keys collide with probability ~5e-4; allow a couple.
    expect(keys.size).toBeGreaterThanOrEqual(1997);
  });
});
