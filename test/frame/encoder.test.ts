/**
 * The encoder, checked against hand-built headers (`rawFrame`) and a reference decoder
 * (`readFrames`), not against the parser.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FrameParser,
  MAX_CLOSE_REASON,
  MERGE_THRESHOLD,
  Opcode,
  encodeClose,
  encodeFrame,
  encodeMessage,
  encodePing,
  encodePong,
  encodeTextFrame,
  frameHeaderSize,
  truncateCloseReason,
  writeFrameHeader,
} from "../../src/frame/index.js";
import { concat, rawFrame, readFrames, unicodeStringArb, type DecodedFrame } from "./helpers.js";

const KEY = Uint8Array.of(1, 2, 3, 4);

/** The one frame in `buffers` (which may be a header and a separate payload). */
function onlyFrame(buffers: Buffer | Buffer[]): DecodedFrame {
  const frames = readFrames(concat(Array.isArray(buffers) ? buffers : [buffers]));
  expect(frames).toHaveLength(1);
  return frames[0];
}

describe("writeFrameHeader / frameHeaderSize", () => {
  const lengths = [0, 1, 125, 126, 127, 65535, 65536, 65537, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];
  const cases = lengths.flatMap((length) =>
    [false, true].flatMap((masked) => [true, false].map((fin) => ({ length, masked, fin }))),
  );

  it.each(cases)("length $length, masked $masked, fin $fin: shortest encoding, exact bytes", ({ length, masked, fin }) => {
    const expected = rawFrame({ opcode: Opcode.Binary, fin, length, mask: masked, key: KEY });
    const target = Buffer.alloc(20, 0xee);
    const end = writeFrameHeader(target, 3, Opcode.Binary, length, fin, masked ? KEY : undefined);
    expect(end - 3).toBe(expected.length);
    expect(frameHeaderSize(length, masked)).toBe(expected.length);
    expect(target.subarray(3, end).toString("hex")).toBe(expected.toString("hex"));
    // Nothing written outside the header.
    expect([...target.subarray(0, 3), ...target.subarray(end)].every((byte) => byte === 0xee)).toBe(true);
  });

  it.each([
    [0, 2],
    [125, 2],
    [126, 4],
    [65535, 4],
    [65536, 10],
    [2 ** 32 + 1, 10],
  ])("a %i-byte payload has a %i-byte header (+4 masked)", (length, size) => {
    expect(frameHeaderSize(length, false)).toBe(size);
    expect(frameHeaderSize(length, true)).toBe(size + 4);
  });

  it("writes the opcode and FIN bits", () => {
    const target = new Uint8Array(2);
    writeFrameHeader(target, 0, Opcode.Pong, 5, true);
    expect([...target]).toEqual([0x8a, 0x05]);
    writeFrameHeader(target, 0, Opcode.Continuation, 0, false);
    expect([...target]).toEqual([0x00, 0x00]);
  });
});

