import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  Opcode,
  encodeClose,
  encodeFrame,
  encodeMessage,
  encodePing,
  encodePong,
  type Role,
} from "../../src/frame/index.js";
import {
  ROLES,
  chunksOf,
  concat,
  cutsArb,
  encodedStream,
  ev,
  expectedEvents,
  frameFor,
  newParser,
  parseBytes,
  parseChunks,
  rawStream,
  roleArb,
  streamArb,
  unicodeStringArb,
  type FrameEvent,
} from "./helpers.js";

const MiB = 1024 * 1024;

/** What the peer of `role`'s parser sends: clients mask (`mask: true`), servers don't. */
const maskFor = (role: Role) => role === "server";

function expectParsesTo(bytes: Uint8Array, role: Role, expected: FrameEvent[], cuts: readonly number[] = []): void {
  const result = parseBytes(bytes, { role }, cuts);
  expect(result.error).toBeUndefined();
  expect(result.events).toEqual(expected);
}

/** Bytes whose UTF-8 is valid and mixes 1-4 byte sequences. */
function bigText(bytes: number): string {
  const unit = "aé€😀"; // 1 + 2 + 3 + 4 = 10 bytes
  return unit.repeat(Math.floor(bytes / 10)) + "z".repeat(bytes % 10);
}

const binaryCache = new Map<number, Buffer>();

/** A patterned payload; each size is built once (tests copy it before handing it over). */
function bigBinary(bytes: number): Buffer {
  let data = binaryCache.get(bytes);
  if (data === undefined) {
    data = Buffer.allocUnsafe(bytes);
    for (let i = 0; i < bytes; i++) data[i] = (i * 31 + (i >>> 8)) & 0xff;
    binaryCache.set(bytes, data);
  }
  return data;
}

