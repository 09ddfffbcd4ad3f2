/**
 * Autobahn section 4 (opcodes), RFC 6455 §5.2: 0x3-0x7 are reserved for further
 * non-control frames and 0xB-0xF for further control frames; "if an unknown opcode is
 * received, the receiving endpoint MUST _Fail the WebSocket Connection_" (1002). A valid
 * message before the bad frame is echoed first; the ping after it is never answered.
 */
import { describe } from "vitest";
import { type Case, echoText, failsWith, itCases, itStillServes, ping, text, useEchoServer } from "./harness.js";

const server = useEchoServer();

const RESERVED = [
  { section: "4.1", opcodes: [0x3, 0x4, 0x5, 0x6, 0x7], kind: "non-control" },
  { section: "4.2", opcodes: [0xb, 0xc, 0xd, 0xe, 0xf], kind: "control" },
];

const cases: Case[] = RESERVED.flatMap(({ section, opcodes, kind }) =>
  opcodes.flatMap((opcode) => {
    const name = `reserved ${kind} opcode 0x${opcode.toString(16)}`;
    const withPayload = { opcode, payload: "reserved opcode payload" };
    return [
      { id: `${section}.x`, title: `${name} without payload → 1002`, frames: [{ opcode }], expect: [failsWith(1002)] },
      { id: `${section}.x`, title: `${name} with payload → 1002`, frames: [withPayload], expect: [failsWith(1002)] },
      {
        id: `${section}.x`,
        title: `echo, ${name} without payload, ping → echo, then 1002`,
        frames: [text("Hello"), { opcode }, ping()],
        expect: [echoText("Hello"), failsWith(1002)],
      },
      {
        id: `${section}.x`,
        title: `echo, ${name} with payload, ping → echo, then 1002`,
        frames: [text("Hello"), withPayload, ping("never answered")],
        expect: [echoText("Hello"), failsWith(1002)],
      },
      {
        id: `${section}.x`,
        title: `${name} with FIN=0 → 1002`,
        frames: [{ opcode, fin: false, payload: "x" }],
        expect: [failsWith(1002)],
      },
    ];
  }),
);

describe("4 opcodes", () => {
  itCases(server, cases, ["whole", "frames", "bytes"]);
});

itStillServes(server);