describe("encodeFrame", () => {
  it("unmasked: a large payload is not copied (the second buffer is the caller's memory)", () => {
    const payload = Buffer.alloc(MERGE_THRESHOLD + 1, 9);
    const buffers = encodeFrame(Opcode.Binary, payload);
    expect(buffers).toHaveLength(2);
    expect(buffers[1]).toBe(payload);
    expect(buffers[0].toString("hex")).toBe(rawFrame({ opcode: Opcode.Binary, length: payload.length }).toString("hex"));
  });

  it("unmasked: a large plain Uint8Array view is wrapped, not copied", () => {
    const backing = new Uint8Array(100_000);
    const payload = backing.subarray(5, 70_005);
    const [, body] = encodeFrame(Opcode.Binary, payload);
    expect(body.buffer).toBe(backing.buffer);
    expect(body.byteOffset).toBe(5);
    expect(body.length).toBe(70_000);
  });

  it("unmasked: a small payload is merged with its header into one buffer", () => {
    const payload = Buffer.alloc(MERGE_THRESHOLD, 3);
    const buffers = encodeFrame(Opcode.Binary, payload);
    expect(buffers).toHaveLength(1);
    expect(buffers[0].buffer).not.toBe(payload.buffer);
    expect(onlyFrame(buffers).payload.equals(payload)).toBe(true);
  });

  it("property: fields and payload survive encoding, masked or not; masking leaves the payload untouched", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000, size: "max" }),
        fc.constantFrom(Opcode.Continuation, Opcode.Text, Opcode.Binary),
        fc.boolean(),
        fc.boolean(),
        (payload, opcode, fin, mask) => {
          const before = Buffer.from(payload);
          const frame = onlyFrame(encodeFrame(opcode, payload, { fin, mask }));
          expect(Buffer.from(payload).equals(before)).toBe(true);
          expect(frame).toMatchObject({ fin, rsv: 0, opcode, masked: mask });
          expect(frame.payload.equals(before)).toBe(true);
          expect(frame.headerSize).toBe(frameHeaderSize(payload.length, mask));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("masked: the bytes on the wire really are masked, with a fresh key each time", () => {
    const payload = Buffer.alloc(64, 0x41);
    const a = onlyFrame(encodeFrame(Opcode.Binary, payload, { mask: true }));
    const b = onlyFrame(encodeFrame(Opcode.Binary, payload, { mask: true }));
    expect(a.key?.equals(b.key!)).toBe(false);
    const [wire] = encodeFrame(Opcode.Binary, payload, { mask: true });
    // Unless the key happens to be 0000, the wire bytes differ from the payload.
    const key = wire.subarray(2, 6);
    if (key.readUInt32BE(0) !== 0) expect(wire.subarray(6).equals(payload)).toBe(false);
  });

  it.each([
    ["ping", Opcode.Ping],
    ["pong", Opcode.Pong],
    ["close", Opcode.Close],
  ])("a %s frame over 125 bytes or with fin: false is a RangeError; 125 bytes is fine", (_, opcode) => {
    expect(() => encodeFrame(opcode, Buffer.alloc(126))).toThrow(RangeError);
    expect(() => encodeFrame(opcode, Buffer.alloc(126), { mask: true })).toThrow(RangeError);
    expect(() => encodeFrame(opcode, Buffer.alloc(1), { fin: false })).toThrow(RangeError);
    expect(onlyFrame(encodeFrame(opcode, Buffer.alloc(125))).payload.length).toBe(125);
  });
});

describe("encodeTextFrame", () => {
  it("property: encodes the string's UTF-8 after the header, masked or not", () => {
    fc.assert(
      fc.property(unicodeStringArb(400), fc.boolean(), fc.boolean(), (text, fin, mask) => {
        const frame = onlyFrame(encodeTextFrame(text, { fin, mask }));
        expect(frame).toMatchObject({ fin, opcode: Opcode.Text, masked: mask });
        expect(frame.payload.toString("utf8")).toBe(text);
      }),
      { numRuns: 200 },
    );
  });
});

describe("encodeMessage", () => {
  it("property: fragments of fragmentSize bytes, first opcode Text/Binary then Continuation, FIN only on the last", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 2000, size: "max" }), unicodeStringArb(300)),
        fc.integer({ min: 1, max: 2500 }),
        fc.boolean(),
        (payload, fragmentSize, mask) => {
          const bytes = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
          const frames = readFrames(concat(encodeMessage(payload, { fragmentSize, mask })));
          const count = Math.max(1, Math.ceil(bytes.length / fragmentSize));
          const first = typeof payload === "string" ? Opcode.Text : Opcode.Binary;
          const indexes = Array.from({ length: count }, (_, i) => i);
          const last = count - 1;
          // Compared as whole arrays: one assertion per field, not per frame.
          expect(frames.map((frame) => frame.opcode)).toEqual(indexes.map((i) => (i === 0 ? first : Opcode.Continuation)));
          expect(frames.map((frame) => frame.fin)).toEqual(indexes.map((i) => i === last));
          expect(frames.map((frame) => frame.masked)).toEqual(indexes.map(() => mask));
          expect(frames.map((frame) => frame.payload.length)).toEqual(
            indexes.map((i) => (i < last ? fragmentSize : bytes.length - fragmentSize * last)),
          );
          expect(concat(frames.map((frame) => frame.payload)).equals(bytes)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("without fragmentSize, one frame however large (and the payload is not copied)", () => {
    const payload = Buffer.alloc(200_000, 1);
    const buffers = encodeMessage(payload);
    expect(buffers).toHaveLength(2);
    expect(buffers[1]).toBe(payload);
    expect(onlyFrame(buffers)).toMatchObject({ fin: true, opcode: Opcode.Binary });
  });

  it("large fragments of an unmasked payload are views of it, not copies", () => {
    const payload = Buffer.alloc(10_000, 1);
    const buffers = encodeMessage(payload, { fragmentSize: 4000 });
    const bodies = buffers.filter((buffer) => buffer.length >= 2000);
    expect(bodies).toHaveLength(3);
    for (const body of bodies) expect(body.buffer).toBe(payload.buffer);
  });

  it("an empty message is one empty frame", () => {
    expect(readFrames(concat(encodeMessage("", { fragmentSize: 10 })))).toEqual([
      expect.objectContaining({ fin: true, opcode: Opcode.Text, payload: Buffer.alloc(0) }),
    ]);
  });

  it.each([0, -1, 0.5, Number.NaN])("fragmentSize %s is a RangeError", (fragmentSize) => {
    expect(() => encodeMessage("abc", { fragmentSize })).toThrow(RangeError);
  });
});

