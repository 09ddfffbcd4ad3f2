/**
 * Autobahn section 3 (reserved bits), RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension
 * is negotiated that defines meanings for non-zero values". No extension is negotiated
 * here, so any of them, on any frame, fails the connection with 1002; the messages before
 * it are still echoed, and nothing after it is answered.
 */
import { describe } from "vitest";
import { type Case, close, echoText, failsWith, itCases, itStillServes, opcodeName, ping, text, useEchoServer } from "./harness.js";
import { type FrameSpec, OP, RSV1, RSV2, RSV3 } from "../support/index.js";

const server = useEchoServer();

const RSV_VALUES: Array<[string, number]> = [
  ["RSV1", RSV1],
  ["RSV2", RSV2],
  ["RSV3", RSV3],
  ["RSV1+RSV3", RSV1 | RSV3],
  ["RSV1+RSV2+RSV3", RSV1 | RSV2 | RSV3],
];

const FRAMES: Array<(rsv: number) => FrameSpec> = [
  (rsv) => ({ opcode: OP.TEXT, payload: "Hello", rsv }),
  (rsv) => ({ opcode: OP.BINARY, payload: Buffer.from([0xde, 0xad, 0xbe, 0xef]), rsv }),
  (rsv) => ({ opcode: OP.PING, payload: "ping", rsv }),
  (rsv) => ({ opcode: OP.CLOSE, payload: close(1000).payload, rsv }),
];

const cases: Case[] = [];
for (const [name, rsv] of RSV_VALUES) {
  for (const frame of FRAMES) {
    const bad = frame(rsv);
    const kind = opcodeName(bad.opcode);
    cases.push({
      id: "3.x",
      title: `${kind} with ${name} → 1002`,
      frames: [bad],
      expect: [failsWith(1002)],
    });
    // Autobahn 3.2-3.7: a valid message first (echoed), the bad frame, then a ping that
    // must not be answered.
    cases.push({
      id: "3.x",
      title: `echo, then ${kind} with ${name} → 1002, and the ping after it is not answered`,
      frames: [text("valid first"), bad, ping("too late")],
      expect: [echoText("valid first"), failsWith(1002)],
    });
  }
}

describe("3 reserved bits", () => {
  // Frame-wise (Autobahn 3.3) and octet-wise (3.4) as well as in one write.
  itCases(server, cases, ["whole", "frames", "bytes"]);
});

itStillServes(server);
