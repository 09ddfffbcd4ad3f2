/**
 * A bad peer never crashes the parser: whatever bytes arrive, `push` either returns or
 * throws a `ProtocolError` carrying 1002, 1007 or 1009, and after a failure (or a close
 * frame) the parser ignores everything.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_PAYLOAD, Opcode, ProtocolError, type Role } from "../../src/frame/index.js";
import {
  ROLES,
  cutsArb,
  ev,
  expectProtocolError,
  expectThrowsProtocolError,
  frameFor,
  newParser,
  rawFrame,
  rawStream,
  roleArb,
  splitAt,
  streamArb,
} from "./helpers.js";

const FAILURE_CODES = [1002, 1007, 1009];

/**
 * Feeds `chunks`; asserts that the only thing ever thrown is a ProtocolError with a
 * failure code, and that once it is thrown (or a close frame arrived) more input,
 * valid or not, is ignored.
 */
function feedHostile(chunks: readonly Buffer[], role: Role, maxPayload?: number): void {
  const { parser, collector } = newParser({ role, maxPayload });
  let failed = false;
  for (const chunk of chunks) {
    try {
      parser.push(chunk);
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      expect(FAILURE_CODES).toContain((error as ProtocolError).closeCode);
      expect(Buffer.byteLength((error as ProtocolError).message)).toBeLessThanOrEqual(123);
      failed = true;
      break;
    }
  }
  if (failed || parser.closed) {
    const seen = collector.events.length;
    parser.push(frameFor(role, { opcode: Opcode.Text, payload: "valid" }));
    parser.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(collector.events.length).toBe(seen);
  }
}

const maxPayloadArb = fc.constantFrom(undefined, 0, 10, 200);

interface Mutation {
  /** (position, xor) pairs; positions are taken modulo the stream length. */
  flips: [number, number][];
  /** (start, length, repeat): drop that slice, or repeat it. */
  slice?: [number, number, boolean];
}

/** Flips bytes, and sometimes drops or repeats a slice of, a valid stream. */
const mutationArb: fc.Arbitrary<Mutation> = fc.record(
  {
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
    slice: fc.tuple(fc.nat(), fc.nat({ max: 40 }), fc.boolean()),
  },
  { requiredKeys: ["flips"] },
);

function mutate(stream: Buffer, { flips, slice }: Mutation): Buffer {
  let bytes = Buffer.from(stream);
  if (bytes.length === 0) return bytes;
  for (const [position, xor] of flips) bytes[position % bytes.length] ^= xor;
  if (slice !== undefined) {
    const [start, length, repeat] = slice;
    const from = start % bytes.length;
    const piece = bytes.subarray(from, from + length);
    bytes = repeat
      ? Buffer.concat([bytes.subarray(0, from + piece.length), piece, bytes.subarray(from + piece.length)])
      : Buffer.concat([bytes.subarray(0, from), bytes.subarray(from + piece.length)]);
  }
  return bytes;
}

/** Frames with random header bits: more of them get past the first checks than random bytes do. */
const randomFrameArb = fc
  .record({
    fin: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
    rsv: fc.oneof({ arbitrary: fc.constant(0), weight: 8 }, { arbitrary: fc.integer({ min: 1, max: 7 }), weight: 1 }),
    opcode: fc.oneof(
      { arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10), weight: 8 },
      { arbitrary: fc.integer({ min: 0, max: 15 }), weight: 1 },
    ),
    mask: fc.boolean(),
    payload: fc.oneof(fc.uint8Array({ maxLength: 140, size: "max" }), fc.string({ maxLength: 40, size: "max" }).map((s) => Buffer.from(s))),
  })
  .map((spec) => rawFrame(spec));

