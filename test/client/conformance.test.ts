/**
 * Client conformance (issue 11): wsraw's `connect()` against a raw TCP server
 * (raw-server.ts) that sends, byte for byte, what a client must reject and what it must
 * handle. Each case checks the exact error the client reports: the `HandshakeError` (and
 * its status, headers, body) for a handshake it must refuse; for a connection it must fail,
 * the close frame it sends to the server (masked, with the RFC's code) and its `closed`.
 *
 * The server side never uses wsraw's code: frames to the client are written with
 * `rawFrame` (test/frame/helpers.ts, built by hand), and the client's frames are read by
 * the raw server's own parser, which asserts that every one is masked with a fresh key.
 */
import { createHash } from "node:crypto";
import { deflateRawSync, constants as zlibConstants } from "node:zlib";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ConnectOptions, HandshakeError, connect } from "../../src/index.js";
import type { CloseInfo, WebSocket } from "../../src/connection/websocket.js";
import { HandshakeError as HttpHandshakeError } from "../../src/http/index.js";
import {
  type MessageItem,
  type StreamItem,
  cutsArb,
  rawFrame,
  rawStream,
  splitAt,
  streamArb,
  unicodeStringArb,
} from "../frame/helpers.js";
import { type ClientFrame, type ClientHandshake, type HandshakeExpectations, RawPeer, RawServer, WAIT_MS } from "./raw-server.js";
import { acceptFor, sleep, within } from "../support/index.js";

const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;
const RSV1 = 0b100;
const RSV2 = 0b010;
const RSV3 = 0b001;

/** Bound of one case; a passing case takes milliseconds. */
const CASE_MS = 10_000;

let server: RawServer;
/** Connections opened by a case, terminated after it whatever happened. */
const opened: WebSocket[] = [];

beforeAll(async () => {
  server = await RawServer.start();
});
afterEach(() => {
  for (const ws of opened.splice(0)) ws.terminate();
  server.reset();
});
afterAll(async () => {
  await server.close();
});

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** The outcome of a promise, taken at once so that a rejection is never unhandled. */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => {
      if (value !== null && typeof value === "object" && "terminate" in value) opened.push(value as unknown as WebSocket);
      return { ok: true as const, value };
    },
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** Starts `connect()`; takes the raw server's side of that connection. */
async function dial(options: ConnectOptions = {}, path = "/"): Promise<{ outcome: Promise<Outcome<WebSocket>>; peer: RawPeer }> {
  const before = server.connections;
  const outcome = settle(connect(server.url(path), options));
  const peer = await server.next();
  expect(server.connections).toBe(before + 1);
  return { outcome, peer };
}

/** A connection the raw server accepted with a valid 101 (plus `extra` header lines). */
async function open(
  options: ConnectOptions = {},
  expected: HandshakeExpectations = {},
  extra: string[] = [],
): Promise<{ ws: WebSocket; peer: RawPeer; handshake: ClientHandshake }> {
  const { outcome, peer } = await dial(options, expected.target);
  const handshake = await peer.accept(expected, extra);
  const result = await within(outcome, WAIT_MS, "connect() to resolve");
  if (!result.ok) throw result.error;
  return { ws: result.value, peer, handshake };
}

/** The handshake answered by `answer`; connect() must reject with a HandshakeError. */
async function refused(
  answer: (peer: RawPeer, handshake: ClientHandshake) => void | Promise<void>,
  options: ConnectOptions = {},
  expected: HandshakeExpectations = {},
): Promise<{ error: HandshakeError; peer: RawPeer }> {
  const { outcome, peer } = await dial(options);
  const handshake = await peer.readHandshake(expected);
  await answer(peer, handshake);
  const result = await within(outcome, WAIT_MS, "connect() to settle");
  expect(result.ok, "connect() must reject").toBe(false);
  const error = (result as { error: unknown }).error;
  expect(error).toBeInstanceOf(HandshakeError);
  expect((error as Error).name).toBe("HandshakeError");
  return { error: error as HandshakeError, peer };
}

/** A 101 that fails the client's checks must make it drop the TCP connection. */
async function expectDropped(peer: RawPeer): Promise<void> {
  await peer.waitEnd();
  expect(peer.pending, "no frame after a refused handshake").toBe(0);
}

function closeInfo(ws: WebSocket): Promise<CloseInfo> {
  return within(ws.closed, WAIT_MS, "ws.closed");
}

/**
 * The client must fail the connection (RFC 6455 §7.1.7): a masked close frame with `code`
 * and a reason that fits (§5.5: at most 123 bytes), its FIN, then `closed` reports the
 * same code and reason, not clean. Nothing but that close may come (no echo of the bad
 * frame, no message).
 */
async function expectFailure(ws: WebSocket, peer: RawPeer, code: number, reason?: RegExp): Promise<void> {
  const frame = await peer.readFrame();
  expect(frame.opcode, `expected the client's close frame, got opcode ${frame.opcode}`).toBe(OP.CLOSE);
  expect(frame.payload.length).toBeGreaterThanOrEqual(2);
  const sentCode = frame.payload.readUInt16BE(0);
  const sentReason = new TextDecoder("utf-8", { fatal: true }).decode(frame.payload.subarray(2));
  expect(sentCode, `close reason sent: ${JSON.stringify(sentReason)}`).toBe(code);
  expect(Buffer.byteLength(sentReason)).toBeLessThanOrEqual(123);
  if (reason !== undefined) expect(sentReason).toMatch(reason);
  // A failing endpoint closes TCP without waiting for our close frame.
  await peer.waitEnd();
  expect(peer.pending, "nothing after the close frame").toBe(0);
  peer.end();
  const info = await closeInfo(ws);
  expect(info).toEqual({ code, reason: sentReason, wasClean: false });
  expect(await ws.wait()).toBeNull();
  expect(ws.readyState).toBe(3);
}

/** Writes `bytes` after a valid handshake and expects the client to fail with `code`. */
async function failsWith(bytes: Buffer | Buffer[], code: number, options: ConnectOptions = {}, reason?: RegExp): Promise<void> {
  const { ws, peer } = await open(options);
  if (Array.isArray(bytes)) await peer.writeChunks(bytes);
  else peer.write(bytes);
  await expectFailure(ws, peer, code, reason);
}

const text = (payload: string | number[] | Buffer, fin = true, rsv = 0): Buffer =>
  rawFrame({ opcode: OP.TEXT, payload: typeof payload === "string" ? Buffer.from(payload) : payload, fin, rsv });
const cont = (payload: string | number[] | Buffer, fin = true, rsv = 0): Buffer =>
  rawFrame({ opcode: OP.CONT, payload: typeof payload === "string" ? Buffer.from(payload) : payload, fin, rsv });
const closeFrame = (code?: number, reason = ""): Buffer =>
  rawFrame({
    opcode: OP.CLOSE,
    payload: code === undefined ? Buffer.alloc(0) : Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]),
  });

