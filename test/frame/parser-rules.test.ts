/**
 * One test per RFC 6455 failure rule, each asserting the exact close code and reason.
 * Frames are hand-built with `rawFrame`/`frameFor`, independent of the encoder.
 */
import { describe, expect, it } from "vitest";
import { CloseCode, FrameParser, Opcode, isValidCloseCode, type Role } from "../../src/frame/index.js";
import {
  ROLES,
  concat,
  ev,
  expectProtocolError,
  expectThrowsProtocolError,
  frameFor,
  newParser,
  parseBytes,
  rawFrame,
  type RawFrameSpec,
} from "./helpers.js";

/** Parses `frames` (as one chunk, then byte by byte) and expects the same failure both ways. */
function expectFailure(role: Role, frames: Buffer[], closeCode: number, reason: RegExp, options: { maxPayload?: number } = {}) {
  const stream = concat(frames);
  const whole = parseBytes(stream, { role, ...options });
  expectProtocolError(whole.error, closeCode, reason);
  const bytewise = parseBytes(stream, { role, ...options }, Array.from({ length: stream.length }, (_, i) => i));
  expectProtocolError(bytewise.error, closeCode, reason);
  expect(bytewise.events).toEqual(whole.events);
  return whole;
}

const data = (role: Role, spec: Omit<RawFrameSpec, "mask">) => frameFor(role, spec);
const closeFrame = (role: Role, payload: number[] | Buffer) => frameFor(role, { opcode: Opcode.Close, payload });
const closeBody = (code: number, reason: string | Buffer = "") =>
  concat([Buffer.from([code >> 8, code & 0xff]), typeof reason === "string" ? Buffer.from(reason) : reason]);

describe("masking (RFC 6455 §5.1)", () => {
  it("server role: an unmasked client frame fails with 1002", () => {
    expectFailure("server", [rawFrame({ opcode: Opcode.Text, payload: "hi", mask: false })], 1002, /not masked/);
  });

  it("server role: an unmasked control frame fails with 1002", () => {
    expectFailure("server", [rawFrame({ opcode: Opcode.Ping, mask: false })], 1002, /not masked/);
  });

  it("client role: a masked server frame fails with 1002", () => {
    expectFailure("client", [rawFrame({ opcode: Opcode.Binary, payload: [1, 2], mask: true })], 1002, /masked/);
  });

  it("a mask key of zero is still a masked frame (server role accepts it, client role does not)", () => {
    const frame = rawFrame({ opcode: Opcode.Text, payload: "ok", mask: true, key: [0, 0, 0, 0] });
    expect(parseBytes(frame, { role: "server" }).events).toEqual([ev.text("ok")]);
    expectProtocolError(parseBytes(frame, { role: "client" }).error, 1002, /masked/);
  });
});

describe.each(ROLES)("frame header rules, role %s", (role) => {
  it.each([
    ["RSV1", 4],
    ["RSV2", 2],
    ["RSV3", 1],
  ])("%s set fails with 1002", (_, rsv) => {
    expectFailure(role, [data(role, { opcode: Opcode.Text, rsv, payload: "x" })], 1002, /RSV/);
  });

  it("RSV1 on a continuation frame fails with 1002", () => {
    const frames = [data(role, { opcode: Opcode.Text, fin: false, payload: "a" }), data(role, { opcode: 0, rsv: 4, payload: "b" })];
    expectFailure(role, frames, 1002, /RSV/);
  });

  it.each([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode) => [opcode.toString(16), opcode]))(
    "reserved opcode 0x%s fails with 1002",
    (_, opcode) => {
      expectFailure(role, [data(role, { opcode })], 1002, /reserved .*opcode/);
    },
  );

  it.each([
    ["close", Opcode.Close],
    ["ping", Opcode.Ping],
    ["pong", Opcode.Pong],
  ])("a %s frame with FIN=0 fails with 1002", (_, opcode) => {
    expectFailure(role, [data(role, { opcode, fin: false })], 1002, /fragmented control/);
  });

  it.each([
    ["ping, 126 bytes", Opcode.Ping, 126, undefined],
    ["pong, 126 bytes", Opcode.Pong, 126, undefined],
    ["close, 126 bytes", Opcode.Close, 126, undefined],
    ["ping, 64-bit length", Opcode.Ping, 200, 64 as const],
  ])("a control frame of more than 125 bytes (%s) fails with 1002", (_, opcode, size, lengthEncoding) => {
    const payload = opcode === Opcode.Close ? closeBody(1000, "x".repeat(size - 2)) : Buffer.alloc(size);
    expectFailure(role, [data(role, { opcode, payload, lengthEncoding })], 1002, /125/);
  });

  it("a control frame of exactly 125 bytes is fine", () => {
    const payload = Buffer.alloc(125, 7);
    expect(parseBytes(data(role, { opcode: Opcode.Ping, payload }), { role }).events).toEqual([ev.ping(payload)]);
  });
});