describe("hostile input", () => {
  it("property: random bytes in random chunks", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400, size: "max" }), roleArb, maxPayloadArb, cutsArb(8), (bytes, role, maxPayload, cuts) => {
        feedHostile(splitAt(bytes, cuts), role, maxPayload);
      }),
      { numRuns: 500 },
    );
  });

  it("property: mutated valid streams in random chunks", () => {
    fc.assert(
      fc.property(streamArb(300), roleArb, maxPayloadArb, mutationArb, cutsArb(8), (items, role, maxPayload, mutation, cuts) => {
        feedHostile(splitAt(mutate(rawStream(items, role), mutation), cuts), role, maxPayload);
      }),
      { numRuns: 300 },
    );
  });

  it("property: sequences of frames with random header bits, byte by byte or in random chunks", () => {
    fc.assert(
      fc.property(
        fc.array(randomFrameArb, { maxLength: 8 }),
        roleArb,
        maxPayloadArb,
        fc.oneof(cutsArb(8), fc.constant(null)),
        (frames, role, maxPayload, cuts) => {
          const stream = Buffer.concat(frames);
          const chunkCuts = cuts ?? Array.from({ length: stream.length }, (_, i) => i);
          feedHostile(splitAt(stream, chunkCuts), role, maxPayload);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe.each(ROLES)("huge announced lengths, role %s", (role) => {
  /** Pushes the header byte by byte; returns the index of the byte whose push threw. */
  function failingHeaderByte(header: Buffer, closeCode: number, maxPayload?: number): number {
    const { parser, collector } = newParser({ role, maxPayload });
    for (let i = 0; i < header.length; i++) {
      try {
        parser.push(header.subarray(i, i + 1));
      } catch (error) {
        expectProtocolError(error, closeCode);
        expect(collector.events).toEqual([]);
        return i;
      }
    }
    throw new Error("the header was accepted");
  }

  it.each([
    ["2^62", 2n ** 62n, 64, undefined],
    ["2^53", 2n ** 53n, 64, undefined],
    ["2^53 - 1", 2n ** 53n - 1n, 64, undefined],
    ["2^53 (maxPayload 2^53 - 1)", 2n ** 53n, 64, Number.MAX_SAFE_INTEGER],
    ["2^32", 2n ** 32n, 64, undefined],
    ["default maxPayload + 1", BigInt(DEFAULT_MAX_PAYLOAD + 1), 64, undefined],
    ["maxPayload + 1, 16-bit length", 1001n, 16, 1000],
    ["maxPayload + 1, 64-bit length", 1001n, 64, 1000],
  ] as const)("%s fails with 1009 as soon as the header is complete, before any payload", (_, length, lengthEncoding, maxPayload) => {
    const header = frameFor(role, { opcode: Opcode.Binary, length, lengthEncoding });
    expect(failingHeaderByte(header, 1009, maxPayload)).toBe(header.length - 1);
  });

  it.each([
    ["2^63", 2n ** 63n],
    ["2^63 + 5", 2n ** 63n + 5n],
    ["2^64 - 1", 2n ** 64n - 1n],
  ])("a 64-bit length with its top bit set (%s) fails with 1002", (_, length) => {
    const header = frameFor(role, { opcode: Opcode.Binary, length, lengthEncoding: 64 });
    const { parser } = newParser({ role, maxPayload: Number.MAX_SAFE_INTEGER });
    expectThrowsProtocolError(() => parser.push(header), 1002, /top bit/);
    // Byte by byte, it fails by the end of the header and reports no event.
    expect(failingHeaderByte(header, 1002, Number.MAX_SAFE_INTEGER)).toBeLessThan(header.length);
  });

  it("a frame announced within the limit but not sent yet just waits", () => {
    const { parser, collector } = newParser({ role });
    parser.push(frameFor(role, { opcode: Opcode.Binary, length: 1_000_000 }));
    parser.push(Buffer.alloc(10));
    expect(collector.events).toEqual([]);
  });
});

describe.each(ROLES)("after a failure, role %s", (role) => {
  it.each([
    ["a reserved opcode", () => frameFor(role, { opcode: 3 })],
    ["invalid UTF-8", () => frameFor(role, { opcode: Opcode.Text, payload: [0xff] })],
    ["a frame over maxPayload", () => frameFor(role, { opcode: Opcode.Binary, payload: Buffer.alloc(2000) })],
    ["wrong masking", () => rawFrame({ opcode: Opcode.Text, mask: role === "client" })],
  ])("(%s) every further push is ignored", (_, badFrame) => {
    const { parser, collector } = newParser({ role, maxPayload: 1000 });
    parser.push(frameFor(role, { opcode: Opcode.Text, payload: "first" }));
    expect(() => parser.push(badFrame())).toThrow(ProtocolError);
    for (let i = 0; i < 3; i++) {
      expect(() => parser.push(frameFor(role, { opcode: Opcode.Text, payload: "later" }))).not.toThrow();
      expect(() => parser.push(badFrame())).not.toThrow();
    }
    expect(collector.events).toEqual([ev.text("first")]);
    expect(parser.closed).toBe(false);
  });
});
