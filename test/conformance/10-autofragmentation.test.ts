/**
 * Autobahn section 10 (auto-fragmentation): however a message is cut into frames (RFC
 * 6455 §5.4: "the fragmentation is transparent to the application"), it is the same
 * message: the echo is the whole message, byte for byte and with its opcode. The client
 * reassembles whatever fragmentation the server chooses for its reply.
 */
import { randomBytes } from "node:crypto";
import { describe } from "vitest";
import { type Case, echoBinary, echoText, fragmentsOf, itCases, itStillServes, useEchoServer } from "./harness.js";
import { OP } from "../support/index.js";

const server = useEchoServer();

const SIZE = 65_536 + 100;
/** Text cut at any byte falls inside multi-byte characters. */
const UNIT = "κόσμε-€-𝄞-µ-ascii ";
const TEXT = Buffer.from(UNIT.repeat(Math.ceil(SIZE / Buffer.byteLength(UNIT))));
const DATA = randomBytes(SIZE);

const cases: Case[] = [1, 7, 64, 65_536].flatMap((size) => [
  {
    id: "10.1",
    title: `${TEXT.length} B text in fragments of ${size} B → the same message`,
    frames: fragmentsOf(OP.TEXT, TEXT, size),
    expect: [echoText(TEXT)],
    timeoutMs: 20_000,
  },
  {
    id: "10.1",
    title: `${SIZE} B binary in fragments of ${size} B → the same message`,
    frames: fragmentsOf(OP.BINARY, DATA, size),
    expect: [echoBinary(DATA)],
    timeoutMs: 20_000,
  },
]);

describe("10 auto-fragmentation", () => {
  itCases(server, cases, ["whole", { chunk: 1300 }]);
});

itStillServes(server);
