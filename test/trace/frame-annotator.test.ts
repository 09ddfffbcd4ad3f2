/**
 * Golden tests on the example frames of RFC 6455 §5.7, traced by the sans-I/O
 * FrameAnnotator: every field is checked, each frame is fed whole and byte by byte (the
 * events must not depend on chunking), and the chunk is never modified.
 */
import { describe, expect, it } from "vitest";
import { FrameAnnotator } from "../../src/trace/frame-annotator.js";
import type { FrameEvent } from "../../src/trace/events.js";
import { renderText } from "../../src/trace/render-text.js";

const bytes = (...values: number[]): Buffer => Buffer.from(values);

/** Traces `input` in one direction, whole and byte by byte; both must agree. */
function trace(direction: "client" | "server", input: Buffer): FrameEvent[] {
  const original = Buffer.from(input);
  const whole = new FrameAnnotator(1, direction).push(input);
  expect(input.equals(original)).toBe(true); // never unmasked in place
  const annotator = new FrameAnnotator(1, direction);
  const split: FrameEvent[] = [];
  for (let i = 0; i < input.length; i++) split.push(...annotator.push(input.subarray(i, i + 1)));
  expect(split).toEqual(whole);
  expect(annotator.end()).toBeUndefined();
  return whole;
}

// RFC 6455 §5.7.
const HELLO_UNMASKED = bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
const HELLO_MASKED = bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
const HEL_LO = bytes(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f);
const PING = bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
const PONG_MASKED = bytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);

describe("RFC 6455 §5.7 examples", () => {
  it('a single-frame unmasked text message: "Hello"', () => {
    const [frame, ...more] = trace("server", HELLO_UNMASKED);
    expect(more).toEqual([]);
    expect(frame).toMatchObject({
      direction: "server",
      offset: 0,
      header: "81 05",
      fin: true,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: 1,
      opcodeName: "text",
      masked: false,
      maskKey: null,
      payloadLength: 5,
      lengthEncoding: "7-bit",
      payload: { kind: "text", shown: "Hello", omitted: 0 },
      close: null,
      message: { kind: "text", frames: 1, size: 5, compressed: false, inflated: null },
      violations: [],
    });
  });

  it('a single-frame masked text message: "Hello", unmasked for the trace', () => {
    const [frame] = trace("client", HELLO_MASKED);
    expect(frame).toMatchObject({
      header: "81 85 37 fa 21 3d",
      masked: true,
      maskKey: "37fa213d",
      payloadLength: 5,
      payload: { kind: "text", shown: "Hello" },
      violations: [],
    });
  });

  it("the masked frame as text: every field with its section", () => {
    const [frame] = trace("client", HELLO_MASKED);
    expect(renderText(frame)).toBe(
      [
        "#1 client → server  text frame at byte 0: header 81 85 37 fa 21 3d + 5 payload bytes",
        "        FIN 1  RSV1 0  RSV2 0  RSV3 0                  RFC 6455 §5.2",
        "        opcode 0x1 text                                RFC 6455 §5.6",
        "        MASK 1  masking key 37 fa 21 3d                RFC 6455 §5.3",
        "        payload length 5, in the 7-bit field           RFC 6455 §5.2",
        '        payload (unmasked) "Hello"',
        "",
      ].join("\n"),
    );
  });

  it('a fragmented unmasked text message: "Hel" then "lo"', () => {
    const [first, last] = trace("server", HEL_LO);
    expect(first).toMatchObject({ fin: false, opcodeName: "text", payloadLength: 3, payload: { shown: "Hel" }, message: null });
    expect(last).toMatchObject({
      offset: 5,
      fin: true,
      opcode: 0,
      opcodeName: "continuation",
      payload: { kind: "text", shown: "lo" },
      message: { kind: "text", frames: 2, size: 5 },
      violations: [],
    });
    expect(renderText(last)).toContain("ends a text message of 2 frames, 5 bytes");
  });

  it("an unmasked ping and a masked pong, each with the body Hello", () => {
    const [ping] = trace("server", PING);
    expect(ping).toMatchObject({ opcode: 9, opcodeName: "ping", masked: false, payload: { shown: "Hello" }, violations: [] });
    const [pong] = trace("client", PONG_MASKED);
    expect(pong).toMatchObject({ opcode: 10, opcodeName: "pong", maskKey: "37fa213d", payload: { shown: "Hello" }, violations: [] });
  });

  it("256 bytes of binary data in a single unmasked frame: the 16-bit length", () => {
    const payload = Buffer.alloc(256, 0xab);
    const [frame] = trace("server", Buffer.concat([bytes(0x82, 0x7e, 0x01, 0x00), payload]));
    expect(frame).toMatchObject({
      header: "82 7e 01 00",
      opcodeName: "binary",
      payloadLength: 256,
      lengthEncoding: "16-bit",
      payload: { kind: "hex", shown: Array(64).fill("ab").join(" "), omitted: 192 },
      message: { kind: "binary", frames: 1, size: 256 },
      violations: [],
    });
  });

  it("64 KiB of binary data in a single unmasked frame: the 64-bit length", () => {
    const payload = Buffer.alloc(65536, 0x01);
    const header = bytes(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0);
    const [frame] = new FrameAnnotator(1, "server").push(Buffer.concat([header, payload]));
    expect(frame).toMatchObject({
      header: "82 7f 00 00 00 00 00 01 00 00",
      payloadLength: 65536,
      lengthEncoding: "64-bit",
      payload: { kind: "hex", omitted: 65536 - 64 },
      violations: [],
    });
  });
});