describe.each(ROLES)("fragmentation rules (RFC 6455 §5.4), role %s", (role) => {
  it("a continuation frame with nothing to continue fails with 1002", () => {
    expectFailure(role, [data(role, { opcode: Opcode.Continuation, payload: "x" })], 1002, /continu/);
  });

  it("a continuation frame after a finished message fails with 1002", () => {
    const frames = [data(role, { opcode: Opcode.Text, payload: "done" }), data(role, { opcode: Opcode.Continuation, payload: "x" })];
    const result = expectFailure(role, frames, 1002, /continu/);
    expect(result.events).toEqual([ev.text("done")]);
  });

  it.each([
    ["text inside text", Opcode.Text, Opcode.Text],
    ["binary inside text", Opcode.Text, Opcode.Binary],
    ["text inside binary", Opcode.Binary, Opcode.Text],
    ["binary inside binary", Opcode.Binary, Opcode.Binary],
  ])("a new data frame inside a fragmented message (%s) fails with 1002", (_, first, second) => {
    const frames = [data(role, { opcode: first, fin: false, payload: "a" }), data(role, { opcode: second, payload: "b" })];
    expectFailure(role, frames, 1002, /before the fragmented message ended/);
  });

  it("control frames between fragments are delivered at once, before the message completes", () => {
    const { parser, collector } = newParser({ role });
    parser.push(data(role, { opcode: Opcode.Text, fin: false, payload: "Hel" }));
    parser.push(data(role, { opcode: Opcode.Ping, payload: "p1" }));
    expect(collector.events).toEqual([ev.ping(Buffer.from("p1"))]);
    parser.push(data(role, { opcode: Opcode.Continuation, fin: false, payload: "lo, " }));
    parser.push(data(role, { opcode: Opcode.Pong, payload: "p2" }));
    expect(collector.events).toEqual([ev.ping(Buffer.from("p1")), ev.pong(Buffer.from("p2"))]);
    parser.push(data(role, { opcode: Opcode.Continuation, fin: true, payload: "world" }));
    expect(collector.events).toEqual([ev.ping(Buffer.from("p1")), ev.pong(Buffer.from("p2")), ev.text("Hello, world")]);
  });

  it("a close frame between fragments is delivered and ends the stream", () => {
    const frames = [
      data(role, { opcode: Opcode.Binary, fin: false, payload: [1] }),
      closeFrame(role, closeBody(1001)),
      data(role, { opcode: Opcode.Continuation, payload: [2] }),
    ];
    const result = parseBytes(concat(frames), { role });
    expect(result.error).toBeUndefined();
    expect(result.events).toEqual([ev.close(1001)]);
  });

  it("empty fragments are fine", () => {
    const frames = [
      data(role, { opcode: Opcode.Text, fin: false }),
      data(role, { opcode: Opcode.Continuation, fin: false, payload: "x" }),
      data(role, { opcode: Opcode.Continuation, fin: true }),
    ];
    expect(parseBytes(concat(frames), { role }).events).toEqual([ev.text("x")]);
  });
});