/** A complete HTTP response with `body` and a Content-Length. */
function httpResponse(status: number, reason: string, body: string | Buffer, headers: string[] = []): Buffer {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const head = [`HTTP/1.1 ${status} ${reason}`, "Content-Type: text/plain", `Content-Length: ${bytes.length}`, ...headers, "", ""].join(
    "\r\n",
  );
  return Buffer.concat([Buffer.from(head, "latin1"), bytes]);
}

/** permessage-deflate's compressed payload of `data` (RFC 7692 §7.2.1: the 00 00 ff ff tail removed). */
function deflated(data: string): Buffer {
  const out = deflateRawSync(Buffer.from(data), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  expect(out.subarray(-4).toString("hex")).toBe("0000ffff");
  return out.subarray(0, -4);
}

// ---------------------------------------------------------------------------------------
// The handshake
// ---------------------------------------------------------------------------------------

describe("the opening handshake", { timeout: CASE_MS }, () => {
  it("sends a valid request: path and query, subprotocols in order, Origin and extra headers", async () => {
    const { ws, handshake } = await open(
      { protocols: ["chat.v2", "chat.v1"], origin: "https://example.com", headers: { Authorization: "Bearer abc" } },
      {
        target: "/chat?room=1&name=a%20b",
        protocols: ["chat.v2", "chat.v1"],
        headers: { origin: "https://example.com", authorization: "Bearer abc" },
      },
      ["Sec-WebSocket-Protocol: chat.v1"],
    );
    expect(ws.protocol).toBe("chat.v1");
    expect(ws.extensions).toBe("");
    expect(handshake.extensions).toBeUndefined();
    expect(ws.readyState).toBe(1);
  });

  it("sends a URL's credentials as Authorization: Basic, unless given one, and takes one subprotocol as a string", async () => {
    const url = server.url("/").replace("ws://", "ws://al%20ice:s%3Acret@");
    const basic = `Basic ${Buffer.from("al ice:s:cret").toString("base64")}`;
    for (const [options, authorization] of [
      [{ protocols: "chat" }, basic],
      [{ protocols: "chat", headers: { authorization: "Bearer mine" } }, "Bearer mine"],
    ] as const) {
      const outcome = settle(connect(url, options));
      const peer = await server.next();
      const handshake = await peer.accept({ protocols: ["chat"], headers: { authorization } }, ["Sec-WebSocket-Protocol: chat"]);
      expect(handshake.headers["host"]).toBe(new URL(server.url("/")).host);
      const result = await within(outcome, WAIT_MS, "connect() to resolve");
      if (!result.ok) throw result.error;
      expect(result.value.protocol).toBe("chat");
      result.value.terminate();
    }
    await expect(connect(server.url("/"), { protocols: 7 as unknown as string })).rejects.toThrow(
      new TypeError("protocols must be a string or an array of strings, got number"),
    );
  });

  it("takes an http:// URL as ws://, as the browser's WebSocket does, and leaves the caller's URL alone", async () => {
    const given = new URL(server.url("/over-http?x=1").replace("ws://", "http://"));
    const outcome = settle(connect(given));
    const peer = await server.next();
    const handshake = await peer.accept({ target: "/over-http?x=1" });
    expect(handshake.target).toBe("/over-http?x=1");
    const result = await within(outcome, WAIT_MS, "connect() to resolve");
    if (!result.ok) throw result.error;
    result.value.terminate();
    expect(given.protocol).toBe("http:");
    await expect(connect("ftp://127.0.0.1/")).rejects.toThrow(/takes a ws:\/\/ or wss:\/\/ URL \(or http:\/\/, https:\/\/\), got ftp:/);
  });

  it.each([
    [{ headers: "X-A: b" }, /headers must be an object/],
    [{ headers: [["X-A", "b"]] }, /headers must be an object/],
    [{ signal: {} }, /signal must be an AbortSignal/],
  ])("refuses %j before connecting, with a TypeError that says what it wants", async (options, message) => {
    await expect(connect(server.url("/"), options as unknown as ConnectOptions)).rejects.toThrow(message);
    await expect(connect(server.url("/"), options as unknown as ConnectOptions)).rejects.toBeInstanceOf(TypeError);
  });

  it("uses a new random Sec-WebSocket-Key on every connection", async () => {
    // readHandshake refuses a key any earlier connection used; here, several in a row.
    const keys = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { handshake } = await open();
      keys.add(handshake.key);
    }
    expect(keys.size).toBe(5);
  });

  it("accepts header names and tokens in any case, and tokens in lists", async () => {
    const { outcome, peer } = await dial();
    const { key } = await peer.readHandshake();
    peer.write(
      [
        "HTTP/1.1 101 Web Socket Protocol Handshake",
        "upgrade: WebSocket",
        "CONNECTION: keep-alive, Upgrade",
        `sec-websocket-accept: ${acceptFor(key)}`,
        "",
        "",
      ].join("\r\n"),
    );
    const result = await within(outcome, WAIT_MS, "connect()");
    expect(result.ok).toBe(true);
  });

  it("refuses a wrong Sec-WebSocket-Accept, saying so", async () => {
    const { error, peer } = await refused((peer) => {
      // The RFC's sample key's accept value: right for another key, wrong for this one.
      peer.write(RawPeer.response101("dGhlIHNhbXBsZSBub25jZQ=="));
    });
    expect(error.status).toBe(101);
    expect(error.message).toMatch(/Sec-WebSocket-Accept/);
    expect(error.message).toMatch(/wrong|expected/i);
    expect(error.message).toContain("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    expect(error.headers["sec-websocket-accept"]).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    await expectDropped(peer);
  });

  it.each([
    ["the key itself", (key: string) => key],
    ["SHA-1 of the key without the GUID", (key: string) => createHash("sha1").update(key).digest("base64")],
    ["the right value in lower case", (key: string) => acceptFor(key).toLowerCase()],
    ["the right value with a trailing character", (key: string) => `${acceptFor(key)}x`],
  ])("refuses an accept value that is %s", async (_name, make) => {
    const { error, peer } = await refused((peer, { key }) => {
      peer.write(["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${make(key)}`, "", ""].join("\r\n"));
    });
    expect(error.status).toBe(101);
    expect(error.message).toMatch(/Wrong Sec-WebSocket-Accept/i);
    await expectDropped(peer);
  });

  it("refuses a 101 with no Sec-WebSocket-Accept", async () => {
    const { error, peer } = await refused((peer) => {
      peer.write(["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", "", ""].join("\r\n"));
    });
    expect(error.status).toBe(101);
    expect(error.message).toMatch(/no Sec-WebSocket-Accept/i);
    await expectDropped(peer);
  });

  it.each([
    ["no Upgrade", (key: string) => ["Connection: Upgrade", `Sec-WebSocket-Accept: ${acceptFor(key)}`], /Upgrade: websocket/],
    ["Upgrade: h2c", (key: string) => ["Upgrade: h2c", "Connection: Upgrade", `Sec-WebSocket-Accept: ${acceptFor(key)}`], /Upgrade: websocket/],
    ["no Connection", (key: string) => ["Upgrade: websocket", `Sec-WebSocket-Accept: ${acceptFor(key)}`], /Connection: Upgrade/],
    ["Connection: keep-alive", (key: string) => ["Upgrade: websocket", "Connection: keep-alive", `Sec-WebSocket-Accept: ${acceptFor(key)}`], /Connection: Upgrade/],
  ])("refuses a 101 with %s", async (_name, headers, message) => {
    const { error, peer } = await refused((peer, { key }) => {
      peer.write(["HTTP/1.1 101 Switching Protocols", ...headers(key), "", ""].join("\r\n"));
    });
    expect(error.status).toBe(101);
    expect(error.message).toMatch(message);
    await expectDropped(peer);
  });

  it("refuses a subprotocol that was not offered", async () => {
    const { error, peer } = await refused(
      (peer, { key }) => peer.write(RawPeer.response101(key, ["Sec-WebSocket-Protocol: chat.v3"])),
      { protocols: ["chat.v1", "chat.v2"] },
      { protocols: ["chat.v1", "chat.v2"] },
    );
    expect(error.status).toBe(101);
    expect(error.message).toMatch(/chat\.v3.*not offered/);
    await expectDropped(peer);
  });

  it("refuses a subprotocol when none was offered", async () => {
    const { error, peer } = await refused((peer, { key }) => peer.write(RawPeer.response101(key, ["Sec-WebSocket-Protocol: chat"])));
    expect(error.status).toBe(101);
    expect(error.message).toMatch(/chat.*not offered/);
    await expectDropped(peer);
  });

  it("refuses a list of subprotocols (the server selects one)", async () => {
    const { error, peer } = await refused(
      (peer, { key }) => peer.write(RawPeer.response101(key, ["Sec-WebSocket-Protocol: a, b"])),
      { protocols: ["a", "b"] },
      { protocols: ["a", "b"] },
    );
    expect(error.status).toBe(101);
    await expectDropped(peer);
  });

  it("refuses an extension when none was offered", async () => {
    const { error, peer } = await refused((peer, { key }) =>
      peer.write(RawPeer.response101(key, ["Sec-WebSocket-Extensions: permessage-deflate"])),
    );
    expect(error.status).toBe(101);
    expect(error.message).toMatch(/permessage-deflate.*not offered/);
    await expectDropped(peer);
  });

  it("refuses an extension other than the one offered", async () => {
    const { error, peer } = await refused(
      (peer, { key }) => peer.write(RawPeer.response101(key, ["Sec-WebSocket-Extensions: x-webkit-deflate-frame"])),
      { perMessageDeflate: true },
      { extensions: /^permessage-deflate\b/ },
    );
    expect(error.status).toBe(101);
    expect(error.message).toMatch(/x-webkit-deflate-frame.*not offered/);
    await expectDropped(peer);
  });

  it("refuses permessage-deflate accepted with a parameter the client did not ask for", async () => {
    const { error, peer } = await refused(
      (peer, { key }) => peer.write(RawPeer.response101(key, ["Sec-WebSocket-Extensions: permessage-deflate; x_unknown=1"])),
      { perMessageDeflate: true },
      { extensions: /^permessage-deflate\b/ },
    );
    expect(error.status).toBe(101);
    await expectDropped(peer);
  });

  it.each([400, 403, 404, 426, 500])("reports a %i refusal with its status, headers and body", async (status) => {
    const body = `refused with ${status}: go away\n`;
    const extra = status === 426 ? ["Sec-WebSocket-Version: 13"] : ["X-Reason: test"];
    const { error, peer } = await refused((peer) => peer.write(httpResponse(status, "Nope", body, extra)));
    expect(error.status).toBe(status);
    expect(error.message).toContain(String(status));
    expect(error.body.toString()).toBe(body);
    expect(error.headers["content-type"]).toBe("text/plain");
    if (status === 426) expect(error.headers["sec-websocket-version"]).toBe("13");
    else expect(error.headers["x-reason"]).toBe("test");
    await expectDropped(peer);
  });

  it("reads a refusal's body that arrives after its head, in pieces", async () => {
    const body = Buffer.from("a".repeat(3000) + "the end");
    const { error } = await refused(async (peer) => {
      const bytes = httpResponse(403, "Forbidden", body);
      const headEnd = bytes.indexOf("\r\n\r\n") + 4;
      peer.write(bytes.subarray(0, headEnd));
      await sleep(30);
      await peer.writeChunks(splitAt(bytes.subarray(headEnd), [1000, 2000, 3000]), 10);
    });
    expect(error.status).toBe(403);
    expect(error.body.equals(body)).toBe(true);
  });

  it("reads a refusal's body without Content-Length until the server closes", async () => {
    const { error } = await refused((peer) => {
      peer.write("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\ntry later");
      peer.end();
    });
    expect(error.status).toBe(503);
    expect(error.body.toString()).toBe("try later");
  });

  it("keeps at most 64 KiB of a refusal's body", async () => {
    const body = Buffer.alloc(100 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const { error } = await refused((peer) => peer.write(httpResponse(500, "Internal Server Error", body)));
    expect(error.status).toBe(500);
    expect(error.body.length).toBe(64 * 1024);
    expect(error.body.equals(body.subarray(0, 64 * 1024))).toBe(true);
  });

  it("refuses a 200 from a plain HTTP server", async () => {
    const { error } = await refused((peer) => peer.write(httpResponse(200, "OK", "<html>hello</html>")));
    expect(error.status).toBe(200);
    expect(error.body.toString()).toBe("<html>hello</html>");
  });

  it.each([301, 302, 303, 307, 308])("does not follow a %i redirect, and names its Location", async (status) => {
    const location = `ws://127.0.0.1:${server.port}/moved-here`;
    const before = server.connections;
    const { error, peer } = await refused((peer) => peer.write(httpResponse(status, "Moved", "", [`Location: ${location}`])));
    expect(error.status).toBe(status);
    expect(error.message).toContain(location);
    expect(error.message).toMatch(/not followed/);
    expect(error.headers["location"]).toBe(location);
    await expectDropped(peer);
    await sleep(50);
    expect(server.connections, "no connection to the Location").toBe(before + 1);
  });

  it.each([
    ["random bytes", Buffer.from("8f03a1ff00d4e2c9\r\n\r\n", "latin1")],
    ["HTTP/2", "HTTP/2.0 101 Switching Protocols\r\n\r\n"],
    ["a status line without a code", "HTTP/1.1 Switching Protocols\r\n\r\n"],
    ["a header line without a colon", "HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n"],
    ["a NUL in a header", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: web\0socket\r\n\r\n"],
  ])("refuses a response that is not HTTP/1.1: %s", async (_name, bytes) => {
    const { error, peer } = await refused((peer) => peer.write(bytes));
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/not a valid HTTP response/i);
    await expectDropped(peer);
  });

  it.each([
    ["an SSH banner", "SSH-2.0-OpenSSH_9.6\r\n"],
    ["an SMTP greeting", "220 mail.example.com ESMTP ready\r\n"],
    ["a Redis error", "-ERR unknown command 'GET'\r\n"],
  ])("refuses a first line that is not an HTTP status line as soon as it ends: %s (not after the timeout)", async (_name, line) => {
    // These servers send one line and then wait for the client: the status line alone
    // shows that this is not HTTP (RFC 9112 §4), as Node's http client and Python's
    // websockets see at once.
    const started = Date.now();
    const { error, peer } = await refused((peer) => peer.write(line), { handshakeTimeoutMs: 5_000 });
    expect(Date.now() - started, "rejected before handshakeTimeoutMs").toBeLessThan(2_000);
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/not a valid HTTP response/i);
    await expectDropped(peer);
  });

  it("refuses a non-HTTP line followed by the server closing", async () => {
    const { error, peer } = await refused((peer) => {
      peer.write("SSH-2.0-OpenSSH_9.6\r\nInvalid SSH identification string.\r\n");
      peer.end();
    });
    expect(error.status).toBe(0);
    await expectDropped(peer);
  });

  it("refuses a response head larger than its limit, before the timeout", async () => {
    const started = Date.now();
    const { error, peer } = await refused(
      (peer) => {
        peer.write("HTTP/1.1 101 Switching Protocols\r\n");
        for (let i = 0; i < 100; i++) peer.write(`X-Filler-${i}: ${"f".repeat(1000)}\r\n`);
      },
      { handshakeTimeoutMs: 5_000 },
    );
    expect(error.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(3_000);
    await expectDropped(peer);
  });

  it("gives up on a server that never answers after handshakeTimeoutMs", async () => {
    const started = Date.now();
    const { error, peer } = await refused(() => {}, { handshakeTimeoutMs: 300 });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_500);
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/300 ms/);
    await expectDropped(peer);
  });

  it("gives up on a server that stops in the middle of its 101 after handshakeTimeoutMs", async () => {
    const { error, peer } = await refused((peer) => peer.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"), {
      handshakeTimeoutMs: 300,
    });
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/300 ms/);
    await expectDropped(peer);
  });

  it("reports a server that closes the connection instead of answering", async () => {
    const { error } = await refused((peer) => peer.end());
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/closed/);
  });

  it("reports a server that resets the connection instead of answering", async () => {
    const { outcome, peer } = await dial();
    await peer.readHandshake();
    peer.socket.resetAndDestroy();
    const result = await within(outcome, WAIT_MS, "connect() to settle");
    expect(result.ok).toBe(false);
    // A RST may surface as the socket's ECONNRESET or as a close before any answer.
    const error = (result as { error: unknown }).error as Error & { code?: string };
    expect(error instanceof HandshakeError || error.code === "ECONNRESET", String(error)).toBe(true);
  });

  it("reports a server that closes in the middle of its 101", async () => {
    const { error } = await refused((peer, { key }) => {
      peer.write(RawPeer.response101(key).slice(0, 60));
      peer.end();
    });
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/closed/);
  });

  it("rejects at once with the reason of a signal aborted before connecting, and connects nowhere", async () => {
    const controller = new AbortController();
    const reason = new Error("changed my mind");
    controller.abort(reason);
    const before = server.connections;
    const result = await within(settle(connect(server.url(), { signal: controller.signal })), WAIT_MS, "connect()");
    expect(result).toEqual({ ok: false, error: reason });
    await sleep(50);
    expect(server.connections).toBe(before);
  });

  it("rejects with the signal's reason when aborted during the handshake, and drops the connection", async () => {
    const controller = new AbortController();
    const { outcome, peer } = await dial({ signal: controller.signal });
    await peer.readHandshake();
    controller.abort();
    const result = await within(outcome, WAIT_MS, "connect() to settle");
    expect(result.ok).toBe(false);
    const error = (result as { error: unknown }).error;
    expect(error).toBe(controller.signal.reason);
    expect((error as Error).name).toBe("AbortError");
    await expectDropped(peer);
    // A 101 arriving now changes nothing.
  });

  it("an abort after the 101 has no effect on the open connection", async () => {
    const controller = new AbortController();
    const { ws, peer } = await open({ signal: controller.signal });
    controller.abort();
    peer.write(text("still here"));
    expect(await within(ws.wait(), WAIT_MS, "a message")).toBe("still here");
    expect(ws.readyState).toBe(1);
  });

  it("rejects a maxPayload no length can be compared with, and connects nowhere", async () => {
    const before = server.connections;
    for (const maxPayload of [-1, Number.NaN, 2 ** 53]) {
      await expect(connect(server.url(), { maxPayload })).rejects.toThrow(
        new RangeError(`maxPayload must be between 0 and 2^53 - 1, got ${maxPayload}`),
      );
    }
    await sleep(50);
    expect(server.connections).toBe(before);
  });

  it("rejects a limit, timeout or heartbeat no connection could keep, and connects nowhere", async () => {
    const before = server.connections;
    const cases: Array<[ConnectOptions, Error]> = [
      [{ handshakeTimeoutMs: 0 }, new RangeError("handshakeTimeoutMs must be between 1 and 2^31 - 1 ms, got 0")],
      [{ closeTimeoutMs: Number.NaN }, new RangeError("closeTimeoutMs must be between 1 and 2^31 - 1 ms, got NaN")],
      [{ sendHighWaterMark: -1 }, new RangeError("sendHighWaterMark must be above 0 (Infinity for no limit), got -1")],
      [{ maxQueuedMessages: "10" as unknown as number }, new TypeError('maxQueuedMessages must be a number, got "10"')],
      // Used to be thrown from a socket listener once the 101 had arrived: a crash.
      [{ heartbeat: { intervalMs: -1, timeoutMs: 100 } }, new RangeError("heartbeat.intervalMs must be between 1 and 2^31 - 1 ms, got -1")],
    ];
    for (const [options, error] of cases) await expect(connect(server.url(), options)).rejects.toThrow(error);
    await sleep(50);
    expect(server.connections).toBe(before);
  });

  it("exports one HandshakeError class from wsraw and wsraw/http", () => {
    expect(HandshakeError).toBe(HttpHandshakeError);
  });
});

