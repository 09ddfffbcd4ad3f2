/**
 * Autobahn section 9 (limits and performance): large text and binary messages up to the
 * server's maxPayload (16 MiB), whole, in fragments and trickled over many TCP writes;
 * many small messages pipelined; and RFC 6455 §10.4 / §7.4.1: a message over the limit
 * fails with 1009 as soon as its header says so, before its payload is buffered.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type Case, MAX_PAYLOAD, binary, connect, cont, echoBinary, echoText, failsWith, fragmentsOf, itCases, itStillServes, text, useEchoServer } from "./harness.js";
import { OP, buildFrame } from "../support/index.js";

const server = useEchoServer();

const KiB = 1024;
const MiB = 1024 * KiB;
const BIG_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;

/** Text of exactly `size` UTF-8 bytes, mixing 1- to 4-byte characters. */
function textOfSize(size: number): Buffer {
  const unit = Buffer.from("BAsd7&jh23-µ@ßöä-κόσμε-€-𝄞 ");
  const out = Buffer.alloc(size, 0x79); // 'y' pads the tail
  for (let at = 0; at + unit.length <= size; at += unit.length) unit.copy(out, at);
  return out;
}

const SIZES = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB];
const label = (size: number): string => (size >= MiB ? `${size / MiB} MiB` : size >= KiB ? `${size / KiB} KiB` : `${size} B`);

describe("9.1/9.2 large messages in one frame echo intact", () => {
  const cases: Case[] = SIZES.flatMap((size) => {
    const t = textOfSize(size);
    const b = randomBytes(size);
    return [
      { id: "9.1", title: `text of ${label(size)}`, frames: [text(t)], expect: [echoText(t)], timeoutMs: BIG_TIMEOUT_MS, testTimeoutMs: TEST_TIMEOUT_MS },
      { id: "9.2", title: `binary of ${label(size)}`, frames: [binary(b)], expect: [echoBinary(b)], timeoutMs: BIG_TIMEOUT_MS, testTimeoutMs: TEST_TIMEOUT_MS },
    ];
  });
  itCases(server, cases);
});

describe("9.3/9.4 large fragmented messages echo intact", () => {
  const message = textOfSize(MiB);
  const data = randomBytes(MiB);
  const cases: Case[] = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB].flatMap((size) => [
    { id: "9.3", title: `1 MiB text in fragments of ${label(size)}`, frames: fragmentsOf(OP.TEXT, message, size), expect: [echoText(message)], timeoutMs: BIG_TIMEOUT_MS },
    { id: "9.4", title: `1 MiB binary in fragments of ${label(size)}`, frames: fragmentsOf(OP.BINARY, data, size), expect: [echoBinary(data)], timeoutMs: BIG_TIMEOUT_MS },
  ]);
  // A message of exactly maxPayload bytes in 256 fragments: the limit counts the message.
  const full = textOfSize(MAX_PAYLOAD);
  cases.push({
    id: "9.3.x",
    title: "16 MiB text in 64 KiB fragments",
    frames: fragmentsOf(OP.TEXT, full, 64 * KiB),
    expect: [echoText(full)],
    timeoutMs: BIG_TIMEOUT_MS,
    testTimeoutMs: TEST_TIMEOUT_MS,
  });
  itCases(server, cases);
});

describe("9.5/9.6 a large message trickled in small TCP writes echoes intact", () => {
  const message = textOfSize(256 * KiB);
  const data = randomBytes(256 * KiB);
  const cases: Case[] = [
    { id: "9.5", title: "256 KiB text", frames: [text(message)], expect: [echoText(message)], timeoutMs: BIG_TIMEOUT_MS },
    { id: "9.6", title: "256 KiB binary", frames: [binary(data)], expect: [echoBinary(data)], timeoutMs: BIG_TIMEOUT_MS },
  ];
  itCases(server, cases, [{ chunk: 257 }, { chunk: 4096 }, { chunk: 65_536 }]);
});

describe("9.7/9.8 many small messages, pipelined, all echo in order", () => {
  const texts = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(4, "0")}:${"µ".repeat(29)}!`); // 64 bytes each
  const blobs = Array.from({ length: 200 }, () => randomBytes(4 * KiB));
  const sizes = Array.from({ length: 300 }, (_, i) => (i * 97) % 5000); // 0 .. 4999 bytes
  const mixed = sizes.map((size, i) => (i % 2 === 0 ? textOfSize(size) : randomBytes(size)));
  it("text messages are 64 bytes", () => expect(texts.every((t) => Buffer.byteLength(t) === 64)).toBe(true));
  const cases: Case[] = [
    { id: "9.7", title: "1,000 × 64 B text", frames: texts.map((t) => text(t)), expect: texts.map((t) => echoText(t)), timeoutMs: BIG_TIMEOUT_MS },
    { id: "9.8", title: "200 × 4 KiB binary", frames: blobs.map((b) => binary(b)), expect: blobs.map((b) => echoBinary(b)), timeoutMs: BIG_TIMEOUT_MS },
    {
      id: "9.x",
      title: "300 messages of 0 to 5,000 bytes, text and binary alternating",
      frames: mixed.map((m, i) => (i % 2 === 0 ? text(m) : binary(m))),
      expect: mixed.map((m, i) => (i % 2 === 0 ? echoText(m) : echoBinary(m))),
      timeoutMs: BIG_TIMEOUT_MS,
    },
  ];
  itCases(server, cases, ["whole", { chunk: 1400 }]);
});

describe("9.x messages over maxPayload fail with 1009", () => {
  const cases: Case[] = [
    {
      id: "9.x.1",
      title: "binary announcing maxPayload + 1 bytes → 1009 from the header alone",
      frames: [binary(Buffer.alloc(16), { length: MAX_PAYLOAD + 1 })],
      expect: [failsWith(1009)],
    },
    {
      id: "9.x.2",
      title: "text announcing maxPayload + 1 bytes → 1009 from the header alone",
      frames: [text("partial", { length: MAX_PAYLOAD + 1 })],
      expect: [failsWith(1009)],
    },
    {
      id: "9.x.3",
      title: "a valid message, then one over the limit → echo, then 1009",
      frames: [text("small first"), binary("", { length: MAX_PAYLOAD + 1 })],
      expect: [echoText("small first"), failsWith(1009)],
    },
  ];
  itCases(server, cases, ["whole", "bytes"]);

  it("9.x.4 fragments that add up to maxPayload + 1 → 1009 at the last fragment's header", async () => {
    const client = await connect(server().port);
    await client.send([binary(randomBytes(MAX_PAYLOAD), { fin: false })]);
    // Only the next frame's header (2 bytes + mask key): its payload is never sent.
    await client.sendRaw(buildFrame(cont(Buffer.alloc(1))).subarray(0, 6));
    await client.expectClose(1009, BIG_TIMEOUT_MS);
  }, TEST_TIMEOUT_MS);
});

itStillServes(server);
