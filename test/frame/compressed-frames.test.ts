/**
 * The parser's side of permessage-deflate (RFC 7692 §6): where RSV1 may stand, what a
 * compressed message looks like to the handler, and suspending while one is inflated.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FrameParser, type FrameParserOptions, Opcode, type Role } from "../../src/frame/index.js";
import { ROLES, concat, cutsArb, expectThrowsProtocolError, frameFor, parseBytes, splitAt } from "./helpers.js";

const RSV1 = 4;
const RSV2 = 2;
const RSV3 = 1;
const HELLO = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]; // "Hello", RFC 7692 §7.2.3.1

interface Seen {
  kind: string;
  payload: string;
  binary?: boolean;
  compressed?: boolean;
}

/** Parses with deflate negotiated, recording what the handler is told. */
function parse(role: Role, frames: Buffer[], cuts: number[] = [], options: Partial<FrameParserOptions> = {}) {
  const seen: Seen[] = [];
  const parser = new FrameParser(
    {
      onMessage: (payload, binary, compressed) =>
        void seen.push({ kind: "message", payload: payload.toString("hex"), binary, compressed }),
      onPing: (payload) => void seen.push({ kind: "ping", payload: payload.toString("hex") }),
      onPong: (payload) => void seen.push({ kind: "pong", payload: payload.toString("hex") }),
      onClose: (code) => void seen.push({ kind: "close", payload: String(code) }),
    },
    { role, perMessageDeflate: true, ...options },
  );
  for (const piece of splitAt(concat(frames), cuts)) parser.push(piece);
  return seen;
}

const hex = (bytes: number[]): string => Buffer.from(bytes).toString("hex");

describe.each(ROLES)("RSV1 with permessage-deflate negotiated, role %s", (role) => {
  it("marks a message compressed, whole or fragmented, text or binary, in any chunking", () => {
    const frames = [
      frameFor(role, { opcode: Opcode.Text, rsv: RSV1, payload: HELLO }),
      frameFor(role, { opcode: Opcode.Binary, rsv: RSV1, fin: false, payload: HELLO.slice(0, 3) }),
      frameFor(role, { opcode: Opcode.Ping, payload: [1] }),
      frameFor(role, { opcode: Opcode.Continuation, fin: false, payload: [] }),
      frameFor(role, { opcode: Opcode.Continuation, payload: HELLO.slice(3) }),
      frameFor(role, { opcode: Opcode.Text, payload: "plain" }),
    ];
    const expected: Seen[] = [
      { kind: "message", payload: hex(HELLO), binary: false, compressed: true },
      { kind: "ping", payload: "01" },
      { kind: "message", payload: hex(HELLO), binary: true, compressed: true },
      { kind: "message", payload: Buffer.from("plain").toString("hex"), binary: false, compressed: false },
    ];
    fc.assert(
      fc.property(cutsArb(), (cuts) => {
        expect(parse(role, frames, cuts)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it("does not check compressed text as UTF-8 (its bytes are DEFLATE, checked once inflated)", () => {
    const notUtf8 = [0xff, 0xfe, 0xc3];
    const seen = parse(role, [frameFor(role, { opcode: Opcode.Text, rsv: RSV1, payload: notUtf8 })]);
    expect(seen).toEqual([{ kind: "message", payload: hex(notUtf8), binary: false, compressed: true }]);
  });

  it.each([
    ["a continuation frame", [frameFor(role, { opcode: Opcode.Text, rsv: RSV1, fin: false, payload: [1] }), frameFor(role, { opcode: Opcode.Continuation, rsv: RSV1, payload: [2] })], /RSV1 set on a continuation frame/],
    ["a ping", [frameFor(role, { opcode: Opcode.Ping, rsv: RSV1 })], /RSV1 set on a control frame/],
    ["a pong", [frameFor(role, { opcode: Opcode.Pong, rsv: RSV1 })], /RSV1 set on a control frame/],
    ["a close", [frameFor(role, { opcode: Opcode.Close, rsv: RSV1 })], /RSV1 set on a control frame/],
  ])("RSV1 on %s is 1002 (RFC 7692 §6.1)", (_, frames, reason) => {
    const result = parseBytes(concat(frames), { role, perMessageDeflate: true });
    expect(result.error).toBeDefined();
    expectThrowsProtocolError(() => {
      throw result.error;
    }, 1002, reason);
  });

  it.each([RSV2, RSV3, RSV1 | RSV2])("RSV bits %i beyond RSV1 are 1002 even with deflate", (rsv) => {
    const result = parseBytes(frameFor(role, { opcode: Opcode.Text, rsv, payload: HELLO }), { role, perMessageDeflate: true });
    expectThrowsProtocolError(() => {
      throw result.error;
    }, 1002, /RSV2 or RSV3/);
  });

  it("RSV1 without permessage-deflate is 1002", () => {
    const result = parseBytes(frameFor(role, { opcode: Opcode.Text, rsv: RSV1, payload: HELLO }), { role });
    expectThrowsProtocolError(() => {
      throw result.error;
    }, 1002, /permessage-deflate was not negotiated/);
  });
});

describe("suspending the parser while a message is handled later", () => {
  const role: Role = "server";
  const frames = [
    frameFor(role, { opcode: Opcode.Text, rsv: RSV1, payload: HELLO }),
    frameFor(role, { opcode: Opcode.Ping, payload: [7] }),
    frameFor(role, { opcode: Opcode.Binary, payload: [1, 2, 3] }),
    frameFor(role, { opcode: Opcode.Text, rsv: RSV1, payload: HELLO }),
    frameFor(role, { opcode: Opcode.Close, payload: [0x03, 0xe8] }),
  ];

  it("property: nothing after a suspending message is handed out before resume, in any chunking", () => {
    fc.assert(
      fc.property(cutsArb(), fc.array(fc.nat({ max: 3 }), { minLength: 8, maxLength: 8 }), (cuts, resumeAfter) => {
        const seen: string[] = [];
        let suspended = false;
        const parser = new FrameParser(
          {
            onMessage: (payload, binary, compressed) => {
              expect(suspended).toBe(false);
              seen.push(compressed ? "compressed" : "plain");
              // Every compressed message waits, as a large one inflating on the thread pool does.
              if (compressed) suspended = true;
              return !compressed;
            },
            onPing: () => {
              expect(suspended).toBe(false);
              seen.push("ping");
            },
            onPong: () => {},
            onClose: () => {
              expect(suspended).toBe(false);
              seen.push("close");
            },
          },
          { role, perMessageDeflate: true },
        );
        const pieces = splitAt(concat(frames), cuts);
        let step = 0;
        for (const piece of pieces) {
          parser.push(piece);
          // Resume at a random point: right away, or after more chunks have come in.
          if (suspended && resumeAfter[step++ % resumeAfter.length] === 0) {
            suspended = false;
            parser.resume();
          }
        }
        while (suspended) {
          expect(parser.isSuspended).toBe(true);
          suspended = false;
          parser.resume();
        }
        expect(seen).toEqual(["compressed", "ping", "plain", "compressed", "close"]);
      }),
      { numRuns: 300 },
    );
  });
});