describe("encodePing / encodePong", () => {
  it.each([
    ["encodePing", encodePing, Opcode.Ping],
    ["encodePong", encodePong, Opcode.Pong],
  ] as const)("%s: payload up to 125 bytes, masked or not; 126 is a RangeError", (_, encode, opcode) => {
    expect(onlyFrame(encode())).toMatchObject({ opcode, fin: true, payload: Buffer.alloc(0) });
    expect(onlyFrame(encode(Buffer.from("hi"), { mask: true }))).toMatchObject({ opcode, masked: true, payload: Buffer.from("hi") });
    expect(onlyFrame(encode(Buffer.alloc(125, 1))).payload.length).toBe(125);
    expect(() => encode(Buffer.alloc(126))).toThrow(RangeError);
  });
});

describe("encodeClose", () => {
  const body = (frame: Buffer) => onlyFrame(frame).payload;

  it("with no code, an empty close frame", () => {
    expect(encodeClose().toString("hex")).toBe("8800");
    expect(body(encodeClose(undefined, "", { mask: true })).length).toBe(0);
  });

  it("code and reason in the body", () => {
    expect(body(encodeClose(1000, "bye")).toString("hex")).toBe("03e8" + Buffer.from("bye").toString("hex"));
    expect(onlyFrame(encodeClose(4000, "x", { mask: true }))).toMatchObject({ opcode: Opcode.Close, masked: true, fin: true });
  });

  it.each([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5])("code %s is a RangeError", (code) => {
    expect(() => encodeClose(code)).toThrow(RangeError);
  });

  it.each(["1000", null, 1000n])("code %s, not a number, is a TypeError that says so", (code) => {
    expect(() => encodeClose(code as unknown as number)).toThrow(/a close code is a number, got/);
    expect(() => encodeClose(code as unknown as number)).toThrow(TypeError);
  });

  it("a reason without a code is a RangeError", () => {
    expect(() => encodeClose(undefined, "why")).toThrow(RangeError);
  });

  it.each([
    ["123 ASCII bytes", "a".repeat(123), true],
    ["124 ASCII bytes", "a".repeat(124), false],
    ["61 × é + 1 byte = 123 bytes", "é".repeat(61) + "!", true],
    ["62 × é = 124 bytes", "é".repeat(62), false],
    ["30 × 😀 + 3 bytes = 123 bytes", "😀".repeat(30) + "abc", true],
  ])("a reason of %s: accepted %s", (_, reason, accepted) => {
    if (accepted) {
      const frame = encodeClose(1000, reason);
      expect(frame.length).toBe(2 + 2 + Buffer.byteLength(reason));
      expect(body(frame).subarray(2).toString("utf8")).toBe(reason);
    } else {
      expect(() => encodeClose(1000, reason)).toThrow(RangeError);
    }
  });
});

