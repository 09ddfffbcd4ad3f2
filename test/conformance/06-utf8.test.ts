/**
 * Autobahn section 6 (UTF-8 handling), RFC 6455 §5.6 and §8.1: the payload of a text
 * message must be valid UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF); otherwise the endpoint MUST _Fail the WebSocket Connection_ with 1007. The
 * sequences are those of Autobahn 6.x (after Markus Kuhn's UTF-8 stress test). Every
 * table entry's verdict is first checked against the WHATWG decoder (`TextDecoder` with
 * `fatal`), so a typo in the table cannot make a wrong test pass.
 */
import { describe, expect, it } from "vitest";
import { type Case, connect, echoText, failsWith, fragmentsAt, fragmentsOf, itCases, itStillServes, text, useEchoServer } from "./harness.js";
import { OP, buildFrame, hex, yieldToServer } from "../support/index.js";

const server = useEchoServer();

const decoder = new TextDecoder("utf-8", { fatal: true });
function isUtf8(bytes: Uint8Array): boolean {
  try {
    decoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** "κόσμε" and "edited": the valid parts Autobahn wraps its fail-fast sequences in. */
const KOSME = hex("ce ba e1 bd b9 cf 83 ce bc ce b5");
const EDITED = Buffer.from("edited");

type Entry = [family: string, title: string, bytes: string];

const VALID: Entry[] = [
  ["6.2", "Hello-µ@ßöäüàá-UTF-8!!", Buffer.from("Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!").toString("hex")],
  ["6.5", "κόσμε", KOSME.toString("hex")],
  ["6.7", "U+0000, first 1-byte", "00"],
  ["6.7", "U+0080, first 2-byte", "c2 80"],
  ["6.7", "U+0800, first 3-byte", "e0 a0 80"],
  ["6.7", "U+10000, first 4-byte", "f0 90 80 80"],
  ["6.9", "U+007F, last 1-byte", "7f"],
  ["6.9", "U+07FF, last 2-byte", "df bf"],
  ["6.9", "U+FFFF, last 3-byte", "ef bf bf"],
  ["6.9", "U+10FFFF, last 4-byte", "f4 8f bf bf"],
  ["6.11", "U+D7FF, before the surrogates", "ed 9f bf"],
  ["6.11", "U+E000, after the surrogates", "ee 80 80"],
  ["6.11", "U+FFFD, the replacement character", "ef bf bd"],
  ["6.22", "U+FFFE noncharacter", "ef bf be"],
  ["6.22", "U+1FFFE, U+1FFFF noncharacters", "f0 9f bf be f0 9f bf bf"],
  ["6.22", "U+10FFFE noncharacter", "f4 8f bf be"],
  ["6.22", "U+FDD0..U+FDD2 noncharacters", "ef b7 90 ef b7 91 ef b7 92"],
  ["6.23", "U+FFF9..U+FFFC specials", "ef bf b9 ef bf ba ef bf bb ef bf bc"],
  ["6.x", "every boundary code point in one message", "00 7f c2 80 df bf e0 a0 80 ed 9f bf ee 80 80 ef bf bd ef bf bf f0 90 80 80 f4 8f bf bf"],
];

const INVALID: Entry[] = [
  ["6.3", "κόσμε, a surrogate, edited", `${KOSME.toString("hex")} ed a0 80 ${EDITED.toString("hex")}`],
  ["6.4", "κόσμε, U+110000 (F4 90 80 80), edited", `${KOSME.toString("hex")} f4 90 80 80 ${EDITED.toString("hex")}`],
  ["6.8", "first 5-byte sequence", "f8 88 80 80 80"],
  ["6.8", "first 6-byte sequence", "fc 84 80 80 80 80"],
  ["6.10", "last 4-byte form (U+1FFFFF)", "f7 bf bf bf"],
  ["6.10", "last 5-byte sequence", "fb bf bf bf bf"],
  ["6.10", "last 6-byte sequence", "fd bf bf bf bf bf"],
  ["6.11", "U+110000, past U+10FFFF", "f4 90 80 80"],
  ["6.12", "lone continuation 0x80", "80"],
  ["6.12", "lone continuation 0xBF", "bf"],
  ["6.12", "2 continuation bytes", "80 bf"],
  ["6.12", "3 continuation bytes", "80 bf 80"],
  ["6.12", "7 continuation bytes", "80 bf 80 bf 80 bf 80"],
  ["6.12", "all 64 continuation bytes", Array.from({ length: 64 }, (_, i) => (0x80 + i).toString(16)).join("")],
  ["6.13", "lonely 2-byte lead bytes, each followed by a space", Array.from({ length: 32 }, (_, i) => `${(0xc0 + i).toString(16)}20`).join("")],
  ["6.13", "lonely 3-byte lead bytes, each followed by a space", Array.from({ length: 16 }, (_, i) => `${(0xe0 + i).toString(16)}20`).join("")],
  ["6.13", "lonely 4-byte lead bytes, each followed by a space", Array.from({ length: 8 }, (_, i) => `${(0xf0 + i).toString(16)}20`).join("")],
  ["6.13", "lonely 5- and 6-byte lead bytes", "f8 20 f9 20 fa 20 fb 20 fc 20 fd 20"],
  ["6.14", "C0 at the end (last byte missing)", "c0"],
  ["6.14", "E0 80 (last byte missing)", "e0 80"],
  ["6.14", "F0 80 80 (last byte missing)", "f0 80 80"],
  ["6.14", "DF at the end (truncated U+07FF)", "df"],
  ["6.14", "EF BF at the end (truncated U+FFFF)", "ef bf"],
  ["6.14", "F4 8F BF at the end (truncated U+10FFFF)", "f4 8f bf"],
  ["6.14", "κόσμε, then a truncated 2-byte sequence at the end", `${KOSME.toString("hex")} ce`],
  ["6.14", "κόσμε, then a truncated 3-byte sequence at the end", `${KOSME.toString("hex")} e1 bd`],
  ["6.15", "concatenation of truncated sequences", "c0 e0 80 f0 80 80 f8 80 80 80 fc 80 80 80 80 df ef bf f7 bf bf fb bf bf bf fd bf bf bf bf"],
  ["6.16", "0xFE", "fe"],
  ["6.16", "0xFF", "ff"],
  ["6.16", "FE FE FF FF", "fe fe ff ff"],
  ["6.17", "overlong '/' in 2 bytes", "c0 af"],
  ["6.17", "overlong '/' in 3 bytes", "e0 80 af"],
  ["6.17", "overlong '/' in 4 bytes", "f0 80 80 af"],
  ["6.17", "overlong '/' in 5 bytes", "f8 80 80 80 af"],
  ["6.17", "overlong '/' in 6 bytes", "fc 80 80 80 80 af"],
  ["6.18", "maximum overlong U+007F in 2 bytes", "c1 bf"],
  ["6.18", "maximum overlong U+07FF in 3 bytes", "e0 9f bf"],
  ["6.18", "maximum overlong U+FFFF in 4 bytes", "f0 8f bf bf"],
  ["6.18", "maximum overlong in 5 bytes", "f8 87 bf bf bf"],
  ["6.19", "overlong NUL in 2 bytes", "c0 80"],
  ["6.19", "overlong NUL in 3 bytes", "e0 80 80"],
  ["6.19", "overlong NUL in 4 bytes", "f0 80 80 80"],
  ["6.19", "overlong NUL in 6 bytes", "fc 80 80 80 80 80"],
  ["6.20", "surrogate U+D800 (ED A0 80)", "ed a0 80"],
  ["6.20", "surrogate U+DB7F", "ed ad bf"],
  ["6.20", "surrogate U+DB80", "ed ae 80"],
  ["6.20", "surrogate U+DBFF", "ed af bf"],
  ["6.20", "surrogate U+DC00", "ed b0 80"],
  ["6.20", "surrogate U+DF80", "ed be 80"],
  ["6.20", "surrogate U+DFFF (ED BF BF)", "ed bf bf"],
  ["6.21", "paired surrogates U+D800 U+DC00", "ed a0 80 ed b0 80"],
  ["6.21", "paired surrogates U+D800 U+DFFF", "ed a0 80 ed bf bf"],
  ["6.21", "paired surrogates U+DB7F U+DC00", "ed ad bf ed b0 80"],
  ["6.21", "paired surrogates U+DBFF U+DFFF", "ed af bf ed bf bf"],
  ["6.x", "valid ASCII, then 0xFF, 40 bytes in (native validator path)", `${"61".repeat(40)} ff ${"62".repeat(40)}`],
  ["6.x", "valid text, then a surrogate deep inside a 1000-byte payload", `${"63".repeat(997)} ed a0 80`],
];

describe("the tables agree with the WHATWG UTF-8 decoder", () => {
  it("every VALID entry decodes and every INVALID one does not", () => {
    expect(VALID.filter(([, , bytes]) => !isUtf8(hex(bytes))).map(([, title]) => title)).toEqual([]);
    expect(INVALID.filter(([, , bytes]) => isUtf8(hex(bytes))).map(([, title]) => title)).toEqual([]);
  });
});

describe("6 valid UTF-8 echoes exactly", () => {
  const cases: Case[] = VALID.flatMap(([family, title, bytes]) => [
    { id: family, title: `${title}: one frame`, frames: [text(hex(bytes))], expect: [echoText(hex(bytes))] },
    { id: family, title: `${title}: 1-byte fragments`, frames: fragmentsOf(OP.TEXT, hex(bytes), 1), expect: [echoText(hex(bytes))] },
  ]);
  itCases(server, cases, ["whole", "bytes"]);
  itCases(server, [{ id: "6.1.1", title: "empty text message", frames: [text("")], expect: [echoText("")] }]);
});

describe("6 invalid UTF-8 fails with 1007", () => {
  const cases: Case[] = INVALID.flatMap(([family, title, bytes]) => [
    { id: family, title: `${title}: one frame`, frames: [text(hex(bytes))], expect: [failsWith(1007)] },
    { id: family, title: `${title}: 1-byte fragments`, frames: fragmentsOf(OP.TEXT, hex(bytes), 1), expect: [failsWith(1007)] },
    {
      id: family,
      title: `${title}: after a valid message`,
      frames: [text("valid"), text(hex(bytes)), text("never echoed")],
      expect: [echoText("valid"), failsWith(1007)],
    },
  ]);
  itCases(server, cases, ["whole", "bytes"]);
});

describe("6.6 every prefix of κόσμε: valid where it ends on a character boundary", () => {
  const cases: Case[] = [];
  for (let length = 1; length <= KOSME.length; length++) {
    const prefix = KOSME.subarray(0, length);
    const valid = isUtf8(prefix);
    cases.push({
      id: "6.6",
      title: `first ${length} bytes (${valid ? "valid → echo" : "truncated → 1007"})`,
      frames: [text(prefix)],
      expect: [valid ? echoText(prefix) : failsWith(1007)],
    });
  }
  itCases(server, cases);
});

describe("6.4 fail fast: 1007 arrives before the rest of the message is even sent", () => {
  // Autobahn 6.4.1/6.4.2: fragments; 6.4.3/6.4.4: one frame, its payload in 3 TCP writes.
  // Part 1 is valid; part 2 makes the text invalid; part 3 (valid) is written only after
  // the close 1007 has been received, so a server that validates only whole frames or
  // whole messages fails the case.
  const SPLITS = [
    { id: "6.4.1/6.4.3", part1: KOSME, part2: hex("f4 90 80 80"), part3: EDITED },
    { id: "6.4.2/6.4.4", part1: Buffer.concat([KOSME, hex("f4")]), part2: hex("90"), part3: Buffer.concat([hex("80 80"), EDITED]) },
    { id: "6.4.x", part1: Buffer.from("valid so far, "), part2: hex("ed a0 80"), part3: Buffer.from(" valid again") },
  ];

  for (const { id, part1, part2, part3 } of SPLITS) {
    it(`${id} fragmented: the 1007 comes before fragment 3 is sent`, async () => {
      const client = await connect(server().port);
      await client.send([text(part1, { fin: false })]);
      await client.send([{ opcode: OP.CONT, fin: false, payload: part2 }]);
      await client.expectClose(1007);
      await client.send([{ opcode: OP.CONT, payload: part3 }]); // too late: ignored or refused
    });

    it(`${id} one frame in 3 writes: the 1007 comes before part 3 is written`, async () => {
      const whole = Buffer.concat([part1, part2, part3]);
      const frame = buildFrame(text(whole));
      const headerSize = frame.length - whole.length;
      const cut1 = headerSize + part1.length;
      const cut2 = cut1 + part2.length;
      const client = await connect(server().port);
      await client.sendRaw(frame.subarray(0, cut1));
      await yieldToServer(); // the server reads part 1 on its own
      await client.sendRaw(frame.subarray(cut1, cut2));
      await client.expectClose(1007);
      await client.sendRaw(frame.subarray(cut2));
    });
  }
});

describe("6.2 a valid message split into 2 fragments at every byte offset echoes exactly", () => {
  const MESSAGES = [
    Buffer.from("Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"),
    KOSME,
    Buffer.from("a𝄞b€c\u0080\u07ff\uffff\u{10ffff}"),
  ];
  for (const bytes of MESSAGES) {
    it(`${JSON.stringify(bytes.toString())}: ${bytes.length - 1} splits on one connection`, async () => {
      const client = await connect(server().port);
      const frames = [];
      for (let cut = 1; cut < bytes.length; cut++) frames.push(...fragmentsAt(OP.TEXT, bytes, [cut]));
      await client.send(frames, "frames");
      for (let cut = 1; cut < bytes.length; cut++) await client.expectText(bytes);
      await client.closeHandshake();
    });
  }
});

itStillServes(server);