describe.each(ROLES)("text payload rules (RFC 6455 §8.1), role %s", (role) => {
  it.each([
    ["a stray continuation byte", [0x61, 0x80, 0x62]],
    ["a surrogate", [0xed, 0xa0, 0x80]],
    ["an overlong NUL", [0xc0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["0xFF", [0xff]],
  ])("invalid UTF-8 (%s) fails with 1007", (_, payload) => {
    expectFailure(role, [data(role, { opcode: Opcode.Text, payload })], 1007, /UTF-8/);
  });

  it("invalid UTF-8 in a binary message is fine", () => {
    const payload = [0xff, 0xc0, 0x80];
    expect(parseBytes(data(role, { opcode: Opcode.Binary, payload }), { role }).events).toEqual([
      ev.binary(Uint8Array.from(payload)),
    ]);
  });

  it("a text message that ends mid-sequence fails with 1007 (one frame)", () => {
    expectFailure(role, [data(role, { opcode: Opcode.Text, payload: [0x61, 0xe2, 0x82] })], 1007, /UTF-8/);
  });

  it("a text message that ends mid-sequence fails with 1007 (fragmented, last fragment empty)", () => {
    const frames = [data(role, { opcode: Opcode.Text, fin: false, payload: [0xf0, 0x9f] }), data(role, { opcode: 0 })];
    expectFailure(role, frames, 1007, /UTF-8/);
  });

  it("a code point split across fragments is fine", () => {
    const frames = [
      data(role, { opcode: Opcode.Text, fin: false, payload: [0xf0, 0x9f] }),
      data(role, { opcode: Opcode.Continuation, fin: false, payload: [0x98] }),
      data(role, { opcode: Opcode.Continuation, fin: true, payload: [0x80] }),
    ];
    expect(parseBytes(concat(frames), { role }).events).toEqual([ev.text("😀")]);
  });
});

describe.each(ROLES)("close frames (RFC 6455 §5.5.1, §7.4), role %s", (role) => {
  it("an empty close frame reports code 1005 and no reason", () => {
    const result = parseBytes(closeFrame(role, []), { role });
    expect(result.error).toBeUndefined();
    expect(result.events).toEqual([ev.close(CloseCode.NoStatus, "")]);
    expect(result.parser.closed).toBe(true);
  });

  it("a close payload of 1 byte fails with 1002", () => {
    expectFailure(role, [closeFrame(role, [0x03])], 1002, /1-byte/);
  });

  it.each([0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])("close code %i fails with 1002", (code) => {
    expect(isValidCloseCode(code)).toBe(false);
    expectFailure(role, [closeFrame(role, closeBody(code))], 1002, new RegExp(`invalid close code ${code}`));
  });

  it.each([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999])(
    "close code %i is accepted with its reason",
    (code) => {
      expect(isValidCloseCode(code)).toBe(true);
      const result = parseBytes(closeFrame(role, closeBody(code, "bye ✓")), { role });
      expect(result.error).toBeUndefined();
      expect(result.events).toEqual([ev.close(code, "bye ✓")]);
    },
  );

  it.each([
    ["a surrogate", [0xed, 0xa0, 0x80]],
    ["a truncated sequence", [0x6f, 0x6b, 0xe2, 0x82]],
    ["an invalid byte after 40 valid ones", [...Buffer.alloc(40, 0x61), 0xff]],
  ])("a close reason with invalid UTF-8 (%s) fails with 1007", (_, reason) => {
    expectFailure(role, [closeFrame(role, closeBody(1000, Buffer.from(reason)))], 1007, /UTF-8/);
  });

  it("anything after a close frame is ignored: data, more frames, garbage", () => {
    const stream = concat([
      data(role, { opcode: Opcode.Text, payload: "before" }),
      closeFrame(role, closeBody(1000, "done")),
      data(role, { opcode: Opcode.Text, payload: "after" }),
      Buffer.from([0xff, 0xff, 0xff]),
    ]);
    const result = parseBytes(stream, { role });
    expect(result.error).toBeUndefined();
    expect(result.events).toEqual([ev.text("before"), ev.close(1000, "done")]);
    // Later pushes are ignored as well, even ones that would be violations.
    result.parser.push(Buffer.from([0x83, 0x00]));
    result.parser.push(data(role, { opcode: Opcode.Text, payload: "late" }));
    expect(result.events).toEqual([ev.text("before"), ev.close(1000, "done")]);
    expect(result.parser.closed).toBe(true);
  });
});

describe.each(ROLES)("size limits (RFC 6455 §10.4), role %s", (role) => {
  const maxPayload = 1000;

  it.each([7, 16, 64] as const)("a frame of maxPayload + 1 bytes (%i-bit length) fails with 1009 at its header", (lengthEncoding) => {
    const limit = lengthEncoding === 7 ? 100 : maxPayload;
    const header = data(role, { opcode: Opcode.Binary, length: limit + 1, lengthEncoding });
    const { parser } = newParser({ role, maxPayload: limit });
    expectThrowsProtocolError(() => parser.push(header), 1009, new RegExp(`limit of ${limit} bytes`));
  });

  it("a frame of exactly maxPayload bytes is fine", () => {
    const payload = Buffer.alloc(maxPayload, 1);
    expect(parseBytes(data(role, { opcode: Opcode.Binary, payload }), { role, maxPayload }).events).toEqual([ev.binary(payload)]);
  });

  it("a fragmented message over maxPayload fails with 1009 at the header of the fragment that crosses it", () => {
    const { parser, collector } = newParser({ role, maxPayload });
    parser.push(data(role, { opcode: Opcode.Text, fin: false, payload: "a".repeat(400) }));
    parser.push(data(role, { opcode: Opcode.Ping, payload: "keepalive" })); // control frames do not count
    parser.push(data(role, { opcode: Opcode.Continuation, fin: false, payload: "b".repeat(400) }));
    const crossing = data(role, { opcode: Opcode.Continuation, fin: true, payload: "c".repeat(201) });
    const headerSize = crossing.length - 201;
    expectThrowsProtocolError(() => parser.push(crossing.subarray(0, headerSize)), 1009, /limit/);
    expect(collector.events).toEqual([ev.ping(Buffer.from("keepalive"))]);
  });

  it("a fragmented message of exactly maxPayload bytes is fine", () => {
    const frames = [
      data(role, { opcode: Opcode.Binary, fin: false, payload: Buffer.alloc(600, 1) }),
      data(role, { opcode: Opcode.Continuation, fin: true, payload: Buffer.alloc(400, 2) }),
    ];
    const result = parseBytes(concat(frames), { role, maxPayload });
    expect(result.error).toBeUndefined();
    expect(result.events).toEqual([ev.binary(concat([Buffer.alloc(600, 1), Buffer.alloc(400, 2)]))]);
  });

  it("the limit counts each message afresh", () => {
    const frames = [0, 1, 2].map(() => data(role, { opcode: Opcode.Binary, payload: Buffer.alloc(800) }));
    expect(parseBytes(concat(frames), { role, maxPayload }).events).toHaveLength(3);
  });

  it("maxPayload 0 allows only empty messages", () => {
    expect(parseBytes(data(role, { opcode: Opcode.Text }), { role, maxPayload: 0 }).events).toEqual([ev.text("")]);
    expectFailure(role, [data(role, { opcode: Opcode.Text, payload: "x" })], 1009, /limit/, { maxPayload: 0 });
  });
});

describe("FrameParser options", () => {
  it.each([-1, Number.NaN, 2 ** 53, Infinity])("maxPayload %s is a RangeError", (maxPayload) => {
    expect(() => new FrameParser(newParser({ role: "server" }).collector, { role: "server", maxPayload })).toThrow(RangeError);
  });
});

describe("maxPayload counts data only (control frames are bounded at 125 by §5.5)", () => {
  it.each(ROLES)("%s role: a 125-byte ping passes a 10-byte maxPayload, a 11-byte message does not", (role) => {
    const ping = frameFor(role, { opcode: Opcode.Ping, payload: Buffer.alloc(125, 7) });
    const { events, error } = parseBytes(ping, { role, maxPayload: 10 });
    expect(error).toBeUndefined();
    expect(events).toHaveLength(1);
    expectFailure(role, [data(role, { opcode: Opcode.Binary, payload: Buffer.alloc(11) })], 1009, /limit of 10/, {
      maxPayload: 10,
    });
  });
});
