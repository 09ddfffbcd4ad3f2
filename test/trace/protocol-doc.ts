/**
 * Generates docs/protocol.md from one real session: a raw client sends the bytes of
 * RFC 6455 §5.7's examples (a fixed key and masking key, so the transcript is the same on
 * every run) through the relay to wsraw's echo server, and the relay's text output for
 * each step goes into the document. `protocol-doc.test.ts` checks the committed document
 * against it (and rewrites it with UPDATE_PROTOCOL_DOC=1).
 */
import { connect } from "node:net";
import { echoRoute } from "../../src/apps/echo.js";
import { createServer } from "../../src/server/index.js";
import type { TraceEvent } from "../../src/trace/events.js";
import { Relay } from "../../src/trace/relay.js";
import { renderText } from "../../src/trace/render-text.js";
import { within } from "../support/index.js";
import { until } from "./helpers.js";

/** A function the document links to: its file (from the repository root) and its name. */
export interface Link {
  file: string;
  name: string;
}

interface Step {
  title: string;
  text: string;
  links: Link[];
  /** The bytes the client sends. */
  send: Buffer;
  /** How many events the step waits for. */
  events: (events: TraceEvent[]) => boolean;
}

const KEY = "dGhlIHNhbXBsZSBub25jZQ=="; // RFC 6455 §1.3's sample key
const MASK = [0x37, 0xfa, 0x21, 0x3d]; // RFC 6455 §5.7's masking key

function masked(first: number, payload: Buffer): Buffer {
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= MASK[i % 4]!;
  return Buffer.concat([Buffer.from([first, 0x80 | payload.length, ...MASK]), body]);
}

const fromServer = (type: string) => (events: TraceEvent[]) =>
  events.some((e) => e.type === "frame" && e.direction === "server" && e.opcodeName === type);

