/**
 * Autobahn section 7 (close handling), RFC 6455 §5.5.1, §7.1 and §7.4: a close frame has
 * no body or a 2-byte code plus a UTF-8 reason; the endpoint answers a close with a close
 * (echoing the code), sends nothing after it, ignores anything the peer sends after its
 * close, and the server closes the TCP connection first (§7.1.1). Codes 1004-1006 and
 * 1015 may not be sent, 1016-2999 are reserved, <1000 and >=5000 are invalid (§7.4.1-2).
 */
import { describe, expect, it } from "vitest";
import { type Case, close, connect, cont, echoText, failsWith, itCases, itStillServes, ping, text, useEchoServer } from "./harness.js";
import { OP, hex } from "../support/index.js";

const server = useEchoServer();

// 1012-1014 are not in RFC 6455 but in the IANA registry it defines (§11.7), so they are
// valid on the wire (Autobahn's 7.7 list predates their registration).
const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

const REASON_123 = `${"*".repeat(100)}µ€𝄞${"!".repeat(14)}`; // 100 + 2 + 3 + 4 + 14 = 123 bytes

describe("7.3 close frame bodies", () => {
  const cases: Case[] = [
    { id: "7.3.1", title: "close without a body → empty close (or 1000)", frames: [close()], expect: [{ close: "empty-or-1000" }] },
    { id: "7.3.2", title: "close with a 1-byte body → 1002", frames: [{ opcode: OP.CLOSE, payload: hex("03") }], expect: [failsWith(1002)] },
    { id: "7.3.3", title: "close 1000 without reason → 1000", frames: [close(1000)], expect: [{ close: 1000 }] },
    { id: "7.3.4", title: "close 1000 with a short reason → 1000", frames: [close(1000, "Hello World!")], expect: [{ close: 1000 }] },
    { id: "7.3.5", title: "close 1000 with a 123-byte reason → 1000", frames: [close(1000, REASON_123)], expect: [{ close: 1000 }] },
    { id: "7.3.6", title: "close with a 124-byte reason (126-byte control frame) → 1002", frames: [close(1000, `${REASON_123}!`)], expect: [failsWith(1002)] },
    { id: "7.5.1", title: "close reason that is not UTF-8 → 1007", frames: [close(1000, Buffer.concat([Buffer.from("κόσμε"), hex("ed a0 80"), Buffer.from("edited")]))], expect: [failsWith(1007)] },
    { id: "7.5.x", title: "close reason truncated inside a character → 1007", frames: [close(1000, hex("ce ba ce"))], expect: [failsWith(1007)] },
    { id: "7.5.x", title: "close reason with an overlong encoding → 1007", frames: [close(1000, hex("c0 af"))], expect: [failsWith(1007)] },
  ];
  it("the 123-byte reason is 123 bytes", () => expect(Buffer.byteLength(REASON_123)).toBe(123));
  itCases(server, cases, ["whole", "bytes"]);
});

describe("7.7 valid close codes are echoed", () => {
  const cases: Case[] = VALID_CODES.map((code) => ({
    id: "7.7",
    title: `close ${code} → ${code}`,
    frames: [close(code, "reason")],
    expect: [{ close: code }],
  }));
  itCases(server, cases);
});

describe("7.9 invalid close codes fail with 1002", () => {
  const cases: Case[] = INVALID_CODES.map((code) => ({
    id: "7.9",
    title: `close ${code} → 1002`,
    frames: [close(code)],
    expect: [failsWith(1002)],
  }));
  itCases(server, cases);
});

describe("7.1 what comes around a close", () => {
  const cases: Case[] = [
    { id: "7.1.1", title: "a message, then close → echo, then close 1000", frames: [text("Hello World!"), close(1000)], expect: [echoText("Hello World!"), { close: 1000 }] },
    { id: "7.1.2", title: "close, close → one close only", frames: [close(1000), close(1001)], expect: [{ close: 1000 }] },
    { id: "7.1.3", title: "close, ping → close only, no pong", frames: [close(1000), ping("too late")], expect: [{ close: 1000 }] },
    { id: "7.1.4", title: "close, text → close only, no echo", frames: [close(1000), text("too late")], expect: [{ close: 1000 }] },
    {
      id: "7.1.5",
      title: "text fragment, close, continuation → close only, no echo",
      frames: [text("fragment1", { fin: false }), close(1000), cont("fragment2")],
      expect: [{ close: 1000 }],
    },
    {
      id: "7.1.6",
      title: "a 256 KiB message, close, ping → echo, close, no pong",
      frames: [text("BAsd7&jh23".repeat(26_215)), close(1000), ping("ping after close")],
      expect: [echoText("BAsd7&jh23".repeat(26_215)), { close: 1000 }],
      modes: ["whole", "frames", { chunk: 4096 }],
    },
    {
      id: "7.1.x",
      title: "close, then an invalid frame → close 1000 only (nothing after a close is parsed)",
      frames: [close(4000), { opcode: 0x5, rsv: 7, payload: "garbage" }, text(hex("ff"))],
      expect: [{ close: 4000 }],
    },
    {
      id: "7.1.x",
      title: "close, then garbage bytes that are no frame at all → close only",
      frames: [close(1000), hex("ff ff ff ff ff ff ff ff ff ff ff ff ff ff")],
      expect: [{ close: 1000 }],
    },
  ];
  itCases(server, cases, ["whole", "frames", "bytes"]);

  it("7.1.x data sent after the close frame but before the reply arrives is ignored", async () => {
    const client = await connect(server().port);
    await client.send([close(1000)]);
    await client.send([text("after close"), ping("after close")]);
    await client.expectClose(1000);
  });

  it("7.1.x the server closes TCP first, while the client keeps its side open", async () => {
    const client = await connect(server().port);
    await client.send([close(1000)]);
    await client.expectClose(1000);
    // The client never ended or destroyed its socket: the FIN came from the server.
    expect(client.socket.writableEnded).toBe(false);
    expect(client.ended).toBe(true);
  });

  it("7.1.x the server closes TCP first after failing the connection, too", async () => {
    const client = await connect(server().port);
    await client.send([close(1000, hex("ff"))]);
    await client.expectClose(1007);
    expect(client.socket.writableEnded).toBe(false);
  });
});

itStillServes(server);