// ---------------------------------------------------------------------------------------
// What the client must reject once open
// ---------------------------------------------------------------------------------------

describe("frames a client must reject", { timeout: CASE_MS }, () => {
  it("a masked frame from the server: 1002", async () => {
    await failsWith(rawFrame({ opcode: OP.TEXT, payload: Buffer.from("hello"), mask: true, key: [1, 2, 3, 4] }), 1002, {}, /mask/i);
  });

  it("a masked ping from the server: 1002, and no pong", async () => {
    await failsWith(rawFrame({ opcode: OP.PING, payload: Buffer.from("p"), mask: true }), 1002);
  });

  it("a masked frame after valid ones: the valid ones are delivered, then 1002", async () => {
    const { ws, peer } = await open();
    peer.write(Buffer.concat([text("one"), rawFrame({ opcode: OP.BINARY, payload: [1, 2], mask: true })]));
    // The message before the bad frame is delivered; nothing after it.
    expect(await within(ws.wait(), WAIT_MS, "the valid message")).toBe("one");
    await expectFailure(ws, peer, 1002);
  });

  it.each([
    ["RSV1", RSV1],
    ["RSV2", RSV2],
    ["RSV3", RSV3],
    ["RSV1+RSV2+RSV3", RSV1 | RSV2 | RSV3],
  ])("%s on a text frame without an extension: 1002", async (_name, rsv) => {
    await failsWith(text("hi", true, rsv), 1002, {}, /RSV/);
  });

  it.each([
    ["RSV1 on a ping", rawFrame({ opcode: OP.PING, rsv: RSV1 })],
    ["RSV2 on a binary frame", rawFrame({ opcode: OP.BINARY, rsv: RSV2, payload: [1] })],
    ["RSV3 on a close frame", rawFrame({ opcode: OP.CLOSE, rsv: RSV3, payload: [0x03, 0xe8] })],
  ])("%s without an extension: 1002", async (_name, frame) => {
    await failsWith(frame, 1002);
  });

  describe("with permessage-deflate negotiated", () => {
    const deflateOpen = () =>
      open({ perMessageDeflate: true }, { extensions: /^permessage-deflate\b/ }, ["Sec-WebSocket-Extensions: permessage-deflate"]);

    it("accepts RSV1 on the first frame of a message (the control case)", async () => {
      const { ws, peer } = await deflateOpen();
      expect(ws.extensions).toBe("permessage-deflate");
      const compressed = deflated("Hello, deflate");
      peer.write(Buffer.concat([text(compressed.subarray(0, 3), false, RSV1), cont(compressed.subarray(3))]));
      expect(await within(ws.wait(), WAIT_MS, "a message")).toBe("Hello, deflate");
    });

    it("RSV1 on a continuation frame: 1002", async () => {
      const { ws, peer } = await deflateOpen();
      const compressed = deflated("Hello, deflate");
      peer.write(Buffer.concat([text(compressed.subarray(0, 3), false, RSV1), cont(compressed.subarray(3), true, RSV1)]));
      await expectFailure(ws, peer, 1002, /RSV1/);
    });

    it("RSV1 on a continuation of an uncompressed message: 1002", async () => {
      const { ws, peer } = await deflateOpen();
      peer.write(Buffer.concat([text("plain ", false), cont("text", true, RSV1)]));
      await expectFailure(ws, peer, 1002, /RSV1/);
    });

    it("RSV1 on a ping: 1002", async () => {
      const { ws, peer } = await deflateOpen();
      peer.write(rawFrame({ opcode: OP.PING, rsv: RSV1, payload: [1] }));
      await expectFailure(ws, peer, 1002);
    });

    it("RSV2 on a data frame: 1002", async () => {
      const { ws, peer } = await deflateOpen();
      peer.write(text("x", true, RSV2));
      await expectFailure(ws, peer, 1002);
    });
  });

  // Autobahn 6.3.1: "κόσμε" with a surrogate (U+D800, ed a0 80) in the middle, then "edited".
  const BAD = Buffer.from("cebae1bdb9cf83cebcceb5eda080656469746564", "hex");

  it("invalid UTF-8 in a text frame: 1007", async () => {
    await failsWith(text(BAD), 1007);
  });

  it.each([
    ["a lone continuation byte", [0x80]],
    ["an overlong NUL", [0xc0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["0xff", [0x61, 0xff, 0x62]],
    ["a truncated sequence at the end", [0x61, 0xe2, 0x82]],
  ])("invalid UTF-8 (%s) in a text frame: 1007", async (_name, bytes) => {
    await failsWith(text(bytes), 1007);
  });

  it("invalid UTF-8 split across fragments (a code point cut in two, then broken): 1007", async () => {
    // e2 82 | 28: the fragment boundary falls inside a 3-byte sequence that is not finished.
    await failsWith([text([0xce, 0xba, 0xe2, 0x82], false), cont([0x28, 0x61])], 1007);
  });

  it("a truncated code point at the end of the last fragment: 1007", async () => {
    await failsWith([text("abc", false), cont([0x64, 0xf0, 0x9f, 0x98])], 1007);
  });

  it("invalid UTF-8 in one frame split across TCP chunks, byte by byte: 1007", async () => {
    const frame = text(BAD);
    await failsWith(splitAt(frame, Array.from({ length: frame.length - 1 }, (_, i) => i + 1)), 1007);
  });

  it("fails fast: invalid UTF-8 in a first fragment, before the message ends: 1007", async () => {
    // RFC 6455 §8.1; Autobahn 6.4: the rest of the message never comes.
    await failsWith(text([0x61, 0xff], false), 1007);
  });

  it("fails fast: invalid UTF-8 in the received part of a frame, before its end: 1007", async () => {
    const frame = text(Buffer.concat([Buffer.from([0x61, 0xf5]), Buffer.alloc(100, 0x61)]));
    await failsWith(frame.subarray(0, 10), 1007);
  });

  it("accepts a code point split across fragments and TCP chunks (the control case)", async () => {
    const { ws, peer } = await open();
    await peer.writeChunks([text([0x61, 0xe2], false), cont([0x82], false), cont([0xac, 0xf0, 0x9f], false).subarray(0, 3), cont([0xac, 0xf0, 0x9f], false).subarray(3), cont([0x98, 0x80])]);
    expect(await within(ws.wait(), WAIT_MS, "a message")).toBe("a€😀");
  });

  it("binary frames are not checked as UTF-8 (the control case)", async () => {
    const { ws, peer } = await open();
    peer.write(rawFrame({ opcode: OP.BINARY, payload: BAD }));
    const message = await within(ws.wait(), WAIT_MS, "a message");
    expect(Buffer.isBuffer(message) && message.equals(BAD)).toBe(true);
  });

  describe("maxPayload", () => {
    const LIMIT = 1000;

    it("accepts a message of exactly maxPayload (the control case)", async () => {
      const { ws, peer } = await open({ maxPayload: LIMIT });
      peer.write(rawFrame({ opcode: OP.BINARY, payload: Buffer.alloc(LIMIT, 7) }));
      expect(((await within(ws.wait(), WAIT_MS, "a message")) as Buffer).length).toBe(LIMIT);
    });

    it("a frame one byte over: 1009, decided from the header alone", async () => {
      // Only the 4 header bytes are sent: the payload never comes.
      const header = rawFrame({ opcode: OP.BINARY, payload: Buffer.alloc(LIMIT + 1) }).subarray(0, 4);
      await failsWith(header, 1009, { maxPayload: LIMIT });
    });

    it("a text frame declaring 2^32 bytes (64-bit length): 1009 from the header", async () => {
      const header = rawFrame({ opcode: OP.TEXT, length: 2 ** 32, lengthEncoding: 64 });
      expect(header.length).toBe(10);
      await failsWith(header, 1009, { maxPayload: LIMIT });
    });

    it("fragments whose total passes maxPayload: 1009 at the header of the one that passes", async () => {
      const first = rawFrame({ opcode: OP.BINARY, fin: false, payload: Buffer.alloc(600) });
      const second = rawFrame({ opcode: OP.CONT, payload: Buffer.alloc(401) }).subarray(0, 4);
      await failsWith([first, second], 1009, { maxPayload: LIMIT });
    });

    it("a 64-bit length with its most significant bit set: 1002", async () => {
      await failsWith(rawFrame({ opcode: OP.BINARY, length: 2n ** 63n, lengthEncoding: 64 }), 1002, { maxPayload: LIMIT });
    });
  });

  it.each([3, 4, 5, 6, 7])("reserved data opcode %i: 1002", async (opcode) => {
    await failsWith(rawFrame({ opcode, payload: [1, 2, 3] }), 1002, {}, /opcode/);
  });

  it.each([0xb, 0xc, 0xd, 0xe, 0xf])("reserved control opcode %i: 1002", async (opcode) => {
    await failsWith(rawFrame({ opcode }), 1002, {}, /opcode/);
  });

  it("a reserved opcode between the fragments of a message: 1002", async () => {
    await failsWith([text("ab", false), rawFrame({ opcode: 0xb }), cont("cd")], 1002);
  });

  it.each([
    ["ping", OP.PING, Buffer.from("p")],
    ["pong", OP.PONG, Buffer.from("p")],
    ["close", OP.CLOSE, Buffer.from([0x03, 0xe8])],
  ])("a fragmented %s (FIN clear): 1002", async (_name, opcode, payload) => {
    await failsWith(rawFrame({ opcode, fin: false, payload }), 1002, {}, /fragmented/);
  });

  it("a fragmented ping between the fragments of a message: 1002", async () => {
    await failsWith(Buffer.concat([text("ab", false), rawFrame({ opcode: OP.PING, fin: false, payload: [1] }), rawFrame({ opcode: OP.CONT, payload: [2] })]), 1002);
  });

  it.each([
    ["ping", OP.PING],
    ["pong", OP.PONG],
    ["close", OP.CLOSE],
  ])("a %s with 126 bytes of payload: 1002", async (_name, opcode) => {
    const payload = Buffer.alloc(126, 0x61);
    if (opcode === OP.CLOSE) payload.writeUInt16BE(1000, 0);
    await failsWith(rawFrame({ opcode, payload }), 1002, {}, /125/);
  });

  it("a ping declaring 65,536 bytes (64-bit length), header only: 1002", async () => {
    await failsWith(rawFrame({ opcode: OP.PING, length: 65536 }), 1002);
  });

  it("a continuation frame with no message started: 1002", async () => {
    await failsWith(cont("orphan"), 1002);
  });

  it("a new data frame while a fragmented message is open: 1002", async () => {
    await failsWith(Buffer.concat([text("ab", false), text("cd")]), 1002);
  });

  it.each([0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])(
    "a close frame with the invalid code %i: 1002",
    async (code) => {
      await failsWith(closeFrame(code), 1002);
    },
  );

  it("a close frame with a 1-byte body: 1002", async () => {
    await failsWith(rawFrame({ opcode: OP.CLOSE, payload: [0x03] }), 1002);
  });

  it("a close frame with an invalid UTF-8 reason: 1007", async () => {
    await failsWith(rawFrame({ opcode: OP.CLOSE, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), BAD]) }), 1007);
  });
});