describe("truncateCloseReason", () => {
  it("property: at most 123 bytes, a prefix of whole code points, as long as possible", () => {
    fc.assert(
      fc.property(unicodeStringArb(200), (reason) => {
        const truncated = truncateCloseReason(reason);
        const bytes = Buffer.byteLength(truncated);
        expect(bytes).toBeLessThanOrEqual(MAX_CLOSE_REASON);
        expect(reason.startsWith(truncated)).toBe(true);
        // No code point is split: the next UTF-16 unit is not the low half of a pair.
        const next = reason.codePointAt(truncated.length);
        expect(truncated.length === reason.length || next! < 0xdc00 || next! > 0xdfff).toBe(true);
        // The UTF-8 round-trips (no replacement characters from a cut sequence).
        expect(Buffer.from(truncated, "utf8").toString("utf8")).toBe(truncated);
        if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON) {
          expect(truncated).toBe(reason);
        } else {
          // Maximal: the next code point would not have fitted.
          expect(bytes + Buffer.byteLength(String.fromCodePoint(next!))).toBeGreaterThan(MAX_CLOSE_REASON);
        }
        expect(() => encodeClose(1000, truncated)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ["ASCII", "a".repeat(200), "a".repeat(123)],
    ["2-byte chars", "é".repeat(70), "é".repeat(61)],
    ["3-byte chars", "€".repeat(50), "€".repeat(41)],
    ["4-byte chars", "😀".repeat(40), "😀".repeat(30)],
    ["a 4-byte char straddling byte 123", "a".repeat(121) + "😀", "a".repeat(121)],
  ])("%s", (_, reason, expected) => {
    expect(truncateCloseReason(reason)).toBe(expected);
  });
});

describe("encodeMessage with fin: false", () => {
  it("leaves FIN clear on the last fragment too, so the message can be continued", () => {
    const frames = readFrames(Buffer.concat(encodeMessage(Buffer.alloc(10, 1), { fragmentSize: 4, fin: false })));
    expect(frames.map((frame) => frame.fin)).toEqual([false, false, false]);
  });
});

describe("what the encoders and the parser take", () => {
  const memory = Uint8Array.from([9, 1, 2, 3, 4, 9]).buffer;

  it.each([
    ["Uint16Array", new Uint16Array(memory, 2, 2), [2, 3, 4, 9]],
    ["DataView", new DataView(memory, 1, 3), [1, 2, 3]],
    ["ArrayBuffer", memory, [9, 1, 2, 3, 4, 9]],
  ] as const)("any view, by its bytes and only them: %s", (_, data, bytes) => {
    for (const mask of [false, true]) {
      expect(onlyFrame(encodeMessage(data, { mask })).payload).toEqual(Buffer.from(bytes));
      expect(onlyFrame(encodeFrame(Opcode.Binary, data, { mask })).payload).toEqual(Buffer.from(bytes));
    }
  });

  it("a string as UTF-8, for control frames too", () => {
    expect(onlyFrame(encodePing("é")).payload).toEqual(Buffer.from("é"));
    expect(onlyFrame(encodeFrame(Opcode.Text, "é", { mask: true })).payload).toEqual(Buffer.from("é"));
  });

  it("anything else, and an opcode past 4 bits, is refused with an error that says what it got", () => {
    const loose = <T>(value: unknown) => value as T;
    for (const [data, got] of [[123, "number"], [null, "null"], [{}, "object"]] as const) {
      expect(() => encodeMessage(loose(data))).toThrow(
        new TypeError(`data must be a string, an ArrayBuffer or a view of one (Buffer, typed array, DataView), got ${got}`),
      );
    }
    expect(() => encodeFrame(16, Buffer.alloc(1))).toThrow(new RangeError("an opcode is 4 bits (0 to 15), got 16"));
    expect(() => encodeFrame(-1, Buffer.alloc(1))).toThrow(RangeError);
    // Reserved opcodes are encoded: peers are tested with them (RFC 6455 §5.2).
    expect(onlyFrame(encodeFrame(3, Buffer.alloc(1))).opcode).toBe(3);
    expect(() => new FrameParser(loose({}), { role: "server" })).toThrow(new TypeError("FrameParser's handler has no onMessage() method"));
    const handler = { onMessage() {}, onPing() {}, onPong() {}, onClose() {} };
    expect(() => new FrameParser(handler, loose({}))).toThrow(
      new TypeError('FrameParser needs options.role, "server" or "client", got undefined'),
    );
  });
});