const STEPS: Step[] = [
  {
    title: "The opening handshake",
    text:
      "The client asks, in plain HTTP/1.1, to switch the connection to WebSocket. The server reads the head with " +
      "an incremental parser, checks every rule of RFC 6455 §4.2.1, and answers 101 with `Sec-WebSocket-Accept`: " +
      "the client's key and the protocol's GUID, hashed with SHA-1, in base64. The relay redoes that computation " +
      "step by step and compares. (The key here is the sample key of RFC 6455 §1.3, so the result is the RFC's.)",
    links: [
      { file: "src/http/request-head.ts", name: "RequestHeadParser" },
      { file: "src/http/handshake.ts", name: "validateUpgradeRequest" },
      { file: "src/http/accept-key.ts", name: "acceptKey" },
      { file: "src/http/response.ts", name: "buildUpgradeResponse" },
    ],
    send: Buffer.from(
      `GET /echo HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      "latin1",
    ),
    events: (events) => events.some((e) => e.type === "response"),
  },
  {
    title: "A masked text frame, and its unmasked echo",
    text:
      "Every frame a client sends is masked (RFC 6455 §5.3): the payload is XORed with a 4-byte key carried in the " +
      "header, so that a proxy cannot be fooled into caching attacker-chosen bytes (§10.3). This is §5.7's " +
      '"Hello" with its key 37 fa 21 3d. The server reads the header field by field and unmasks the payload in ' +
      "place; its answer is not masked, since servers never mask.",
    links: [
      { file: "src/frame/parser.ts", name: "readHeader" },
      { file: "src/frame/parser.ts", name: "checkFirstBytes" },
      { file: "src/frame/mask.ts", name: "maskWithKeyWord" },
      { file: "src/frame/encoder.ts", name: "encodeTextFrame" },
    ],
    send: masked(0x81, Buffer.from("Hello")),
    events: fromServer("text"),
  },
  {
    title: "A fragmented message",
    text:
      "A message may be sent in fragments (RFC 6455 §5.4): a first frame with its opcode and FIN 0, then " +
      "continuation frames, the last with FIN 1. The parser joins them, checking the text as UTF-8 as it arrives " +
      "(a character may be split between fragments); the echo server answers with the whole message in one frame.",
    links: [
      { file: "src/frame/parser.ts", name: "frameComplete" },
      { file: "src/frame/utf8.ts", name: "Utf8Validator" },
    ],
    send: Buffer.concat([masked(0x01, Buffer.from("Hel")), masked(0x80, Buffer.from("lo"))]),
    events: (events) => events.filter((e) => e.type === "frame" && e.direction === "server" && e.opcodeName === "text").length === 2,
  },
  {
    title: "A ping and its pong",
    text:
      "Control frames (RFC 6455 §5.5) may come between the fragments of a message, carry at most 125 bytes, and are " +
      "never fragmented. A ping must be answered by a pong with the same payload (§5.5.2, §5.5.3).",
    links: [
      { file: "src/frame/parser.ts", name: "onPing" },
      { file: "src/frame/encoder.ts", name: "encodePong" },
    ],
    send: masked(0x89, Buffer.from("Hello")),
    events: fromServer("pong"),
  },
  {
    title: "The closing handshake",
    text:
      "Either side sends a close frame with a status code (RFC 6455 §7.4.1) and an optional UTF-8 reason; the other " +
      "answers with its own close frame, and then the server closes the TCP connection (§7.1.1).",
    links: [
      { file: "src/frame/parser.ts", name: "closeFrame" },
      { file: "src/frame/close-code.ts", name: "isValidCloseCode" },
      { file: "src/frame/encoder.ts", name: "encodeClose" },
    ],
    send: masked(0x88, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from("bye")])),
    events: fromServer("close"),
  },
];

/** Every function the document links to. */
export const LINKS: Link[] = STEPS.flatMap((step) => step.links);

/** Runs the session and returns the document. */
export async function generateProtocolDoc(): Promise<string> {
  const server = createServer();
  server.route("/echo", echoRoute());
  const { port } = await server.listen(0, "127.0.0.1");
  const events: TraceEvent[] = [];
  const relay = await Relay.start({ port: 0, target: { host: "127.0.0.1", port }, onEvent: (e) => events.push(e) });
  const socket = connect({ host: "127.0.0.1", port: relay.port });
  socket.on("error", () => {});
  const sections: string[] = [];
  try {
    await within(new Promise((resolve) => socket.once("connect", resolve)), 10_000, "the connection to the relay");
    let seen = 0;
    for (const step of STEPS) {
      socket.write(step.send);
      await until(() => step.events(events), `the events of "${step.title}"`);
      const mine = events.slice(seen).filter((e) => e.type !== "connection" && e.type !== "transport");
      seen = events.length;
      const transcript = mine.map((e) => renderText(e)).join("");
      const links = step.links.map((l) => `[\`${l.name}\`](../${l.file})`).join(", ");
      sections.push(`## ${step.title}\n\n${step.text}\n\nIn wsraw: ${links}.\n\n\`\`\`text\n${transcript}\`\`\`\n`);
    }
  } finally {
    socket.destroy();
    await relay.close();
    await server.close();
  }
  return `${HEADER}\n${sections.join("\n")}`;
}

const HEADER = `# The protocol, byte by byte

<!-- Generated by test/trace/protocol-doc.ts from a real session; do not edit by hand.
     Regenerate: UPDATE_PROTOCOL_DOC=1 npx vitest run test/trace/protocol-doc.test.ts -->

One real WebSocket session, as \`wsraw trace\` prints it. A client sent the example bytes of
RFC 6455 (§1.3's key, §5.7's frames) through the relay to \`wsraw echo\`; every block below
is the relay's output for one step, unedited. Lines start with the connection's number;
\`client → server\` and \`server → client\` say which way the bytes went. Each frame field
is printed with the section of RFC 6455 that defines it, and a rule broken would be
pointed out as \`! violation\` (there is none here).

Run it yourself: \`wsraw echo --port 9000\`, then \`wsraw trace --listen 8080 --target
ws://127.0.0.1:9000/echo\`, then \`wsraw connect ws://127.0.0.1:8080/echo\` and type.
`;