// ---------------------------------------------------------------------------------------
// What the client must handle
// ---------------------------------------------------------------------------------------

/** Reads the client's frames until its close frame; returns the control frames before it and the close. */
async function readUntilClose(peer: RawPeer): Promise<{ before: ClientFrame[]; close: ClientFrame }> {
  const before: ClientFrame[] = [];
  for (;;) {
    const frame = await peer.readFrame();
    if (frame.opcode === OP.CLOSE) return { before, close: frame };
    before.push(frame);
  }
}

/** The server closes after the client's close: its close frame (echoing `code`) then FIN. */
async function finishClose(peer: RawPeer, code?: number, reason = ""): Promise<void> {
  peer.write(closeFrame(code, reason));
  peer.end();
  await peer.waitEnd();
}

describe("what a client must handle", { timeout: CASE_MS }, () => {
  it("fragments with pings between them: each ping answered at once with a masked pong, the message delivered whole", async () => {
    const { ws, peer } = await open();
    const pieces = ["Hel", "lo, ", "wor", "ld ✓"];
    const pings = [Buffer.from("p1"), Buffer.alloc(0), Buffer.from([0, 1, 2, 255]), Buffer.alloc(125, 0x5a)];
    for (let i = 0; i < pieces.length; i++) {
      const fin = i === pieces.length - 1;
      const data = rawFrame({ opcode: i === 0 ? OP.TEXT : OP.CONT, fin, payload: Buffer.from(pieces[i]) });
      if (fin) {
        peer.write(data);
        break;
      }
      peer.write(Buffer.concat([data, rawFrame({ opcode: OP.PING, payload: pings[i] })]));
      // The pong comes while the message is still open: the client does not wait for its end.
      const pong = await peer.readFrame();
      expect(pong.opcode).toBe(OP.PONG);
      expect(pong.payload.equals(pings[i])).toBe(true);
      expect(ws.hasMessages()).toBe(false);
    }
    expect(await within(ws.wait(), WAIT_MS, "the message")).toBe("Hello, world ✓");
    expect(ws.countMessages()).toBe(0);
    // A ping with the largest payload, alone.
    peer.write(rawFrame({ opcode: OP.PING, payload: pings[3] }));
    const pong = await peer.readFrame();
    expect(pong.opcode).toBe(OP.PONG);
    expect(pong.payload.equals(pings[3])).toBe(true);
  });

  it("fragments and pings in one TCP chunk: pongs in order, the binary message whole", async () => {
    const { ws, peer } = await open();
    peer.write(
      Buffer.concat([
        rawFrame({ opcode: OP.BINARY, fin: false, payload: [1, 2] }),
        rawFrame({ opcode: OP.PING, payload: Buffer.from("a") }),
        rawFrame({ opcode: OP.PONG, payload: Buffer.from("unsolicited") }),
        rawFrame({ opcode: OP.CONT, fin: false, payload: [] }),
        rawFrame({ opcode: OP.PING, payload: Buffer.from("b") }),
        rawFrame({ opcode: OP.CONT, payload: [3] }),
      ]),
    );
    const message = await within(ws.wait(), WAIT_MS, "the message");
    expect(Buffer.isBuffer(message) && [...message]).toEqual([1, 2, 3]);
    const first = await peer.readFrame();
    const second = await peer.readFrame();
    expect([first.opcode, first.payload.toString(), second.opcode, second.payload.toString()]).toEqual([OP.PONG, "a", OP.PONG, "b"]);
    await sleep(30);
    expect(peer.pending, "no answer to an unsolicited pong").toBe(0);
  });

  it.each([
    [1000, "bye"],
    [1001, ""],
    [1011, "internal"],
    [4001, "done ✓ — ünïcödé"],
    [3000, "r".repeat(123)],
  ])("a close started by the server (%i): a masked close echoing the code, then a clean close", async (code, reason) => {
    const { ws, peer } = await open();
    peer.write(closeFrame(code, reason));
    const close = await peer.readClose();
    expect(close.code).toBe(code);
    expect(await within(ws.wait(), WAIT_MS, "wait() to end")).toBeNull();
    expect(() => ws.send("late")).toThrow(/closed/);
    // The server closes TCP first (RFC 6455 §7.1.1).
    peer.end();
    await peer.waitEnd();
    expect(await closeInfo(ws)).toEqual({ code, reason, wasClean: true });
    expect(ws.readyState).toBe(3);
  });

  it("a close with no status code: echoed without one, closed reports 1005", async () => {
    const { ws, peer } = await open();
    peer.write(closeFrame());
    const close = await peer.readClose();
    expect(close).toEqual({ code: undefined, reason: "" });
    peer.end();
    expect(await closeInfo(ws)).toEqual({ code: 1005, reason: "", wasClean: true });
  });

  it("messages before the server's close are still delivered; frames after it are ignored", async () => {
    const { ws, peer } = await open();
    peer.write(Buffer.concat([text("first"), text("second"), closeFrame(1000, "bye"), text("after close"), rawFrame({ opcode: OP.PING })]));
    const close = await peer.readClose();
    expect(close.code).toBe(1000);
    peer.end();
    expect(await ws.wait()).toBe("first");
    expect(await ws.wait()).toBe("second");
    expect(await ws.wait()).toBeNull();
    expect(await closeInfo(ws)).toEqual({ code: 1000, reason: "bye", wasClean: true });
    expect(peer.pending, "no pong after the close").toBe(0);
  });

  it("frames in the same TCP chunk as the 101", async () => {
    const { outcome, peer } = await dial();
    const { key } = await peer.readHandshake();
    peer.write(
      Buffer.concat([
        Buffer.from(RawPeer.response101(key), "latin1"),
        text("hello"),
        rawFrame({ opcode: OP.BINARY, payload: [9, 8, 7] }),
        rawFrame({ opcode: OP.PING, payload: Buffer.from("early") }),
      ]),
    );
    const result = await within(outcome, WAIT_MS, "connect()");
    if (!result.ok) throw result.error;
    const ws = result.value;
    expect(await within(ws.wait(), WAIT_MS, "message 1")).toBe("hello");
    expect(await within(ws.wait(), WAIT_MS, "message 2")).toEqual(Buffer.from([9, 8, 7]));
    const pong = await peer.readFrame();
    expect([pong.opcode, pong.payload.toString()]).toEqual([OP.PONG, "early"]);
  });

  it("a close in the same TCP chunk as the 101", async () => {
    const { outcome, peer } = await dial();
    const { key } = await peer.readHandshake();
    peer.write(Buffer.concat([Buffer.from(RawPeer.response101(key), "latin1"), text("only"), closeFrame(1001, "going")]));
    const result = await within(outcome, WAIT_MS, "connect()");
    if (!result.ok) throw result.error;
    const ws = result.value;
    expect((await peer.readClose()).code).toBe(1001);
    peer.end();
    expect(await ws.wait()).toBe("only");
    expect(await ws.wait()).toBeNull();
    expect(await closeInfo(ws)).toEqual({ code: 1001, reason: "going", wasClean: true });
  });

  it("a bad frame in the same TCP chunk as the 101: 1002", async () => {
    const { outcome, peer } = await dial();
    const { key } = await peer.readHandshake();
    peer.write(Buffer.concat([Buffer.from(RawPeer.response101(key), "latin1"), rawFrame({ opcode: OP.TEXT, payload: [0x61], rsv: RSV2 })]));
    const result = await within(outcome, WAIT_MS, "connect()");
    if (!result.ok) throw result.error;
    await expectFailure(result.value, peer, 1002);
  });

  it("the 101 and a message delivered byte by byte", async () => {
    const { outcome, peer } = await dial();
    const { key } = await peer.readHandshake();
    const message = "byte by byte: " + "ü".repeat(60); // 134 bytes: a 16-bit length
    const bytes = Buffer.concat([
      Buffer.from(RawPeer.response101(key), "latin1"),
      text(Buffer.from(message).subarray(0, 50), false),
      rawFrame({ opcode: OP.PING, payload: Buffer.from("pp") }),
      cont(Buffer.from(message).subarray(50)),
    ]);
    const all = splitAt(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1));
    const writing = peer.writeChunks(all, 0);
    const result = await within(outcome, WAIT_MS, "connect()");
    if (!result.ok) throw result.error;
    expect(await within(result.value.wait(), WAIT_MS, "the message")).toBe(message);
    await writing;
    const pong = await peer.readFrame();
    expect([pong.opcode, pong.payload.toString()]).toEqual([OP.PONG, "pp"]);
  });

  it("frames of every length encoding, each split at every header byte", async () => {
    const { ws, peer } = await open();
    for (const length of [0, 125, 126, 65535, 65536]) {
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 31 + length) & 0xff;
      const frame = rawFrame({ opcode: OP.BINARY, payload });
      const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
      await peer.writeChunks(splitAt(frame, [...Array.from({ length: header }, (_, i) => i + 1), header + 1, header + 100]));
      const message = await within(ws.wait(), WAIT_MS, `a ${length}-byte message`);
      expect(Buffer.isBuffer(message) && message.equals(payload), `${length} bytes`).toBe(true);
    }
  });

  it("the client's own close: a masked close with its code and reason; it waits for the server's", async () => {
    const { ws, peer } = await open();
    ws.close(4000, "done here");
    expect(ws.readyState).toBe(2);
    expect(() => ws.send("x")).toThrow(/closing: close\(\) was called/);
    const close = await peer.readClose();
    expect(close).toEqual({ code: 4000, reason: "done here" });
    // Not closed until the server answers.
    const early = await Promise.race([ws.closed, sleep(150).then(() => "pending")]);
    expect(early).toBe("pending");
    expect(peer.ended, "the client keeps TCP open until the server's close").toBe(false);
    await finishClose(peer, 4000, "ack");
    expect(await closeInfo(ws)).toEqual({ code: 4000, reason: "ack", wasClean: true });
  });

  it("wait() and for await end (null) as soon as the client has called close()", async () => {
    // src/connection/websocket.ts documents wait(): "null once the connection is closing
    // or closed and every queued message has been read".
    const { ws, peer } = await open();
    const pending = ws.wait();
    const iterator = ws[Symbol.asyncIterator]();
    ws.close(1000);
    expect(await within(pending, 1_000, "a pending wait() after close()")).toBeNull();
    expect(await within(ws.wait(), 1_000, "wait() after close()")).toBeNull();
    expect(await within(iterator.next(), 1_000, "for await after close()")).toEqual({ value: undefined, done: true });
    await peer.readClose();
    await finishClose(peer, 1000);
  });

  it("close() with no arguments sends 1000 and no reason", async () => {
    const { ws, peer } = await open();
    ws.close();
    expect(await peer.readClose()).toEqual({ code: 1000, reason: "" });
    await finishClose(peer, 1000);
    expect(await closeInfo(ws)).toEqual({ code: 1000, reason: "", wasClean: true });
  });

  it("data and pings arriving after the client's close: no data frame sent, the handshake still ends cleanly", async () => {
    const { ws, peer } = await open();
    ws.close(1000);
    await peer.readClose();
    peer.write(Buffer.concat([text("late"), rawFrame({ opcode: OP.PING, payload: Buffer.from("x") })]));
    await finishClose(peer, 1000);
    expect(await closeInfo(ws)).toEqual({ code: 1000, reason: "", wasClean: true });
    // RFC 6455 §5.5.1: no data frame after a close frame (a pong would be allowed).
    while (peer.pending > 0) expect((await peer.readFrame()).opcode).toBe(OP.PONG);
  });

  it("the client's close unanswered: TCP dropped after closeTimeoutMs, closed is 1006", async () => {
    const { ws, peer } = await open({ closeTimeoutMs: 300 });
    const started = Date.now();
    ws.close(1000, "bye");
    expect(await peer.readClose()).toEqual({ code: 1000, reason: "bye" });
    const info = await closeInfo(ws);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(info).toEqual({ code: 1006, reason: expect.any(String), wasClean: false });
    await peer.waitEnd();
  });

  it("the server vanishing without a close: closed is 1006, not clean", async () => {
    const { ws, peer } = await open();
    peer.write(text("last words"));
    peer.end();
    expect(await within(ws.wait(), WAIT_MS, "a message")).toBe("last words");
    expect(await within(ws.wait(), WAIT_MS, "the end")).toBeNull();
    expect(await closeInfo(ws)).toEqual({ code: 1006, reason: "", wasClean: false });
  });

  it("ping() sends a masked ping, the server's pong is accepted", async () => {
    const { ws, peer } = await open();
    ws.ping("are you there");
    const ping = await peer.readFrame();
    expect([ping.opcode, ping.payload.toString()]).toEqual([OP.PING, "are you there"]);
    peer.write(rawFrame({ opcode: OP.PONG, payload: ping.payload }));
    ws.send("after");
    const message = await peer.readMessage();
    expect(message?.data.toString()).toBe("after");
    expect(() => ws.ping(Buffer.alloc(126))).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/** Deterministic bytes (a xorshift stream) so that large payloads cost no generation time. */
function bytesFrom(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

type Outgoing = { kind: "text"; value: string } | { kind: "binary"; value: Buffer };

const outgoingArb: fc.Arbitrary<Outgoing> = fc.oneof(
  { arbitrary: unicodeStringArb(60).map((value): Outgoing => ({ kind: "text", value })), weight: 3 },
  {
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.integer({ min: 0, max: 130 }),
          fc.integer({ min: 65530, max: 65540 }),
          fc.constantFrom(125, 126, 127, 65535, 65536),
          fc.integer({ min: 131, max: 70_000 }),
        ),
        fc.integer(),
      )
      .map(([length, seed]): Outgoing => ({ kind: "binary", value: bytesFrom(seed, length) })),
    weight: 3,
  },
  // Text of every length encoding too.
  fc.constantFrom(125, 126, 65535, 65536).map((length): Outgoing => ({ kind: "text", value: "é".repeat(length >> 1) + "x".repeat(length & 1) })),
);

describe("properties", { timeout: 40_000 }, () => {
  it("messages sent by the client arrive at the server masked with fresh keys and byte-exact once unmasked", async () => {
    let frames = 0;
    let keys = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(outgoingArb, { minLength: 1, maxLength: 6 }), async (messages) => {
        const { ws, peer } = await open();
        for (const message of messages) ws.send(message.value);
        for (const message of messages) {
          const received = await peer.readMessage();
          expect(received).not.toBeNull();
          expect(received!.binary).toBe(message.kind === "binary");
          const expected = message.kind === "text" ? Buffer.from(message.value) : message.value;
          expect(received!.data.length).toBe(expected.length);
          expect(received!.data.equals(expected)).toBe(true);
        }
        ws.close(1000);
        expect(await peer.readClose()).toEqual({ code: 1000, reason: "" });
        frames += messages.length + 1;
        keys += peer.maskKeyCount;
        await finishClose(peer, 1000);
        expect(await closeInfo(ws)).toEqual({ code: 1000, reason: "", wasClean: true });
        server.reset();
      }),
      { numRuns: 25, endOnFailure: true },
    );
    // Every frame had its own key (RawPeer checks this per connection).
    expect(keys).toBeGreaterThanOrEqual(frames);
  });

  it("frame sequences from the server, chunked at random, are delivered as the messages they encode", async () => {
    const expectedMessages = (items: readonly StreamItem[]): MessageItem[] =>
      items.filter((item): item is MessageItem => item.kind === "message");
    const pingsOf = (items: readonly StreamItem[]): Buffer[] => {
      const pings: Buffer[] = [];
      for (const item of items) {
        if (item.kind === "ping") pings.push(Buffer.from(item.data));
        if (item.kind === "message") for (const between of item.between) for (const c of between) if (c.kind === "ping") pings.push(Buffer.from(c.data));
      }
      return pings;
    };
    await fc.assert(
      fc.asyncProperty(streamArb(400, 6), cutsArb(10), fc.boolean(), async (items, cuts, withHead) => {
        const { outcome, peer } = await dial();
        const { key } = await peer.readHandshake();
        const head = Buffer.from(RawPeer.response101(key), "latin1");
        const stream = rawStream(items, "client");
        let bytes = stream;
        if (withHead) bytes = Buffer.concat([head, stream]);
        else peer.write(head);
        const writing = peer.writeChunks(splitAt(bytes, cuts.map((cut) => cut % (bytes.length + 1)).sort((a, b) => a - b)));
        const result = await within(outcome, WAIT_MS, "connect()");
        if (!result.ok) throw result.error;
        const ws = result.value;
        await writing;
        for (const message of expectedMessages(items)) {
          const received = await within(ws.wait(), WAIT_MS, "a message");
          if (message.binary) {
            expect(Buffer.isBuffer(received)).toBe(true);
            expect((received as Buffer).equals(Buffer.from(message.data))).toBe(true);
          } else {
            expect(received).toBe(message.text);
          }
        }
        const last = items.at(-1);
        if (last?.kind === "close") {
          const { before, close } = await readUntilClose(peer);
          expect(before.map((f) => [f.opcode, f.payload.toString("hex")])).toEqual(pingsOf(items).map((p) => [OP.PONG, p.toString("hex")]));
          const body = close.payload;
          if (last.code === undefined) expect(body.length).toBe(0);
          else expect(body.readUInt16BE(0)).toBe(last.code);
          peer.end();
          expect(await within(ws.wait(), WAIT_MS, "the end")).toBeNull();
          expect(await closeInfo(ws)).toEqual({ code: last.code ?? 1005, reason: last.code === undefined ? "" : last.reason, wasClean: true });
        } else {
          // Every ping is answered while open (a ping that arrives after close() need not be).
          const pongs: ClientFrame[] = [];
          for (let i = 0; i < pingsOf(items).length; i++) pongs.push(await peer.readFrame());
          expect(pongs.map((f) => [f.opcode, f.payload.toString("hex")])).toEqual(pingsOf(items).map((p) => [OP.PONG, p.toString("hex")]));
          ws.close(1000);
          const { before, close } = await readUntilClose(peer);
          expect(before, "nothing between the pongs and the close").toEqual([]);
          expect(close.payload.readUInt16BE(0)).toBe(1000);
          await finishClose(peer, 1000);
          expect(await closeInfo(ws)).toEqual({ code: 1000, reason: "", wasClean: true });
        }
        server.reset();
      }),
      { numRuns: 40, endOnFailure: true },
    );
  });
});