describe("round trip: parse(encode(x)) = x", () => {
  describe.each(ROLES)("role %s", (role) => {
    const mask = maskFor(role);

    it.each([0, 1, 125, 126, 127, 65535, 65536, 65537, MiB + 3, 4 * MiB])("binary message of %i bytes", (size) => {
      const data = bigBinary(size);
      expectParsesTo(concat(encodeMessage(data, { mask })), role, [ev.binary(data)]);
    });

    it.each([0, 125, 126, 65536, 2 * MiB + 7])("text message of %i bytes", (size) => {
      const text = bigText(size);
      expectParsesTo(concat(encodeMessage(text, { mask })), role, [ev.text(text)]);
    });

    it("a 4 MiB binary message in 1 MiB + 1 fragments, a ping between them", () => {
      const data = bigBinary(4 * MiB);
      const frames = encodeMessage(data, { mask, fragmentSize: MiB + 1 });
      const withPing = [...frames.slice(0, 2), encodePing(Buffer.from("mid"), { mask }), ...frames.slice(2)];
      expectParsesTo(concat(withPing), role, [ev.ping(Buffer.from("mid")), ev.binary(data)]);
    });

    it("a 2 MiB text message in 64 KiB fragments fed in 1000-byte chunks", () => {
      const text = bigText(2 * MiB);
      const stream = concat(encodeMessage(text, { mask, fragmentSize: 65536 }));
      const result = parseChunks(chunksOf(stream, 1000), { role });
      expect(result.error).toBeUndefined();
      expect(result.events).toEqual([ev.text(text)]);
    });

    it.each([
      ["ping", (p: Buffer) => encodePing(p, { mask }), ev.ping],
      ["pong", (p: Buffer) => encodePong(p, { mask }), ev.pong],
    ] as const)("%s with 0, 1 and 125 bytes", (_, encode, event) => {
      for (const size of [0, 1, 125]) {
        const payload = bigBinary(size);
        expectParsesTo(encode(payload), role, [event(payload)]);
      }
    });

    it.each([
      [undefined, "", 1005],
      [1000, "", 1000],
      [1001, "going away", 1001],
      [4999, "é".repeat(61) + "!", 4999],
    ] as const)("close(%s, %j) arrives as code %i", (code, reason, expectedCode) => {
      expectParsesTo(encodeClose(code, reason, { mask }), role, [ev.close(expectedCode, reason)]);
    });

    it("property: random messages (fragmented, control frames between fragments), pings, pongs and a close", () => {
      fc.assert(
        fc.property(streamArb(), (items) => {
          expectParsesTo(encodedStream(items, role), role, expectedEvents(items));
        }),
        { numRuns: 150 },
      );
    });

    it("property: encodeMessage with any fragmentSize parses back to the message", () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.uint8Array({ maxLength: 3000, size: "max" }), unicodeStringArb(500)),
          fc.integer({ min: 1, max: 3000 }),
          (payload, fragmentSize) => {
            const expected = typeof payload === "string" ? ev.text(payload) : ev.binary(payload);
            expectParsesTo(concat(encodeMessage(payload, { mask, fragmentSize })), role, [expected]);
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});

describe("chunking invariance", () => {
  it("property: any split of a stream (hand-built frames) gives the events of the unsplit stream", () => {
    fc.assert(
      fc.property(streamArb(), roleArb, cutsArb(20), (items, role, cuts) => {
        const stream = rawStream(items, role);
        const whole = parseBytes(stream, { role });
        expect(whole.error).toBeUndefined();
        expect(whole.events).toEqual(expectedEvents(items));
        const split = parseBytes(stream, { role }, cuts);
        expect(split.error).toBeUndefined();
        expect(split.events).toEqual(whole.events);
      }),
      { numRuns: 150 },
    );
  });

  it("property: byte-by-byte feeding gives the events of the unsplit stream", () => {
    fc.assert(
      fc.property(streamArb(200, 4), roleArb, (items, role) => {
        const stream = rawStream(items, role);
        const whole = parseBytes(stream, { role });
        const bytewise = parseChunks(chunksOf(stream, 1), { role });
        expect(bytewise.error).toBeUndefined();
        expect(bytewise.events).toEqual(whole.events);
        expect(bytewise.events).toEqual(expectedEvents(items));
      }),
      { numRuns: 100 },
    );
  });

  it("property: the same for encoder-built streams", () => {
    fc.assert(
      fc.property(streamArb(), roleArb, cutsArb(20), (items, role, cuts) => {
        const stream = encodedStream(items, role);
        expect(parseBytes(stream, { role }, cuts).events).toEqual(expectedEvents(items));
      }),
      { numRuns: 150 },
    );
  });

  it.each(ROLES)("%s: a header split at every position of a 64-bit-length masked frame", (role) => {
    const payload = bigBinary(70_000);
    const stream = frameFor(role, { opcode: Opcode.Binary, payload });
    const headerSize = role === "server" ? 14 : 10;
    for (let first = 1; first <= headerSize; first++) {
      for (let second = first; second <= headerSize + 1; second++) {
        expectParsesTo(stream, role, [ev.binary(payload)], [first, second]);
      }
    }
  });
});

describe("zero-copy", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  describe.each(ROLES)("role %s", (role) => {
    const mask = maskFor(role);

    it("a single-frame message inside one chunk is a view of that chunk, unmasked in place", () => {
      const payload = bigBinary(5000);
      const chunk = concat([encodePing(Buffer.from("p"), { mask }), ...encodeFrame(Opcode.Binary, payload, { mask })]);
      const { parser, collector } = newParser({ role });
      parser.push(chunk);
      const message = collector.payloads[1];
      expect(message.equals(payload)).toBe(true);
      expect(message.buffer).toBe(chunk.buffer);
      expect(message.byteOffset).toBe(chunk.byteOffset + chunk.length - payload.length);
      // The chunk itself now holds the plain payload.
      expect(chunk.subarray(chunk.length - payload.length).equals(payload)).toBe(true);
    });

    it("several frames in one chunk are all views of it", () => {
      const messages = [Buffer.from("one"), bigBinary(300), Buffer.from("three")];
      const chunk = concat(messages.flatMap((data) => encodeFrame(Opcode.Binary, data, { mask })));
      const { parser, collector } = newParser({ role });
      parser.push(chunk);
      expect(collector.events).toEqual(messages.map(ev.binary));
      for (const payload of collector.payloads) expect(payload.buffer).toBe(chunk.buffer);
    });

    it("a fragmented message is joined with a single copy", () => {
      const data = bigBinary(50_000);
      const stream = concat(encodeMessage(data, { mask, fragmentSize: 10_000 }));
      const concatSpy = vi.spyOn(Buffer, "concat");
      const { parser, collector } = newParser({ role });
      parser.push(stream);
      expect(concatSpy).toHaveBeenCalledTimes(1);
      expect(collector.payloads[0].equals(data)).toBe(true);
      expect(collector.payloads[0].buffer).not.toBe(stream.buffer);
    });

    it("a frame spread over many chunks is joined with a single copy", () => {
      const data = bigBinary(50_000);
      const chunks = chunksOf(concat(encodeFrame(Opcode.Binary, data, { mask })), 999);
      const concatSpy = vi.spyOn(Buffer, "concat");
      const result = parseChunks(chunks, { role });
      // Masked pieces are joined and unmasked in one pass (joinUnmasked), not by concat.
      expect(concatSpy).toHaveBeenCalledTimes(mask ? 0 : 1);
      expect(result.events).toEqual([ev.binary(data)]);
    });
  });
});
