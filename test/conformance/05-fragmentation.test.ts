/**
 * Autobahn section 5 (fragmentation), RFC 6455 §5.4: a message may be split into a first
 * frame with FIN=0, continuations, and a last continuation with FIN=1; control frames may
 * come in between and are answered at once; control frames themselves are never
 * fragmented; a continuation needs a message to continue, and a new data frame may not
 * start while one is open. Every case runs in one write, frame by frame with short pauses,
 * and one byte per write.
 */
import { describe, it } from "vitest";
import { type Case, binary, close, connect, cont, echoBinary, echoText, expectPong, failsWith, fragmentsAt, fragmentsOf, itCases, itStillServes, ping, pong, text, useEchoServer } from "./harness.js";
import { OP } from "../support/index.js";

const server = useEchoServer();

const BYTES = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 7) & 0xff));
const MIXED = "fragmented κόσμε 𝄞 text";

const valid: Case[] = [
  { id: "5.3", title: "text in 2 fragments", frames: [text("fragment1", { fin: false }), cont("fragment2")], expect: [echoText("fragment1fragment2")] },
  { id: "5.x.1", title: "binary in 2 fragments", frames: fragmentsAt(OP.BINARY, BYTES, [40]), expect: [echoBinary(BYTES)] },
  { id: "5.x.2", title: "text in 5 fragments", frames: fragmentsAt(OP.TEXT, MIXED, [3, 9, 12, 20]), expect: [echoText(MIXED)] },
  { id: "5.x.3", title: "binary in 10-byte fragments", frames: fragmentsOf(OP.BINARY, BYTES, 10), expect: [echoBinary(BYTES)] },
  { id: "5.x.4", title: "text in 1-byte fragments (cuts inside characters)", frames: fragmentsOf(OP.TEXT, MIXED, 1), expect: [echoText(MIXED)] },
  { id: "5.x.5", title: "binary in 1-byte fragments", frames: fragmentsOf(OP.BINARY, BYTES.subarray(0, 30), 1), expect: [echoBinary(BYTES.subarray(0, 30))] },
  {
    id: "6.1.2",
    title: "text of empty fragments only",
    frames: [text("", { fin: false }), cont("", { fin: false }), cont("")],
    expect: [echoText("")],
  },
  {
    id: "6.1.3",
    title: "text with empty fragments around non-empty ones",
    frames: [text("", { fin: false }), cont("middle", { fin: false }), cont("", { fin: false }), cont("end", { fin: false }), cont("")],
    expect: [echoText("middleend")],
  },
  {
    id: "5.x.6",
    title: "binary with an empty first fragment",
    frames: [binary("", { fin: false }), cont(BYTES)],
    expect: [echoBinary(BYTES)],
  },
  {
    id: "5.6",
    title: "text in 2 fragments with a ping between → pong, then the echo",
    frames: [text("fragment1", { fin: false }), ping("ping payload"), cont("fragment2")],
    expect: [expectPong("ping payload"), echoText("fragment1fragment2")],
  },
  {
    id: "5.19",
    title: "text in 5 fragments with pings between → 2 pongs, then the echo",
    frames: [
      text("fragment1", { fin: false }),
      cont("fragment2", { fin: false }),
      ping("pongme 1!"),
      cont("fragment3", { fin: false }),
      ping("pongme 2!"),
      cont("fragment4", { fin: false }),
      cont("fragment5"),
    ],
    expect: [expectPong("pongme 1!"), expectPong("pongme 2!"), echoText("fragment1fragment2fragment3fragment4fragment5")],
  },
  {
    id: "5.x.7",
    title: "binary in 3 fragments with an unsolicited pong between → only the echo",
    frames: [binary("one", { fin: false }), pong("unsolicited"), cont("two", { fin: false }), cont("three")],
    expect: [echoBinary("onetwothree")],
  },
  {
    id: "5.x.8",
    title: "two fragmented messages back to back",
    frames: [...fragmentsAt(OP.TEXT, "first message", [5]), ...fragmentsAt(OP.BINARY, BYTES, [1, 50])],
    expect: [echoText("first message"), echoBinary(BYTES)],
  },
];

