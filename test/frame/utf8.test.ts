import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Opcode, Utf8Validator, isValidUtf8, type Role } from "../../src/frame/index.js";
import {
  BAD_UTF8_PIECES,
  ROLES,
  concat,
  cutsArb,
  ev,
  expectProtocolError,
  expectThrowsProtocolError,
  firstUtf8ErrorIndex,
  frameFor,
  isValidUtf8Reference,
  newParser,
  parseChunks,
  roleArb,
  splitAt,
  type TextCollector,
  utf8ishArb,
} from "./helpers.js";

/** Feeds `pieces` to a fresh validator; returns the index of the piece it rejected, or -1. */
function validatorRejectsAt(pieces: readonly Uint8Array[]): { rejectedAt: number; complete: boolean } {
  const validator = new Utf8Validator();
  for (let i = 0; i < pieces.length; i++) {
    if (!validator.write(pieces[i])) return { rejectedAt: i, complete: false };
  }
  return { rejectedAt: -1, complete: validator.complete };
}

/** Index of the piece that holds byte `index` of the concatenation, when split at `cuts`. */
function pieceHolding(cuts: readonly number[], index: number): number {
  return cuts.filter((cut) => cut <= index).length;
}

/**
 * The frames of a text message carrying `bytes`, split into fragments at `cuts`
 * (text frame, then continuation frames), and the stream offset of every payload byte.
 */
function textMessageStream(bytes: Uint8Array, cuts: readonly number[], role: Role) {
  const frames: Buffer[] = [];
  const payloadPosition: number[] = [];
  let streamLength = 0;
  const bounds = [0, ...cuts, bytes.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const fragment = bytes.subarray(bounds[i], bounds[i + 1]);
    const frame = frameFor(role, {
      opcode: i === 0 ? Opcode.Text : Opcode.Continuation,
      fin: i + 2 === bounds.length,
      payload: fragment,
    });
    const headerSize = frame.length - fragment.length;
    for (let j = 0; j < fragment.length; j++) payloadPosition.push(streamLength + headerSize + j);
    frames.push(frame);
    streamLength += frame.length;
  }
  return { stream: concat(frames), frames, payloadPosition };
}

describe("utf8ishArb (the generator itself)", () => {
  it("yields both valid and invalid strings, short and long, in useful proportions", () => {
    const samples = fc.sample(utf8ishArb, { numRuns: 1000, seed: 42 });
    const valid = samples.filter(isValidUtf8Reference).length;
    expect(valid).toBeGreaterThan(200);
    expect(valid).toBeLessThan(800);
    expect(samples.filter((bytes) => bytes.length >= 32).length).toBeGreaterThan(200);
    expect(samples.filter((bytes) => bytes.length < 32).length).toBeGreaterThan(100);
  });
});

describe("isValidUtf8", () => {
  it("property: agrees with TextDecoder (fatal) on UTF-8-ish byte strings", () => {
    fc.assert(
      fc.property(utf8ishArb, (bytes) => {
        expect(isValidUtf8(bytes)).toBe(isValidUtf8Reference(bytes));
      }),
      { numRuns: 600 },
    );
  });

  it("property: agrees with TextDecoder (fatal) on uniformly random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80, size: "max" }), (bytes) => {
        expect(isValidUtf8(bytes)).toBe(isValidUtf8Reference(bytes));
      }),
      { numRuns: 300 },
    );
  });

  // Each bad sequence at the start, middle and end of ASCII padding, below (short) and above
  // (long) the 32-byte switch to the native check.
  const placements = BAD_UTF8_PIECES.flatMap((piece) =>
    [4, 40].flatMap((padding) =>
      (["start", "middle", "end"] as const).map((where) => ({ piece, padding, where })),
    ),
  );
  it.each(placements)("rejects $piece at the $where of $padding ASCII bytes", ({ piece, padding, where }) => {
    const pad = Buffer.alloc(padding, 0x61);
    const half = pad.subarray(0, padding / 2);
    const parts = where === "start" ? [piece, pad] : where === "end" ? [pad, piece] : [half, piece, half];
    const bytes = concat(parts.map((part) => Uint8Array.from(part)));
    expect(isValidUtf8Reference(bytes)).toBe(false);
    expect(isValidUtf8(bytes)).toBe(false);
  });

  it.each([
    ["empty", ""],
    ["ASCII", "hello"],
    ["boundary code points", "\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\u{10000}\u{10ffff}"],
    ["long mixed text", "Grüße, 世界! 🎉 ".repeat(8)],
  ])("accepts %s", (_, text) => {
    expect(isValidUtf8(Buffer.from(text, "utf8"))).toBe(true);
  });
});