describe("violations are pointed out, and reading goes on", () => {
  const rules = (frame: FrameEvent): string[] => frame.violations.map((v) => `${v.rule}: ${v.message}`);

  it("an unmasked client frame and a masked server frame (§5.1)", () => {
    expect(rules(trace("client", HELLO_UNMASKED)[0]!)).toEqual(["RFC 6455 §5.1, §5.3: a client MUST mask every frame it sends"]);
    expect(rules(trace("server", HELLO_MASKED)[0]!)).toEqual(["RFC 6455 §5.1: a server MUST NOT mask the frames it sends"]);
  });

  it("RSV bits, reserved opcodes, fragmented and long control frames, a stray continuation", () => {
    const frames = trace(
      "server",
      Buffer.concat([
        bytes(0xf1, 0x00), // RSV1-3 on a text frame
        bytes(0x83, 0x00), // reserved opcode 0x3
        bytes(0x09, 0x00), // fragmented ping
        bytes(0x89, 0x7e, 0x00, 0x7e), Buffer.alloc(126), // 126-byte ping, and a non-minimal length
        bytes(0x80, 0x00), // continuation with no message
      ]),
    );
    expect(frames.map(rules)).toEqual([
      ["RFC 6455 §5.2: RSV2 or RSV3 set, and no extension defines them", "RFC 6455 §5.2: RSV1 set, and permessage-deflate was not negotiated"],
      ["RFC 6455 §5.2: reserved opcode 0x3"],
      ["RFC 6455 §5.5: a control frame MUST NOT be fragmented"],
      ["RFC 6455 §5.5: a control frame carries at most 125 bytes"],
      ["RFC 6455 §5.4: a continuation frame with no message to continue"],
    ]);
    expect(renderText(frames[0]!)).toContain("! violation: RSV2 or RSV3 set, and no extension defines them (RFC 6455 §5.2); forwarded as it is");
  });

  it("close frames: code, meaning, reason; a bad code; data after the close", () => {
    const [close, after] = trace("server", Buffer.concat([bytes(0x88, 0x05, 0x03, 0xe8, 0x62, 0x79, 0x65), HELLO_UNMASKED]));
    expect(close!.close).toEqual({ code: 1000, meaning: expect.stringMatching(/^normal closure/), reason: "bye" });
    expect(rules(close!)).toEqual([]);
    expect(rules(after!)).toEqual(["RFC 6455 §5.5.1: a frame after this side's close frame"]);
    const [bad] = trace("server", bytes(0x88, 0x02, 0x03, 0xed)); // 1005 may not be sent
    expect(bad!.close!.code).toBe(1005);
    expect(rules(bad!)).toEqual(["RFC 6455 §7.4: close code 1005 may not be sent"]);
    const [empty] = trace("server", bytes(0x88, 0x00));
    expect(empty!.close).toMatchObject({ code: 1005, reason: "" });
  });

  it("text that is not UTF-8, and a message cut short at the end", () => {
    const [frame] = trace("server", bytes(0x81, 0x02, 0xc3, 0x28));
    expect(rules(frame!)).toEqual(["RFC 6455 §5.6, §8.1: a text message that is not valid UTF-8"]);
    const annotator = new FrameAnnotator(1, "server");
    expect(annotator.push(bytes(0x82, 0x7e, 0x01, 0x00, 1, 2, 3))).toEqual([]);
    expect(annotator.end()?.what).toBe("a binary frame at byte 0: 3 of its 256 payload bytes arrived");
  });
});