const invalid: Case[] = [
  { id: "5.1", title: "ping in 2 fragments → 1002", frames: [ping("fragment1", { fin: false }), cont("fragment2")], expect: [failsWith(1002)] },
  { id: "5.2", title: "pong in 2 fragments → 1002", frames: [pong("fragment1", { fin: false }), cont("fragment2")], expect: [failsWith(1002)] },
  { id: "5.x.9", title: "close in 2 fragments → 1002", frames: [{ ...close(1000), fin: false }, cont("x")], expect: [failsWith(1002)] },
  { id: "5.9", title: "continuation (FIN=1) with nothing to continue, first frame → 1002", frames: [cont("non-continuation payload"), text("Hello, world!")], expect: [failsWith(1002)] },
  { id: "5.12", title: "continuation (FIN=0) with nothing to continue, first frame → 1002", frames: [cont("non-continuation payload", { fin: false }), text("Hello, world!")], expect: [failsWith(1002)] },
  {
    id: "5.x.10",
    title: "continuation after a complete message → echo, then 1002",
    frames: [text("complete"), cont("orphan")],
    expect: [echoText("complete"), failsWith(1002)],
  },
  {
    id: "5.x.11",
    title: "continuation after a complete fragmented message → echo, then 1002",
    frames: [text("frag", { fin: false }), cont("ment"), cont("orphan", { fin: false })],
    expect: [echoText("fragment"), failsWith(1002)],
  },
  {
    id: "5.15",
    title: "fragmented text, then a continuation (FIN=0) and a text frame → echo, then 1002",
    frames: [text("fragment1", { fin: false }), cont("fragment2"), cont("fragment3", { fin: false }), text("fragment4")],
    expect: [echoText("fragment1fragment2"), failsWith(1002)],
  },
  {
    id: "5.16",
    title: "continuation (FIN=0), text (FIN=0), continuation (FIN=1), twice → 1002",
    frames: [cont("fragment1", { fin: false }), text("fragment2", { fin: false }), cont("fragment3"), cont("fragment1", { fin: false }), text("fragment2", { fin: false }), cont("fragment3")],
    expect: [failsWith(1002)],
  },
  {
    id: "5.17",
    title: "continuation (FIN=1), text (FIN=0), continuation (FIN=1), twice → 1002",
    frames: [cont("fragment1"), text("fragment2", { fin: false }), cont("fragment3"), cont("fragment1"), text("fragment2", { fin: false }), cont("fragment3")],
    expect: [failsWith(1002)],
  },
  { id: "5.18", title: "text (FIN=0), then a text frame instead of a continuation → 1002", frames: [text("fragment1", { fin: false }), text("fragment2")], expect: [failsWith(1002)] },
  { id: "5.x.12", title: "text (FIN=0), then a binary frame → 1002", frames: [text("fragment1", { fin: false }), binary("fragment2")], expect: [failsWith(1002)] },
  { id: "5.x.13", title: "binary (FIN=0), then a text frame (FIN=0) → 1002", frames: [binary("fragment1", { fin: false }), text("fragment2", { fin: false })], expect: [failsWith(1002)] },
  {
    id: "5.x.14",
    title: "ping with FIN=0 between fragments → 1002, no pong, no echo",
    frames: [text("fragment1", { fin: false }), ping("fragmented ping", { fin: false }), cont("fragment2")],
    expect: [failsWith(1002)],
  },
];

describe("5 fragmentation", () => {
  describe("valid", () => itCases(server, valid, ["whole", "frames", "bytes"]));
  describe("invalid", () => itCases(server, invalid, ["whole", "frames", "bytes"]));

  it("5.x.15 pongs come at once, each before the next fragment is even sent", async () => {
    const client = await connect(server().port);
    await client.send([text("a", { fin: false }), ping("1")]);
    await client.expectPong("1");
    await client.send([cont("b", { fin: false }), ping("2")]);
    await client.expectPong("2");
    await client.send([cont("", { fin: false }), ping()]);
    await client.expectPong();
    await client.send([cont("c")]);
    await client.expectText("abc");
    await client.closeHandshake();
  });
});

itStillServes(server);
