/**
 * Autobahn section 1 (framing): text and binary messages of every length-encoding
 * boundary (RFC 6455 §5.2: 7-bit up to 125, 16-bit up to 65535, 64-bit above), sent in one
 * write and trickled over many writes, must come back byte for byte. Plus the framing rules
 * Autobahn leaves out: an unmasked client frame (§5.1) and the length fields' own rules.
 */
import { randomBytes } from "node:crypto";
import { describe } from "vitest";
import {
  type Case,
  type WriteMode,
  binary,
  echoBinary,
  echoText,
  failsWith,
  itCases,
  itStillServes,
  text,
  useEchoServer,
} from "./harness.js";

const server = useEchoServer();

const SIZES = [0, 125, 126, 127, 128, 65535, 65536, 65536 + 1, 256 * 1024];

/** Deterministic text of exactly `size` UTF-8 bytes with 1-, 2-, 3- and 4-byte characters. */
function textOfSize(size: number): string {
  const unit = "Hello-µ@ßöäüàá-κόσμε-€-𝄞!";
  let out = unit.repeat(Math.floor(size / Buffer.byteLength(unit)));
  while (Buffer.byteLength(out) < size) out += "y";
  return out;
}

/**
 * How to trickle a message of `size` bytes: one byte per write while that stays quick,
 * otherwise writes of a few bytes (large enough to finish in well under a second).
 */
function trickle(size: number): WriteMode {
  if (size <= 256) return "bytes";
  if (size <= 65536 + 1) return { chunk: 61 };
  return { chunk: 997 };
}

describe("1.1 text messages", () => {
  for (const size of SIZES) {
    const payload = textOfSize(size);
    const c: Case = { id: "1.1", title: `text of ${size} bytes echoes exactly`, frames: [text(payload)], expect: [echoText(payload)] };
    itCases(server, [c], ["whole", trickle(size)]);
  }
});

describe("1.2 binary messages", () => {
  for (const size of SIZES) {
    const payload = randomBytes(size);
    const c: Case = { id: "1.2", title: `binary of ${size} bytes echoes exactly`, frames: [binary(payload)], expect: [echoBinary(payload)] };
    itCases(server, [c], ["whole", trickle(size)]);
  }
});

describe("1.x framing rules outside Autobahn", () => {
  const cases: Case[] = [
    {
      id: "1.x.1",
      title: "an unmasked client frame fails with 1002 (§5.1)",
      frames: [text("Hello", { mask: null })],
      expect: [failsWith(1002)],
    },
    {
      id: "1.x.2",
      title: "a valid message, then an unmasked one: echo, then 1002",
      frames: [text("Hello"), binary("world", { mask: null })],
      expect: [echoText("Hello"), failsWith(1002)],
    },
    {
      id: "1.x.3",
      title: "a mask key of zeros is a valid mask",
      frames: [text("Hello", { mask: Buffer.alloc(4) })],
      expect: [echoText("Hello")],
    },
    {
      id: "1.x.4",
      title: "a 64-bit length with its most significant bit set fails with 1002 (§5.2)",
      frames: [binary("", { length: 1n << 63n, lengthEncoding: "64" })],
      expect: [failsWith(1002)],
    },
    {
      id: "1.x.5",
      title: "a 64-bit length past 2^53 fails with 1009 before any payload",
      frames: [binary("", { length: 1n << 60n, lengthEncoding: "64" })],
      expect: [failsWith(1009)],
    },
    {
      id: "1.x.6",
      title: "several frames in one write all echo, in order",
      frames: [text("one"), binary("two"), text(""), binary(""), text("five")],
      expect: [echoText("one"), echoBinary("two"), echoText(""), echoBinary(""), echoText("five")],
    },
    {
      // RFC 6455 §5.2 puts "the minimal number of bytes MUST be used" on the sender and
      // names no reaction for the receiver; the server (like `ws`) reads the value.
      id: "1.x.7",
      title: "a non-minimal length encoding from the client is read by its value",
      frames: [text("Hello", { lengthEncoding: "16" }), binary("world", { lengthEncoding: "64" })],
      expect: [echoText("Hello"), echoBinary("world")],
    },
  ];
  itCases(server, cases, ["whole", "bytes"]);
});

itStillServes(server);
