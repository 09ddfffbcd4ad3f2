/**
 * permessage-deflate (RFC 7692) against independent implementations, over real sockets:
 * the `ws` client under many parameter combinations, Python's `websockets` (Debian's
 * python3-websockets, which offers deflate by default), and Node's built-in WebSocket.
 *
 * Every connection goes through a `WireTap` (fixtures/wire.ts), a proxy that reads the
 * frames both ways, so each test also checks that compression was really used (RSV1, the
 * compressed size), and `ws`'s own PerMessageDeflate class decodes what wsraw put on the
 * wire, as a second inflater: with the window the server agreed to, and, where the server
 * agreed to no context takeover, each message alone on a fresh inflater.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import WsClient from "ws";
import type { Message, PerMessageDeflateOptions, ServerOptions, UpgradedRequest, WebSocket } from "../../src/server/index.js";
import { Tap, WsPeer, runNode, runProgram, useResources, within, KiB, MiB, sha256 } from "../support/index.js";
import { type AgreedParams, type WireMessage, WireTap, compressibleBytes, compressibleText, deflateParams, farBytes, inflateWithWs, multibyteText, randomText } from "./fixtures/wire.js";
import { randomBytes } from "node:crypto";

const resources = useResources();
const PYTHON = "/usr/bin/python3";
const PYTHON_CLIENT = fileURLToPath(new URL("./fixtures/python-websockets-deflate-client.py", import.meta.url));
const NODE_CLIENT = fileURLToPath(new URL("./fixtures/node-websocket-deflate-client.mjs", import.meta.url));
/** wsraw's default: shorter messages go out uncompressed. */
const THRESHOLD = 1024;

/** Why the Python client cannot run here, or undefined when it can. Under CI=true it always runs. */
const pythonSkip =
  process.env.CI === "true" || spawnSync(PYTHON, ["-c", "import websockets"]).status === 0
    ? undefined
    : "install Debian's python3-websockets to run it";
if (pythonSkip !== undefined) console.warn(`skipping the Python websockets deflate interop tests: ${pythonSkip}`);

// ---------------------------------------------------------------------------------------
// A wsraw echo server behind a wire tap
// ---------------------------------------------------------------------------------------

/** A message, summed up so a failure prints something readable instead of 1 MiB. */
interface Summary {
  type: "text" | "binary";
  length: number;
  sha256: string;
}

function summary(message: Message | string | Buffer | Uint8Array): Summary {
  return typeof message === "string"
    ? { type: "text", length: Buffer.byteLength(message), sha256: sha256(message) }
    : { type: "binary", length: message.byteLength, sha256: sha256(message) };
}

function bytesOf(message: string | Uint8Array): Buffer {
  return typeof message === "string" ? Buffer.from(message, "utf8") : Buffer.from(message);
}

interface Served {
  tap: Tap;
  wire: WireTap;
  /** What the server received, in order, on every connection. */
  received: Summary[];
  /** Through the wire tap. */
  url: string;
}

/** An echo server with `perMessageDeflate` (server-wide, or on the route only), behind a wire tap. */
async function deflateEcho(
  perMessageDeflate: true | PerMessageDeflateOptions | undefined,
  where: "server" | "route" = "server",
): Promise<Served> {
  const received: Summary[] = [];
  const tap = new Tap(async (req: UpgradedRequest) => {
    const ws = req.websocket;
    for await (const message of ws) {
      received.push(summary(message));
      if (!ws.send(message)) await ws.drained();
    }
  });
  const options: ServerOptions = where === "server" && perMessageDeflate !== undefined ? { perMessageDeflate } : {};
  const route = where === "route" ? tap.route({ perMessageDeflate }) : tap.route();
  const { port } = await resources.server({ "/echo": route }, options);
  const wire = await WireTap.start(port);
  resources.defer(() => wire.close());
  return { tap, wire, received, url: wire.url("/echo") };
}

// ---------------------------------------------------------------------------------------
// The ws client
// ---------------------------------------------------------------------------------------

/** ws's client options; ws also takes `clientMaxWindowBits: false` (offer no client_max_window_bits), which its types omit. */
type WsDeflateOptions = Omit<WsClient.PerMessageDeflateOptions, "clientMaxWindowBits"> & { clientMaxWindowBits?: number | false };

