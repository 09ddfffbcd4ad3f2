/**
 * The envelope servers exchange through Redis: what one encodes, the others decode to the
 * same frame a client accepts; anything else is an EnvelopeError, never a crash and never
 * a frame a client would have to reject.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FrameParser, encodeMessage } from "../../src/frame/index.js";
import { EnvelopeError, decodeEnvelope, encodeEnvelope } from "../../src/redis/envelope.js";

const origin = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((bytes) => Buffer.from(bytes));
const except = fc.integer({ min: 0, max: 0xffff_ffff });
// Sizes around the 7-bit, 16-bit and 64-bit length forms.
const data = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.constantFrom(125, 126, 127, 65_535, 65_536).map((size) => new Uint8Array(size).fill(7)),
);

/** The messages a client's parser finds in `frame`, or its error. */
function clientParse(frame: Buffer): Array<{ payload: Buffer; binary: boolean }> {
  const messages: Array<{ payload: Buffer; binary: boolean }> = [];
  const parser = new FrameParser(
    {
      onMessage: (payload, binary) => void messages.push({ payload: Buffer.from(payload), binary }),
      onPing: () => messages.push({ payload: Buffer.alloc(0), binary: true }),
      onPong: () => messages.push({ payload: Buffer.alloc(0), binary: true }),
      onClose: () => messages.push({ payload: Buffer.alloc(0), binary: true }),
    },
    { role: "client", maxPayload: 1 << 20 },
  );
  parser.push(frame);
  return messages;
}

/** `envelope` is refused with an EnvelopeError, or its frame is exactly one message a client accepts. */
function expectRejectedOrOneMessage(envelope: Buffer): void {
  let frame: Buffer;
  try {
    frame = decodeEnvelope(envelope).frame;
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    return;
  }
  expect(clientParse(frame)).toHaveLength(1);
}

describe("envelope", () => {
  it("decodes what it encodes: the sender, the connection left out, and the server frame of the message", () => {
    fc.assert(
      fc.property(origin, except, data, (origin, except, data) => {
        const decoded = decodeEnvelope(encodeEnvelope(origin, except, data));
        expect(decoded.origin.equals(origin)).toBe(true);
        expect(decoded.except).toBe(except);
        // Buffer#equals, not toEqual: a deep comparison of 64 KiB takes seconds.
        expect(decoded.frame.equals(Buffer.concat(encodeMessage(data)))).toBe(true);
        const [message, ...more] = clientParse(decoded.frame);
        expect(more).toEqual([]);
        expect(message.binary).toBe(typeof data !== "string");
        expect(message.payload.equals(typeof data === "string" ? Buffer.from(data) : data)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("carries the bytes of any view, not its elements or its neighbours", () => {
    const memory = Uint8Array.from([9, 1, 2, 3, 4, 9]).buffer;
    for (const [data, bytes] of [
      [new Uint16Array(memory, 2, 2), [2, 3, 4, 9]],
      [new DataView(memory, 1, 3), [1, 2, 3]],
      [memory, [9, 1, 2, 3, 4, 9]],
    ] as const) {
      const [message] = clientParse(decodeEnvelope(encodeEnvelope(Buffer.alloc(16), 0, data)).frame);
      expect(message.payload).toEqual(Buffer.from(bytes));
    }
  });

  it("random bytes are an EnvelopeError or exactly one message a client accepts", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => expectRejectedOrOneMessage(Buffer.from(bytes))),
      { numRuns: 3000 },
    );
  });

  it("a corrupted envelope is an EnvelopeError or still exactly one message a client accepts", () => {
    fc.assert(
      fc.property(origin, data, fc.nat(), fc.integer({ min: 1, max: 255 }), (origin, data, at, flip) => {
        const envelope = encodeEnvelope(origin, 0, data);
        envelope[at % Math.min(envelope.length, 24)] ^= flip;
        expectRejectedOrOneMessage(envelope);
      }),
      { numRuns: 1000 },
    );
  });

  it("says what is wrong", () => {
    const prefix = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const cases: Array<[number[], RegExp]> = [
      [[2, ...prefix.slice(1), 0x81, 0], /unknown format version 2/],
      [[...prefix, 0x01, 0], /not a final text or binary frame \(first byte 0x1\)/],
      [[...prefix, 0xc1, 0], /not a final text or binary frame/], // RSV1 set
      [[...prefix, 0x82, 126, 0], /header is cut short/],
      [[...prefix, 0x82, 127, 0, 0, 0, 0, 0, 0, 0], /header is cut short/],
      [[...prefix, 0x82, 126, 0, 1, 0], /not minimally encoded/],
      [[...prefix, 0x82, 127, 0, 0, 0, 0, 0, 0, 0, 1, 0], /not minimally encoded/],
      [[...prefix, 0x82, 126, 0, 200, 0], /length field does not match its 1 payload bytes/],
      [[...prefix, 0x82, 2, 0], /length field does not match its 1 payload bytes/],
      [[...prefix, 0x81, 2, 0xc3, 0x28], /not valid UTF-8/],
    ];
    for (const [bytes, message] of cases) expect(() => decodeEnvelope(Buffer.from(bytes))).toThrow(message);
  });
});