describe("Utf8Validator", () => {
  it("property: split into two pieces at every offset, verdict and fail-fast point match a streaming TextDecoder", () => {
    fc.assert(
      fc.property(utf8ishArb, (bytes) => {
        const errorIndex = firstUtf8ErrorIndex(bytes);
        for (let cut = 0; cut <= bytes.length; cut++) {
          const { rejectedAt, complete } = validatorRejectsAt([bytes.subarray(0, cut), bytes.subarray(cut)]);
          if (errorIndex === -1) {
            expect(rejectedAt).toBe(-1);
            expect(complete).toBe(true);
          } else if (errorIndex === bytes.length) {
            // Only cut short: no piece is rejected, but the text does not end on a boundary.
            expect(rejectedAt).toBe(-1);
            expect(complete).toBe(false);
          } else {
            // Rejected by the very piece holding the first offending byte.
            expect(rejectedAt).toBe(pieceHolding([cut], errorIndex));
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it("property: split into many random pieces (including empty ones), the same holds", () => {
    fc.assert(
      fc.property(utf8ishArb, cutsArb(10), (bytes, seeds) => {
        const cuts = seeds.map((seed) => seed % (bytes.length + 1)).sort((a, b) => a - b);
        const pieces = splitAt(bytes, cuts);
        const errorIndex = firstUtf8ErrorIndex(bytes);
        const { rejectedAt, complete } = validatorRejectsAt(pieces);
        if (errorIndex === -1 || errorIndex === bytes.length) {
          expect(rejectedAt).toBe(-1);
          expect(complete).toBe(errorIndex === -1);
        } else {
          expect(rejectedAt).toBe(pieceHolding(cuts, errorIndex));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("carries a code point across pieces, one byte at a time", () => {
    const validator = new Utf8Validator();
    for (const byte of [0xf0, 0x9f, 0x98]) {
      expect(validator.write(Uint8Array.of(byte))).toBe(true);
      expect(validator.complete).toBe(false);
    }
    expect(validator.write(Uint8Array.of(0x80))).toBe(true);
    expect(validator.complete).toBe(true);
  });

  it.each([
    ["E0 80 (overlong: no continuation can fix it)", [0xe0, 0x80]],
    ["ED A0 (surrogate)", [0xed, 0xa0]],
    ["F4 90 (above U+10FFFF)", [0xf4, 0x90]],
    ["F0 80 (overlong)", [0xf0, 0x80]],
    ["C0 (never valid)", [0xc0]],
  ])("rejects %s at the end of a piece, short or long", (_, tail) => {
    for (const padding of [0, 3, 40]) {
      const validator = new Utf8Validator();
      expect(validator.write(concat([Buffer.alloc(padding, 0x61), Uint8Array.from(tail)]))).toBe(false);
    }
  });

  it("reset() forgets a partial code point", () => {
    const validator = new Utf8Validator();
    expect(validator.write(Uint8Array.of(0xe2, 0x82))).toBe(true);
    validator.reset();
    expect(validator.complete).toBe(true);
    expect(validator.write(Uint8Array.of(0x41))).toBe(true);
    expect(validator.complete).toBe(true);
  });
});

describe("text frames: the parser's UTF-8 verdict", () => {
  /**
   * The parser must deliver the message iff TextDecoder accepts the bytes, and otherwise
   * fail with 1007 at the push of the TCP chunk holding the first offending byte (or the
   * last chunk, when the text is only cut short).
   */
  function checkVerdict(bytes: Uint8Array, fragmentCuts: readonly number[], tcpCuts: readonly number[], role: Role) {
    const { stream, payloadPosition } = textMessageStream(bytes, fragmentCuts, role);
    const chunkCuts = tcpCuts.map((cut) => cut % (stream.length + 1)).sort((a, b) => a - b);
    const errorIndex = firstUtf8ErrorIndex(bytes);
    // Both ways the parser hands text out: as bytes, and decoded (onText, with its
    // small-ASCII fast path), which must agree byte for byte and fail at the same chunk.
    for (const delivery of ["bytes", "decoded"] as const) {
      const result = parseChunks(splitAt(stream, chunkCuts), { role }, delivery);
      if (errorIndex === -1) {
        expect(result.error).toBeUndefined();
        expect(result.events).toEqual([ev.text(bytes)]);
        continue;
      }
      expectProtocolError(result.error, 1007, /UTF-8/);
      expect(result.events).toEqual([]);
      const offendingStreamByte = errorIndex === bytes.length ? stream.length - 1 : payloadPosition[errorIndex];
      expect(result.errorChunk).toBe(pieceHolding(chunkCuts, offendingStreamByte));
    }
  }

  it("property: one text frame, random TCP chunks, both roles", () => {
    fc.assert(
      fc.property(utf8ishArb, cutsArb(6), roleArb, (bytes, tcpCuts, role) => {
        checkVerdict(bytes, [], tcpCuts, role);
      }),
      { numRuns: 250 },
    );
  });

  it("property: text + continuation split at every offset", () => {
    fc.assert(
      fc.property(utf8ishArb, roleArb, (bytes, role) => {
        for (let cut = 0; cut <= bytes.length; cut++) checkVerdict(bytes, [cut], [], role);
      }),
      { numRuns: 40 },
    );
  });

  it("property: three fragments at random offsets, random TCP chunks", () => {
    fc.assert(
      fc.property(utf8ishArb, fc.nat(), fc.nat(), cutsArb(8), roleArb, (bytes, a, b, tcpCuts, role) => {
        const cuts = [a % (bytes.length + 1), b % (bytes.length + 1)].sort((x, y) => x - y);
        checkVerdict(bytes, cuts, tcpCuts, role);
      }),
      { numRuns: 250 },
    );
  });

  it("property: every stream byte in its own chunk", () => {
    fc.assert(
      fc.property(utf8ishArb, fc.nat(), roleArb, (bytes, cut, role) => {
        const stream = textMessageStream(bytes, [cut % (bytes.length + 1)], role).stream;
        checkVerdict(bytes, [cut % (bytes.length + 1)], Array.from({ length: stream.length }, (_, i) => i + 1), role);
      }),
      { numRuns: 60 },
    );
  });
});

describe("text frames decoded by the parser (onText)", () => {
  it("small ASCII, small non-ASCII and large text, one frame or fragmented, both roles: the same string and its byte length", () => {
    const texts = ["", "hello", "x".repeat(127), "x".repeat(128), "héllo wörld", "日本語テキスト", "😀".repeat(40), "y".repeat(70_000)];
    for (const role of ROLES) {
      for (const text of texts) {
        const bytes = Buffer.from(text, "utf8");
        for (const cuts of [[], [Math.floor(bytes.length / 2)]]) {
          const { stream } = textMessageStream(bytes, cuts, role);
          const result = parseChunks([Buffer.from(stream)], { role }, "decoded");
          expect(result.error).toBeUndefined();
          expect((result.collector as TextCollector).texts).toEqual([{ text, byteLength: bytes.length }]);
        }
      }
    }
  });

  it("a small masked ASCII message is unmasked exactly, whatever its length modulo 4", () => {
    for (let length = 1; length <= 127; length++) {
      const text = Array.from({ length }, (_, i) => String.fromCharCode(32 + ((i * 7) % 95))).join("");
      const result = parseChunks([frameFor("server", { opcode: Opcode.Text, payload: Buffer.from(text) })], { role: "server" }, "decoded");
      expect((result.collector as TextCollector).texts).toEqual([{ text, byteLength: length }]);
    }
  });
});

describe("text frames: fail fast", () => {
  it.each(ROLES)("%s: invalid UTF-8 in fragment 2 of 3 fails when fragment 2 is pushed", (role) => {
    const { parser, collector } = newParser({ role });
    parser.push(frameFor(role, { opcode: Opcode.Text, fin: false, payload: "héllo " }));
    expectThrowsProtocolError(
      () => parser.push(frameFor(role, { opcode: Opcode.Continuation, fin: false, payload: [0x61, 0xed, 0xa0, 0x80] })),
      1007,
      /UTF-8/,
    );
    // Fragment 3 would have been valid and final; it is ignored now.
    parser.push(frameFor(role, { opcode: Opcode.Continuation, fin: true, payload: "world" }));
    expect(collector.events).toEqual([]);
  });

  it.each(ROLES)("%s: an invalid byte early in a large frame fails with the first chunk, not the last", (role) => {
    const payload = Buffer.alloc(200_000, 0x61);
    payload[10] = 0xff;
    const frame = frameFor(role, { opcode: Opcode.Text, payload });
    const { parser } = newParser({ role });
    expectThrowsProtocolError(() => parser.push(frame.subarray(0, 1000)), 1007, /UTF-8/);
  });

  it.each(ROLES)("%s: an invalid byte in a later chunk of a large frame fails with that chunk", (role) => {
    const payload = Buffer.alloc(200_000, 0x61);
    payload[150_000] = 0xc0;
    const frame = frameFor(role, { opcode: Opcode.Text, payload });
    const { parser } = newParser({ role });
    parser.push(frame.subarray(0, 100_000));
    expectThrowsProtocolError(() => parser.push(frame.subarray(100_000, 160_000)), 1007, /UTF-8/);
  });

  describe.each(ROLES)("%s: E0 80 at the end of a fragment", (role) => {
    it.each([0, 5, 40])("fails right there (after %i ASCII bytes), before any continuation", (padding) => {
      const { parser } = newParser({ role });
      const payload = concat([Buffer.alloc(padding, 0x61), Uint8Array.of(0xe0, 0x80)]);
      expectThrowsProtocolError(() => parser.push(frameFor(role, { opcode: Opcode.Text, fin: false, payload })), 1007);
    });

    it.each([0, 5, 40])("whereas E0 A0 (after %i ASCII bytes) waits and is completed by the next fragment", (padding) => {
      const { parser, collector } = newParser({ role });
      const head = concat([Buffer.alloc(padding, 0x61), Uint8Array.of(0xe0, 0xa0)]);
      parser.push(frameFor(role, { opcode: Opcode.Text, fin: false, payload: head }));
      parser.push(frameFor(role, { opcode: Opcode.Continuation, fin: true, payload: [0x80] }));
      expect(collector.events).toEqual([ev.text("a".repeat(padding) + "\u0800")]);
    });
  });
});