interface WsConnection {
  peer: WsPeer;
  /** The Sec-WebSocket-Extensions of the 101, as the client got it ("" when absent). */
  header: string;
  /** The WHATWG close event's wasClean, once closed. */
  wasClean: Promise<boolean>;
}

async function openWs(url: string, perMessageDeflate: boolean | WsDeflateOptions): Promise<WsConnection> {
  const ws = new WsClient(url, { perMessageDeflate: perMessageDeflate as boolean | WsClient.PerMessageDeflateOptions, maxPayload: 64 * MiB });
  let header = "";
  ws.once("upgrade", (response) => (header = String(response.headers["sec-websocket-extensions"] ?? "")));
  const wasClean = new Promise<boolean>((resolve) => ws.addEventListener("close", (event) => resolve(event.wasClean)));
  const peer = new WsPeer(ws);
  resources.defer(() => ws.terminate());
  await within(
    new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    }),
    10_000,
    `the ws client to open ${url}`,
  );
  return { peer, header, wasClean };
}

/** The parameters the ws client accepted (its PerMessageDeflate's `params`, a private field). */
function wsAgreed(ws: WsClient): AgreedParams | undefined {
  const extension = (ws as unknown as { _extensions: Record<string, { params: Record<string, true | number> }> })._extensions["permessage-deflate"];
  if (extension === undefined) return undefined;
  const { params } = extension;
  return {
    serverNoContextTakeover: params.server_no_context_takeover === true,
    clientNoContextTakeover: params.client_no_context_takeover === true,
    serverMaxWindowBits: typeof params.server_max_window_bits === "number" ? params.server_max_window_bits : 15,
    clientMaxWindowBits: typeof params.client_max_window_bits === "number" ? params.client_max_window_bits : 15,
  };
}

// ---------------------------------------------------------------------------------------
// The messages
// ---------------------------------------------------------------------------------------

interface Case {
  label: string;
  data: string | Buffer;
  /** Compresses well: wsraw must send it compressed when it is at least THRESHOLD long. */
  compressible: boolean;
}

const LENGTHS = [0, 125, 126, 65535, 65536, MiB];
const RANDOM_BINARY = randomBytes(MiB);
const RANDOM_TEXT = randomText(128 * KiB);
const FAR = farBytes(256 * KiB);

/** The single messages every configuration echoes, in this order. */
const MESSAGES: Case[] = [
  ...LENGTHS.map((n) => ({ label: `text ${n}`, data: compressibleText(n), compressible: true })),
  ...LENGTHS.map((n) => ({ label: `binary ${n}`, data: compressibleBytes(n), compressible: true })),
  { label: "multibyte text short", data: "é 🎉 日本", compressible: false },
  { label: "multibyte text 64 KiB", data: multibyteText(64 * KiB), compressible: true },
  { label: "random binary 1 MiB", data: RANDOM_BINARY, compressible: false },
  { label: "random text", data: RANDOM_TEXT, compressible: false },
  // How well it compresses depends on the window: checked by the differential tests.
  { label: "far binary 256 KiB", data: FAR, compressible: false },
];

/** 200 JSON messages, some above the threshold, some below. */
const SEQUENCE: string[] = Array.from({ length: 200 }, (_, seq) =>
  JSON.stringify({ seq, pad: "x".repeat((seq * 37) % 3000), note: seq % 7 === 0 ? "日本 🎉" : "" }),
);

/** 4 KiB of random bytes, sent twice: the second costs little only with context takeover. */
const REPEATED = randomBytes(4 * KiB);

/**
 * Sends every message of `cases` (pipelined: all sent, then all echoes read) and checks each
 * echo, and what the server received, byte for byte.
 */
async function echoAll(conn: WsConnection, served: Served, payloads: ReadonlyArray<string | Buffer>): Promise<void> {
  const start = served.received.length;
  for (const data of payloads) conn.peer.ws.send(data);
  const echoes: Summary[] = [];
  for (let i = 0; i < payloads.length; i++) echoes.push(summary(await conn.peer.next(5000)));
  const expected = payloads.map(summary);
  expect(served.received.slice(start), "what the server received").toEqual(expected);
  expect(echoes, "the echoes").toEqual(expected);
}

