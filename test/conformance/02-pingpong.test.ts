/**
 * Autobahn section 2 (pings and pongs), RFC 6455 §5.5.2-§5.5.3: a ping is answered with a
 * pong carrying the same application data; a control frame carries at most 125 bytes and
 * is never fragmented (§5.5); an unsolicited pong is ignored.
 */
import { describe, expect, it } from "vitest";
import { type Case, binary, connect, echoBinary, echoText, expectPong, failsWith, itCases, itStillServes, ping, pong, text, useEchoServer } from "./harness.js";
import { OP } from "../support/index.js";

const server = useEchoServer();

const ALL_BYTES = Buffer.from(Array.from({ length: 125 }, (_, i) => (i * 37 + 11) & 0xff));
const TEN = Array.from({ length: 10 }, (_, i) => `ping #${i}`);

const cases: Case[] = [
  { id: "2.1", title: "ping without payload → pong without payload", frames: [ping()], expect: [expectPong()] },
  { id: "2.2", title: "ping with a small text payload → same pong", frames: [ping("Hello, world!")], expect: [expectPong("Hello, world!")] },
  { id: "2.3", title: "ping with a small binary payload → same pong", frames: [ping(Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]))], expect: [expectPong(Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]))] },
  { id: "2.4", title: "ping with 125 bytes of binary payload → same pong", frames: [ping(ALL_BYTES)], expect: [expectPong(ALL_BYTES)] },
  { id: "2.5", title: "ping with 126 bytes (over the control-frame limit) → 1002", frames: [ping(Buffer.alloc(126, 0xfe))], expect: [failsWith(1002)] },
  {
    id: "2.5b",
    title: "ping announcing 5 bytes in a 16-bit length field (control frames use 7 bits) → 1002",
    frames: [ping("Hello", { lengthEncoding: "16" })],
    expect: [failsWith(1002)],
  },
  { id: "2.7", title: "unsolicited pong without payload is ignored", frames: [pong(), text("after pong")], expect: [echoText("after pong")] },
  { id: "2.8", title: "unsolicited pong with payload is ignored", frames: [pong("unsolicited pong payload"), binary("after pong")], expect: [echoBinary("after pong")] },
  { id: "2.9", title: "unsolicited pong, then ping → only the ping's pong", frames: [pong("unsolicited"), ping("solicited")], expect: [expectPong("solicited")] },
  { id: "2.10", title: "10 pings in a row → 10 pongs in order", frames: TEN.map((p) => ping(p)), expect: TEN.map((p) => expectPong(p)) },
  { id: "2.x.1", title: "fragmented ping (FIN=0) → 1002", frames: [ping("frag", { fin: false })], expect: [failsWith(1002)] },
  {
    id: "2.x.2",
    title: "fragmented ping with a continuation → 1002",
    frames: [ping("frag", { fin: false }), { opcode: OP.CONT, payload: "ment" }],
    expect: [failsWith(1002)],
  },
  { id: "2.x.3", title: "fragmented pong (FIN=0) → 1002", frames: [pong("frag", { fin: false })], expect: [failsWith(1002)] },
  { id: "2.x.4", title: "pong with 126 bytes → 1002", frames: [pong(Buffer.alloc(126, 1))], expect: [failsWith(1002)] },
  {
    id: "2.x.5",
    title: "ping between two messages: its pong comes before the second echo",
    frames: [text("first"), ping("between"), text("second")],
    expect: [echoText("first"), expectPong("between"), echoText("second")],
    // In one write, a pong may legitimately overtake the first echo; see the paced modes.
    modes: ["frames"],
  },
];

describe("2 ping/pong", () => {
  // 2.6 and 2.11: the same frames written one byte per write.
  itCases(server, cases, ["whole", "frames", "bytes"]);

  it("2.x.6 a ping is answered at once, while a fragmented message is still open", async () => {
    const client = await connect(server().port);
    await client.send([text("frag", { fin: false }), ping("now")]);
    await client.expectPong("now");
    await client.send([{ opcode: OP.CONT, payload: "ment" }]);
    await client.expectText("fragment");
    await client.closeHandshake();
  });

  it("2.x.7 the pong of an oversized ping never arrives: the close 1002 is the only answer", async () => {
    const client = await connect(server().port);
    await client.send([ping("fine"), ping(Buffer.alloc(126)), ping("after")]);
    await client.expectPong("fine");
    const { reason } = await client.expectClose(1002);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
  });
});

itStillServes(server);