/** Data messages of one direction, with control frames and their RSV bits checked. */
function dataMessages(messages: WireMessage[], frames: { rsv1: boolean; rsv2: boolean; rsv3: boolean; opcode: number }[]): WireMessage[] {
  for (const frame of frames) {
    expect(frame.rsv2 || frame.rsv3, "RSV2/RSV3 are never set").toBe(false);
    // RFC 7692 §6.1: RSV1 only on the first frame of a data message.
    if (frame.opcode === 0 || frame.opcode >= 8) expect(frame.rsv1, `RSV1 on a frame with opcode ${frame.opcode}`).toBe(false);
  }
  return messages;
}

interface WsCase {
  name: string;
  server: true | PerMessageDeflateOptions;
  where?: "server" | "route";
  client: true | WsDeflateOptions;
  /** The parameters the response must agree on. */
  agreed: AgreedParams;
  /** Parameters the response header must not name. */
  absent?: string[];
}

const NO_TAKEOVER: AgreedParams = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const TAKEOVER: AgreedParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const BOTH_WAYS = { serverNoContextTakeover: false, clientNoContextTakeover: false };

const WS_CASES: WsCase[] = [
  { name: "defaults", server: true, client: true, agreed: NO_TAKEOVER },
  {
    name: "defaults, on the route only",
    server: true,
    where: "route",
    client: true,
    agreed: NO_TAKEOVER,
  },
  {
    name: "the client asks for no context takeover both ways and compresses everything",
    server: true,
    client: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    agreed: NO_TAKEOVER,
  },
  { name: "context takeover both ways", server: BOTH_WAYS, client: { threshold: 0 }, agreed: TAKEOVER },
  {
    name: "context takeover configured, the client asks for server_no_context_takeover",
    server: BOTH_WAYS,
    client: { serverNoContextTakeover: true },
    agreed: { ...TAKEOVER, serverNoContextTakeover: true },
  },
  {
    name: "context takeover configured, the client offers client_no_context_takeover",
    server: BOTH_WAYS,
    client: { clientNoContextTakeover: true },
    agreed: { ...TAKEOVER, clientNoContextTakeover: true },
  },
  {
    name: "small windows set by the server (serverMaxWindowBits 10, clientMaxWindowBits 10), context takeover",
    server: { ...BOTH_WAYS, serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    client: { threshold: 0 },
    // Unasked, the server's own window limit needs no agreement (RFC 7692 §7.1.2.1).
    agreed: { ...TAKEOVER, clientMaxWindowBits: 10 },
  },
  {
    name: "small windows asked by the client (server_max_window_bits=10, client_max_window_bits=10), context takeover",
    server: BOTH_WAYS,
    client: { serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    agreed: { ...TAKEOVER, serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
  },
  {
    name: "an offer without client_max_window_bits, server clientMaxWindowBits 10",
    server: { clientMaxWindowBits: 10 },
    client: { clientMaxWindowBits: false },
    agreed: NO_TAKEOVER,
    // RFC 7692 §7.1.2.2: not offered, so the response MUST NOT include it.
    absent: ["client_max_window_bits"],
  },
];

describe("permessage-deflate: the ws client", () => {
  it.each(WS_CASES)("$name: negotiation, every message kind and size both ways, clean close", async (c) => {
    const served = await deflateEcho(c.server, c.where);
    const conn = await openWs(served.url, c.client);
    const req = await served.tap.requests.next();
    const ws = req.websocket;

    // The negotiated header: the same on both sides, with the expected parameters.
    expect(req.headers["sec-websocket-extensions"], "the ws client offered permessage-deflate").toMatch(/permessage-deflate/);
    expect(ws.extensions).toBe(conn.header);
    expect(conn.peer.ws.extensions).toBe("permessage-deflate");
    expect(deflateParams(conn.header)).toEqual(c.agreed);
    expect(wsAgreed(conn.peer.ws), "what the ws client made of the response").toEqual(c.agreed);
    for (const name of c.absent ?? []) expect(conn.header).not.toContain(name);

    await echoAll(conn, served, MESSAGES.map((m) => m.data));
    await echoAll(conn, served, SEQUENCE);
    await echoAll(conn, served, [REPEATED, REPEATED]);

    // Wire: what each side sent, message by message.
    const { fromClient, fromServer } = served.wire.last;
    expect(fromServer.error ?? fromClient.error).toBeUndefined();
    const sent = [...MESSAGES.map((m) => ({ data: m.data, compressible: m.compressible })), ...SEQUENCE.map((data) => ({ data, compressible: true })), { data: REPEATED, compressible: false }, { data: REPEATED, compressible: false }];
    const fromServerMessages = dataMessages(fromServer.messages, fromServer.frames);
    const fromClientMessages = dataMessages(fromClient.messages, fromClient.frames);
    expect(fromServerMessages.length).toBe(sent.length);
    expect(fromClientMessages.length).toBe(sent.length);

    sent.forEach(({ data, compressible }, i) => {
      const length = bytesOf(data).length;
      const wire = fromServerMessages[i];
      const what = `server message ${i} (${typeof data === "string" ? "text" : "binary"}, ${length} bytes)`;
      expect(wire.opcode, what).toBe(typeof data === "string" ? 1 : 2);
      if (length < THRESHOLD) expect(wire.compressed, `${what}: below the threshold, sent as is`).toBe(false);
      if (compressible && length >= THRESHOLD) {
        expect(wire.compressed, `${what}: compressed`).toBe(true);
        expect(wire.wireLength, `${what}: compressed size`).toBeLessThan(length / 3);
      }
    });
    // The ws client compressed too (from its threshold on): wsraw's inflater was used.
    const clientThreshold = typeof c.client === "object" && c.client.threshold !== undefined ? c.client.threshold : 1024;
    sent.forEach(({ data }, i) => {
      if (bytesOf(data).length >= clientThreshold) expect(fromClientMessages[i].compressed, `client message ${i}`).toBe(true);
    });

    // Context takeover, seen on the wire: the second of two equal random messages.
    const [first, second] = fromServerMessages.slice(-2);
    if (c.agreed.serverNoContextTakeover) {
      expect(second.wireLength, "server_no_context_takeover: no reference to the previous message").toBeGreaterThan(3 * KiB);
    } else if ((typeof c.server === "object" ? (c.server.serverMaxWindowBits ?? 15) : 15) >= 13 && c.agreed.serverMaxWindowBits >= 13) {
      expect(first.wireLength).toBeGreaterThan(3 * KiB);
      expect(second.compressed && second.wireLength, "context takeover: the repeat refers back to the previous message").toBeLessThan(100);
    }
    const [clientFirst, clientSecond] = fromClientMessages.slice(-2);
    if (!c.agreed.clientNoContextTakeover && c.agreed.clientMaxWindowBits >= 13) {
      // The ws client used its context: wsraw's inflater had to keep it.
      expect(clientFirst.wireLength).toBeGreaterThan(3 * KiB);
      expect(clientSecond.wireLength).toBeLessThan(100);
    }

    // Differential: ws's codec decodes the server's wire bytes, in order with the agreed
    // window and, under no context takeover, each compressed message alone too.
    const decoded = await inflateWithWs(conn.header, fromServerMessages, c.agreed.serverNoContextTakeover);
    decoded.forEach(({ bytes, alone }, i) => {
      const expected = sha256(bytesOf(sent[i].data));
      expect(sha256(bytes), `ws's inflater on server message ${i}`).toBe(expected);
      if (alone !== undefined) expect(sha256(alone), `server message ${i} alone`).toBe(expected);
    });
    // A server window set by the option must hold even when unannounced: inflate as if announced.
    const ownBits = typeof c.server === "object" ? c.server.serverMaxWindowBits : undefined;
    if (ownBits !== undefined && !/server_max_window_bits/.test(conn.header)) {
      const strict = await inflateWithWs(`${conn.header}; server_max_window_bits=${ownBits}`, fromServerMessages);
      strict.forEach(({ bytes }, i) =>
        expect(sha256(bytes), `server message ${i} inflated with a ${ownBits}-bit window`).toBe(sha256(bytesOf(sent[i].data))),
      );
    }

    // Clean close 1000 both ways.
    conn.peer.ws.close(1000, "bye");
    // The server answers with the code alone (as in test/server/interop.test.ts).
    expect(await conn.peer.closed()).toEqual({ code: 1000, reason: "" });
    expect(await within(conn.wasClean, 10_000, "the client's close event")).toBe(true);
    expect(await within(ws.closed, 10_000, "the server side to close")).toEqual({ code: 1000, reason: "bye", wasClean: true });
  });

  it("a compressed message in fragments (RSV1 on the first frame only), and an empty compressed message", async () => {
    const served = await deflateEcho(true);
    const conn = await openWs(served.url, { threshold: 0 });
    const ws = await served.tap.next();
    expect(deflateParams(conn.header)).toEqual(NO_TAKEOVER);
    const parts = [compressibleText(3000), multibyteText(3000), compressibleText(10)];
    const whole = parts.join("");
    // ws compresses each fragment (sync flush) and sets RSV1 on the first frame alone.
    await new Promise<void>((resolve, reject) => {
      parts.forEach((part, i) =>
        conn.peer.ws.send(part, { fin: i === parts.length - 1, compress: true }, (error) => (error ? reject(error) : i === parts.length - 1 && resolve())),
      );
    });
    conn.peer.ws.send("", { compress: true });
    conn.peer.ws.send(Buffer.alloc(0), { compress: true });
    expect(summary(await conn.peer.next())).toEqual(summary(whole));
    expect(await conn.peer.next()).toBe("");
    expect(await conn.peer.next()).toEqual(Buffer.alloc(0));
    expect(served.received).toEqual([summary(whole), summary(""), summary(Buffer.alloc(0))]);

    const { fromClient } = served.wire.last;
    const [fragmented, emptyText, emptyBinary] = fromClient.messages;
    expect(fragmented).toMatchObject({ opcode: 1, compressed: true, frames: 3 });
    expect(fromClient.frames.slice(0, 3).map((f) => f.rsv1)).toEqual([true, false, false]);
    // RFC 7692 §7.2.3.6: an empty message compressed is a single 0x00 byte.
    expect(emptyText).toMatchObject({ opcode: 1, compressed: true });
    expect(emptyBinary).toMatchObject({ opcode: 2, compressed: true });
    expect(emptyText.wireLength).toBeGreaterThan(0);

    conn.peer.ws.close(1000);
    expect(await within(ws.closed, 10_000, "the server side to close")).toMatchObject({ code: 1000, wasClean: true });
  });

  it("route options override the server's: off on one route, context takeover on another", async () => {
    const tap = new Tap(async (req: UpgradedRequest) => {
      for await (const message of req.websocket) if (!req.websocket.send(message)) await req.websocket.drained();
    });
    const { port } = await resources.server(
      {
        "/plain": tap.route({ perMessageDeflate: false }),
        "/takeover": tap.route({ perMessageDeflate: BOTH_WAYS }),
        "/server": tap.route(),
      },
      { perMessageDeflate: true },
    );
    const wire = await WireTap.start(port);
    resources.defer(() => wire.close());
    const expected: Array<[string, AgreedParams | undefined]> = [
      ["/plain", undefined],
      ["/takeover", TAKEOVER],
      ["/server", NO_TAKEOVER],
    ];
    for (const [path, agreed] of expected) {
      const conn = await openWs(wire.url(path), true);
      const ws = await tap.next();
      expect(deflateParams(conn.header), path).toEqual(agreed);
      expect(ws.extensions, path).toBe(conn.header);
      const big = compressibleText(64 * KiB);
      conn.peer.ws.send(big);
      expect(summary(await conn.peer.next(5000))).toEqual(summary(big));
      expect(wire.last.fromServer.messages.map((m) => m.compressed), path).toEqual([agreed !== undefined]);
      conn.peer.ws.close(1000);
      expect(await within(ws.closed, 10_000, `the server side of ${path} to close`)).toMatchObject({ code: 1000, wasClean: true });
    }
  });

  it("a client that offers no deflate gets none, and no compressed frame, from a deflate server", async () => {
    const served = await deflateEcho(true);
    const conn = await openWs(served.url, false);
    const req = await served.tap.requests.next();
    expect(req.headers["sec-websocket-extensions"]).toBeUndefined();
    expect(conn.header).toBe("");
    expect(req.websocket.extensions).toBe("");
    await echoAll(conn, served, [compressibleText(MiB), compressibleBytes(64 * KiB), "short"]);
    expect(served.wire.last.fromServer.messages.map((m) => m.compressed)).toEqual([false, false, false]);
    conn.peer.ws.close(1000, "bye");
    expect(await within(req.websocket.closed, 10_000, "the server side to close")).toEqual({ code: 1000, reason: "bye", wasClean: true });
    expect(await within(conn.wasClean, 10_000, "the client's close event")).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------
// Differential: every window size, with and without context takeover
// ---------------------------------------------------------------------------------------

interface MatrixCell {
  serverBits: number;
  clientBits: number;
  takeover: boolean;
}

const MATRIX: MatrixCell[] = [
  ...[8, 9, 10, 11, 12, 13, 14, 15].flatMap((bits) => [
    { serverBits: bits, clientBits: bits, takeover: false },
    { serverBits: bits, clientBits: bits, takeover: true },
  ]),
  { serverBits: 9, clientBits: 15, takeover: true },
  { serverBits: 15, clientBits: 9, takeover: true },
];

/**
 * Far data twice (with context takeover the second starts with the first in the window, so
 * references reach back across messages), text, multibyte text, a short message.
 */
const MATRIX_FAR = farBytes(96 * KiB);
const MATRIX_MESSAGES: Array<string | Buffer> = [MATRIX_FAR, MATRIX_FAR, compressibleText(20 * KiB), multibyteText(8 * KiB), "short"];

describe("permessage-deflate: differential against ws's codec, every window size", () => {
  it.each(MATRIX)(
    "server window $serverBits, client window $clientBits, context takeover $takeover: each decodes what the other compressed",
    async ({ serverBits, clientBits, takeover }) => {
      const served = await deflateEcho({
        serverNoContextTakeover: !takeover,
        clientNoContextTakeover: !takeover,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      });
      // The client asks for both windows, so the response states both and ws inflates with
      // exactly the server's agreed window.
      const conn = await openWs(served.url, { threshold: 0, serverMaxWindowBits: serverBits, clientMaxWindowBits: clientBits });
      const ws = await served.tap.next();
      expect(deflateParams(conn.header)).toEqual({
        serverNoContextTakeover: !takeover,
        clientNoContextTakeover: !takeover,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      });
      expect(ws.extensions).toBe(conn.header);

      // ws -> wsraw: wsraw inflates what ws compressed (the server's record); wsraw -> ws:
      // the ws client inflates the echoes.
      await echoAll(conn, served, MATRIX_MESSAGES);

      const { fromClient, fromServer } = served.wire.last;
      expect(fromClient.messages.map((m) => m.compressed), "the ws client compressed every message").toEqual(MATRIX_MESSAGES.map(() => true));
      const serverMessages = fromServer.messages;
      // The text compresses whatever the window; the short one is below the threshold. zlib
      // has no 256-byte window (2^8): wsraw then sends every message plain (RFC 7692 lets a
      // sender leave any message uncompressed).
      const compressed = serverBits === 8 ? [false, false, false] : [true, true, false];
      expect(serverMessages.slice(2).map((m) => m.compressed), "wsraw compressed the text").toEqual(compressed);
      // ws's codec, separately, on the server's wire bytes.
      const decoded = await inflateWithWs(conn.header, serverMessages, !takeover);
      decoded.forEach(({ bytes, alone }, i) => {
        const expected = sha256(bytesOf(MATRIX_MESSAGES[i]));
        expect(sha256(bytes), `ws's inflater on server message ${i}`).toBe(expected);
        if (alone !== undefined) expect(sha256(alone), `server message ${i} alone`).toBe(expected);
      });

      conn.peer.ws.close(1000, "bye");
      expect(await within(ws.closed, 10_000, "the server side to close")).toEqual({ code: 1000, reason: "bye", wasClean: true });
    },
  );
});

// ---------------------------------------------------------------------------------------
// Python's websockets
// ---------------------------------------------------------------------------------------

interface PythonCase {
  name: string;
  mode: "default" | "window10";
  server: true | PerMessageDeflateOptions;
  agreed: AgreedParams;
}

const PYTHON_CASES: PythonCase[] = [
  { name: "its default offer, wsraw's defaults", mode: "default", server: true, agreed: NO_TAKEOVER },
  {
    name: "server_max_window_bits=10 and client_max_window_bits=10 offered, context takeover both ways",
    mode: "window10",
    server: BOTH_WAYS,
    agreed: { ...TAKEOVER, serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
  },
];

describe("permessage-deflate: Python's websockets", () => {
  it.skipIf(pythonSkip !== undefined).each(PYTHON_CASES)(
    `$name: text and binary up to 1 MiB, 200 in order, clean close${pythonSkip ? ` (skipped: ${pythonSkip})` : ""}`,
    async ({ mode, server, agreed }) => {
      const served = await deflateEcho(server);
      const { code, stdout, stderr } = await runProgram(PYTHON, [PYTHON_CLIENT, served.url, mode], 30_000);
      expect(code, stderr).toBe(0);
      const result = JSON.parse(stdout.trim().split("\n").pop()!);
      expect(result.error, stderr).toBeNull();
      const req = await served.tap.requests.next();
      // websockets offers permessage-deflate; the header it read is the one wsraw sent.
      expect(req.headers["sec-websocket-extensions"]).toMatch(/^permessage-deflate/);
      expect(result.extensions_header).toBe(req.websocket.extensions);
      expect(deflateParams(result.extensions_header)).toEqual(agreed);
      // What websockets made of it (remote = the server, local = the client).
      expect(result.negotiated).toEqual({
        remote_no_context_takeover: agreed.serverNoContextTakeover,
        local_no_context_takeover: agreed.clientNoContextTakeover,
        remote_max_window_bits: agreed.serverMaxWindowBits,
        local_max_window_bits: agreed.clientMaxWindowBits,
      });
      const labels = [
        "empty text",
        "empty binary",
        "text 125",
        "text 126",
        "text 65535",
        "text 65536",
        "multibyte text",
        "binary 1 MiB",
        "random binary 1 MiB",
        "far binary 256 KiB",
        "far binary 256 KiB again",
        "200 in order",
      ];
      expect(result.messages).toEqual(labels.map((label) => ({ label, same: true })));
      expect(result.close).toEqual({ code: 1000, reason: "" });
      expect(await within(req.websocket.closed, 10_000, "the server side to close")).toEqual({ code: 1000, reason: "done", wasClean: true });

      // websockets compresses every message, empty ones included: wsraw inflated them all.
      const { fromClient, fromServer } = served.wire.last;
      expect(fromServer.error ?? fromClient.error).toBeUndefined();
      expect(fromClient.messages.length).toBe(11 + 200);
      expect(fromClient.messages.every((m) => m.compressed)).toBe(true);
      expect(fromServer.messages.length).toBe(fromClient.messages.length);
      const binaryMiB = fromServer.messages[7];
      expect(binaryMiB).toMatchObject({ opcode: 2, compressed: true });
      expect(binaryMiB.wireLength).toBeLessThan(MiB / 2);
      // ws's codec decodes wsraw's echoes to what wsraw received.
      expect(served.received.length).toBe(fromServer.messages.length);
      const decoded = await inflateWithWs(result.extensions_header, fromServer.messages, agreed.serverNoContextTakeover);
      decoded.forEach(({ bytes, alone }, i) => {
        expect(sha256(bytes), `server message ${i}: ws's inflater`).toBe(served.received[i].sha256);
        if (alone !== undefined) expect(sha256(alone), `server message ${i} alone`).toBe(served.received[i].sha256);
      });
    },
  );
});

// ---------------------------------------------------------------------------------------
// Node's built-in WebSocket (undici)
// ---------------------------------------------------------------------------------------

describe("permessage-deflate: Node's built-in WebSocket", () => {
  it("echoes up to 1 MiB against a deflate server, whether or not this Node offers deflate", async () => {
    const served = await deflateEcho(true);
    // Node 20 and 21 hide the global WebSocket behind the flag; later versions have it.
    const flags = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function" ? [] : ["--experimental-websocket"];
    const { code, stdout, stderr } = await runNode([...flags, NODE_CLIENT, served.url]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(result.error, stderr).toBeNull();
    expect(result.messages).toEqual([
      { label: "hello", same: true },
      { label: "multibyte", same: true },
      { label: "text 1 MiB", same: true },
      { label: "binary 64 KiB", same: true },
      { label: "random binary 256 KiB", same: true },
    ]);
    expect(result.close).toEqual({ code: 1000, reason: "", wasClean: true });
    const req = await served.tap.requests.next();
    expect(await within(req.websocket.closed, 10_000, "the server side to close")).toEqual({ code: 1000, reason: "done", wasClean: true });

    expect(result.extensions).toBe(req.websocket.extensions);
    const offer = req.headers["sec-websocket-extensions"];
    const { fromServer } = served.wire.last;
    const textMiB = fromServer.messages[2];
    if (offer !== undefined && /permessage-deflate/.test(offer)) {
      // Node 20.x's undici offers permessage-deflate (and inflates, never compresses).
      expect(deflateParams(result.extensions)).toEqual(NO_TAKEOVER);
      expect(textMiB).toMatchObject({ opcode: 1, compressed: true });
      expect(textMiB.wireLength).toBeLessThan(MiB / 10);
    } else {
      // A Node whose client offers nothing: no extension in the 101, nothing compressed.
      expect(result.extensions).toBe("");
      expect(fromServer.messages.some((m) => m.compressed)).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Messages the server sends on its own (last in this file: a server that aborts the
// process takes the rest of the file down with it)
// ---------------------------------------------------------------------------------------

describe("permessage-deflate: the server sending on its own, to the ws client", () => {
  const SETTINGS: Array<{ name: string; options: true | PerMessageDeflateOptions; agreed: AgreedParams }> = [
    { name: "no context takeover", options: true, agreed: NO_TAKEOVER },
    { name: "context takeover", options: BOTH_WAYS, agreed: TAKEOVER },
  ];

  it.each(SETTINGS)("$name: send() returning false is followed by drained(), then more messages", async ({ options, agreed }) => {
    const drained: string[] = [];
    const tap = new Tap(async ({ websocket: ws }) => {
      // 1 MiB is over the send buffer's high-water mark: send() says false, drained() must follow.
      const accepted = ws.send(compressibleText(MiB));
      drained.push(`send returned ${accepted}`);
      if (!accepted) {
        await within(ws.drained(), 5000, "drained() after a compressed 1 MiB message");
        drained.push("drained");
      }
      ws.send("after the drain");
      await ws.closed;
    });
    const { port } = await resources.server({ "/push": tap.route() }, { perMessageDeflate: options });
    const wire = await WireTap.start(port);
    resources.defer(() => wire.close());
    const conn = await openWs(wire.url("/push"), true);
    expect(deflateParams(conn.header)).toEqual(agreed);
    expect(summary(await conn.peer.next())).toEqual(summary(compressibleText(MiB)));
    expect(await conn.peer.next()).toBe("after the drain");
    expect(drained).toEqual(["send returned false", "drained"]);
    expect(wire.last.fromServer.messages.map((m) => m.compressed)).toEqual([true, false]);
  });

  it.each(SETTINGS)("$name: back-to-back sends of large and small messages arrive whole and in order", async ({ options, agreed }) => {
    const burst: Array<string | Buffer> = [
      compressibleText(MiB),
      compressibleText(2000),
      compressibleBytes(200 * KiB),
      "short",
      multibyteText(100 * KiB),
      ...SEQUENCE.slice(0, 50),
      compressibleText(MiB),
    ];
    const tap = new Tap(async ({ websocket: ws }) => {
      // No waiting between sends: the messages queue up in the server, sync and async
      // compressions interleaved.
      for (const message of burst) ws.send(message);
      await ws.closed;
    });
    const { port } = await resources.server({ "/push": tap.route() }, { perMessageDeflate: options });
    const wire = await WireTap.start(port);
    resources.defer(() => wire.close());
    const conn = await openWs(wire.url("/push"), true);
    expect(deflateParams(conn.header)).toEqual(agreed);
    const got: Summary[] = [];
    for (let i = 0; i < burst.length; i++) got.push(summary(await conn.peer.next()));
    expect(got).toEqual(burst.map(summary));
    const decoded = await inflateWithWs(conn.header, wire.last.fromServer.messages, agreed.serverNoContextTakeover);
    expect(decoded.map(({ bytes }) => sha256(bytes))).toEqual(burst.map((m) => sha256(bytesOf(m))));
    conn.peer.ws.close(1000);
    expect(await within((await tap.next()).closed, 10_000, "the server side to close")).toMatchObject({ code: 1000, wasClean: true });
  });
});
