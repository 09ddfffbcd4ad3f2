/**
 * The opening handshake over real sockets (RFC 6455 §4.2): what is accepted, and every
 * refusal with its exact status. Each refusal is followed by a good client, which the
 * server must still serve.
 */
import { describe, expect, it, vi } from "vitest";
import { encodeMessage } from "../../src/frame/index.js";
import { HttpError, acceptWebSocket, requireWebSocket } from "../../src/index.js";
import {
  KiB,
  type RawClient,
  Tap,
  acceptFor,
  echo,
  echoRoute,
  expectEchoes,
  newKey,
  plainRequest,
  requestHead,
  upgradeRequest,
  useResources,
  type RequestSpec,
} from "../support/index.js";

const resources = useResources();

describe("handshake accepted", () => {
  it("answers 101 with the RFC 6455 headers and the right Sec-WebSocket-Accept", async () => {
    const { port } = await resources.server({ "/echo": echoRoute() });
    const client = await resources.raw(port);
    const key = newKey();
    client.write(upgradeRequest({ path: "/echo", key }));
    const response = await client.response();
    expect(response.statusLine).toBe("HTTP/1.1 101 Switching Protocols");
    expect(response.headers["upgrade"]).toMatch(/^websocket$/i);
    expect(response.headers["connection"]).toMatch(/^upgrade$/i);
    expect(response.headers["sec-websocket-accept"]).toBe(acceptFor(key));
    expect(response.headers["sec-websocket-protocol"]).toBeUndefined();
    expect(response.headers["content-length"]).toBeUndefined();
  });

  it("computes the RFC 6455 §1.3 sample accept value", async () => {
    const { port } = await resources.server({ "/echo": echoRoute() });
    const client = await resources.raw(port);
    await client.handshake({ path: "/echo", key: "dGhlIHNhbXBsZSBub25jZQ==" });
    expect((await client.response()).headers["sec-websocket-accept"]).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  describe("subprotocol selection (RFC 6455 §4.2.2)", () => {
    const cases: Array<{ name: string; offer?: string; expected: string | undefined; options: "array" | "function" }> = [
      { name: "array: the client's first supported offer", offer: "superchat, chat", expected: "superchat", options: "array" },
      { name: "array: an offer the server supports", offer: "v9, chat", expected: "chat", options: "array" },
      { name: "array: no supported offer → no header", offer: "v9, v10", expected: undefined, options: "array" },
      { name: "array: no offer → no header", expected: undefined, options: "array" },
      { name: "function: its choice", offer: "a, b, c", expected: "c", options: "function" },
      { name: "function: null → no header", offer: "z", expected: undefined, options: "function" },
      { name: "function: no offer → no header, not called", expected: undefined, options: "function" },
    ];
    it.each(cases)("$name", async ({ offer, expected, options }) => {
      const selector = vi.fn((offered: string[]) => (offered.includes("z") ? null : offered[offered.length - 1]));
      const tap = new Tap();
      const protocols = options === "array" ? ["chat", "superchat"] : selector;
      const { port } = await resources.server({ "/p": tap.route({ protocols }) });
      const client = await resources.raw(port);
      const response = await client.handshake({
        path: "/p",
        headers: offer === undefined ? {} : { "Sec-WebSocket-Protocol": offer },
      });
      expect(response.headers["sec-websocket-protocol"]).toBe(expected);
      expect((await tap.next()).protocol).toBe(expected ?? "");
      if (options === "function" && offer === undefined) expect(selector).not.toHaveBeenCalled();
    });

    it("the server-wide option applies to routes without their own", async () => {
      const tap = new Tap();
      const { port } = await resources.server({ "/p": tap.route() }, { protocols: ["mqtt"] });
      const client = await resources.raw(port);
      const response = await client.handshake({ path: "/p", headers: { "Sec-WebSocket-Protocol": "wamp, mqtt" } });
      expect(response.headers["sec-websocket-protocol"]).toBe("mqtt");
    });
  });

  it("accepts a handshake sent one byte per write", async () => {
    const { port } = await resources.server({ "/echo": echoRoute() });
    const client = await resources.raw(port);
    const key = newKey();
    await client.writeByteByByte(upgradeRequest({ path: "/echo", key }));
    const response = await client.response();
    expect(response.status).toBe(101);
    expect(response.headers["sec-websocket-accept"]).toBe(acceptFor(key));
    client.sendText("byte by byte");
    expect(await client.nextFrame()).toEqual({ type: "text", data: "byte by byte" });
  });

  it("does not lose frames sent in the same write as the handshake", async () => {
    const { port } = await resources.server({ "/echo": echoRoute() });
    const client = await resources.raw(port);
    const frames = [
      upgradeRequest({ path: "/echo" }),
      ...encodeMessage("first", { mask: true }),
      ...encodeMessage(Buffer.from([1, 2, 3]), { mask: true }),
    ];
    client.write(frames);
    expect((await client.response()).status).toBe(101);
    expect(await client.nextFrame()).toEqual({ type: "text", data: "first" });
    expect(await client.nextFrame()).toEqual({ type: "binary", data: Buffer.from([1, 2, 3]) });
  });

  it("ignores empty lines before the request line (RFC 9112 §2.2), in their own packet too", async () => {
    const { port } = await resources.server({ "/echo": echoRoute() });
    const client = await resources.raw(port);
    client.write(Buffer.from("\r\n\r", "latin1"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    client.write([Buffer.from("\n", "latin1"), upgradeRequest({ path: "/echo" }), ...encodeMessage("after", { mask: true })]);
    expect((await client.response()).status).toBe(101);
    expect(await client.nextFrame()).toEqual({ type: "text", data: "after" });
  });

  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it.each([
    {
      when: "in the handshake's packet",
      send: async (client: RawClient) => {
        client.write([upgradeRequest({ path: "/echo" }), ...encodeMessage("early", { mask: true })]);
      },
    },
    {
      when: "in later packets",
      send: async (client: RawClient) => {
        client.write(upgradeRequest({ path: "/echo" }));
        await pause(20);
        client.write(encodeMessage("early", { mask: true }));
      },
    },
  ])("holds frames sent $when while an async authorize hook runs", async ({ send }) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { port } = await resources.server({
      "/echo": echoRoute({ authorize: () => gate.then(() => true) }),
    });
    const client = await resources.raw(port);
    await send(client);
    await pause(20);
    release();
    expect((await client.response()).status).toBe(101);
    expect(await client.nextFrame()).toEqual({ type: "text", data: "early" });
  });
});

describe("an authorize hook that does not settle", () => {
  it("gets handshakeTimeoutMs: then 503, onError is told, and the server serves others", async () => {
    const onError = vi.fn();
    let settle!: (verdict: boolean) => void;
    const { port } = await resources.server(
      {
        "/echo": echoRoute(),
        "/stuck": echoRoute({ authorize: () => new Promise<boolean>((resolve) => (settle = resolve)) }),
      },
      { handshakeTimeoutMs: 300, onError },
    );
    const client = await resources.raw(port);
    const sentAt = performance.now();
    client.write(upgradeRequest({ path: "/stuck" }));
    const response = await client.response();
    const waited = performance.now() - sentAt;
    expect(response.status).toBe(503);
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(3_000);
    expect(onError).toHaveBeenCalledTimes(1);
    expect((onError.mock.calls[0][0] as Error).message).toMatch(/authorize did not settle within handshakeTimeoutMs \(300 ms\)/);
    expect(onError.mock.calls[0][1].path).toBe("/stuck");
    // Settling late changes nothing: the answer was given.
    settle(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(onError).toHaveBeenCalledTimes(1);
    await expectEchoes(resources, port);
  });

  it("a hook that settles in time is not cut short by the head's timer", async () => {
    const { port } = await resources.server(
      { "/slow": echoRoute({ authorize: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 250)) }) },
      { handshakeTimeoutMs: 300 },
    );
    const client = await resources.raw(port);
    // The head arrives well inside its window, and the hook takes it past the head's
    // deadline, within its own (the two timers are the server's: 250 ms fires first).
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.write(upgradeRequest({ path: "/slow" }));
    expect((await client.response()).status).toBe(101);
  });
});

describe("handshake refused", () => {
  const onError = vi.fn();
  const plainHandler = vi.fn();

  /** A server with a route for each refusal; every case ends by checking it still serves /echo. */
  async function refusalServer() {
    onError.mockClear();
    plainHandler.mockClear();
    return resources.server(
      {
        "/echo": echoRoute(),
        "/accept": acceptWebSocket(async (req) => {
          plainHandler(req.isWebSocket());
          if (req.isWebSocket()) return echo(req.websocket!);
          return `plain, isWebSocket=${req.isWebSocket()}`;
        }),
        "/auth-false": echoRoute({ authorize: () => false }),
        "/auth-401": echoRoute({ authorize: async () => ({ status: 401, message: "log in first" }) }),
        "/auth-429": echoRoute({
          authorize: () => {
            throw new HttpError(429, "slow down", { "Retry-After": "7" });
          },
        }),
        "/auth-throws": echoRoute({
          authorize: () => {
            throw new Error("authorize exploded");
          },
        }),
        "/origin": echoRoute({ allowOrigin: ["https://good.example"] }),
      },
      { onError },
    );
  }

  const ws = (spec: RequestSpec) => upgradeRequest({ path: "/echo", ...spec });
  const pad = "a".repeat(17 * KiB);
  const cases: Array<{ name: string; request: Buffer; status: number; headers?: Record<string, RegExp> }> = [
    { name: "method POST → 405", request: ws({ method: "POST" }), status: 405, headers: { allow: /^GET$/ } },
    { name: "HTTP/1.0 → 400", request: ws({ httpVersion: "1.0" }), status: 400 },
    { name: "missing Host → 400", request: ws({ headers: { Host: null } }), status: 400 },
    {
      name: "requireWebSocket without Upgrade → 426",
      request: ws({ headers: { Upgrade: null, Connection: null } }),
      status: 426,
      headers: { upgrade: /^websocket$/i, "sec-websocket-version": /^13$/ },
    },
    {
      name: "requireWebSocket with Upgrade: h2c → 426",
      request: ws({ headers: { Upgrade: "h2c" } }),
      status: 426,
      headers: { upgrade: /^websocket$/i, "sec-websocket-version": /^13$/ },
    },
    { name: "Connection without upgrade → 400", request: ws({ headers: { Connection: "keep-alive" } }), status: 400 },
    {
      name: "Sec-WebSocket-Version: 8 → 426",
      request: ws({ headers: { "Sec-WebSocket-Version": "8" } }),
      status: 426,
      headers: { "sec-websocket-version": /^13$/ },
    },
    { name: "missing Sec-WebSocket-Version → 426", request: ws({ headers: { "Sec-WebSocket-Version": null } }), status: 426 },
    { name: "missing Sec-WebSocket-Key → 400", request: ws({ headers: { "Sec-WebSocket-Key": null } }), status: 400 },
    { name: "key of 15 bytes → 400", request: ws({ key: Buffer.alloc(15, 7).toString("base64") }), status: 400 },
    { name: "key of 17 bytes → 400", request: ws({ key: Buffer.alloc(17, 7).toString("base64") }), status: 400 },
    { name: "key not base64 → 400", request: ws({ key: "!!!!!!!!!!!!!!!!!!!!!!==" }), status: 400 },
    {
      name: "duplicate Sec-WebSocket-Key → 400",
      request: ws({ headers: { "Sec-WebSocket-Key": [newKey(), newKey()] } }),
      status: 400,
    },
    {
      // The body would otherwise be read as frames (a masked text frame follows it here).
      name: "a body of Content-Length bytes → 400",
      request: Buffer.concat([
        ws({ headers: { "Content-Length": "5" } }),
        Buffer.from("hello"),
        ...encodeMessage("after the body", { mask: true }),
      ]),
      status: 400,
    },
    {
      name: "Transfer-Encoding: chunked → 400",
      request: Buffer.concat([ws({ headers: { "Transfer-Encoding": "chunked" } }), Buffer.from("0\r\n\r\n")]),
      status: 400,
    },
    { name: "head over 16 KiB → 431", request: ws({ headers: { "X-Pad": pad } }), status: 431 },
    { name: "malformed request line → 400", request: ws({ requestLine: "GET  /echo HTTP/1.1" }), status: 400 },
    { name: "request line without version → 400", request: ws({ requestLine: "GET /echo" }), status: 400 },
    { name: "unknown path → 404", request: ws({ path: "/nowhere" }), status: 404 },
    { name: "authorize returns false → 403", request: ws({ path: "/auth-false" }), status: 403 },
    { name: "authorize returns { status: 401 } → 401", request: ws({ path: "/auth-401" }), status: 401 },
    {
      name: "authorize throws HttpError(429) → 429",
      request: ws({ path: "/auth-429" }),
      status: 429,
      headers: { "retry-after": /^7$/ },
    },
    { name: "authorize throws an Error → 500", request: ws({ path: "/auth-throws" }), status: 500 },
    {
      name: "allowOrigin refuses the Origin → 403",
      request: ws({ path: "/origin", headers: { Origin: "https://evil.example" } }),
      status: 403,
    },
    { name: "allowOrigin refuses a missing Origin → 403", request: ws({ path: "/origin" }), status: 403 },
  ];

  it.each(cases)("$name, then still serves a good client", async ({ request, status, headers }) => {
    const { port } = await refusalServer();
    const response = await resources.request(port, request);
    expect(response.status).toBe(status);
    expect(response.headers["sec-websocket-accept"]).toBeUndefined();
    expect(response.headers["connection"]).toMatch(/close/i);
    expect(response.body.length).toBe(Number(response.headers["content-length"]));
    expect(response.body.toString().trim().length).toBeGreaterThan(0);
    for (const [name, pattern] of Object.entries(headers ?? {})) expect(response.headers[name]).toMatch(pattern);
    if (status === 500) {
      expect(onError).toHaveBeenCalledTimes(1);
      expect((onError.mock.calls[0][0] as Error).message).toBe("authorize exploded");
      expect(response.body.toString()).not.toContain("exploded");
    } else {
      expect(onError).not.toHaveBeenCalled();
    }
    await expectEchoes(resources, port);
  });

  it.each([
    ["no Upgrade", { Upgrade: null, Connection: null }],
    ["Upgrade: h2c", { Upgrade: "h2c", Connection: "Upgrade" }],
  ] as const)("acceptWebSocket with %s serves plain HTTP (isWebSocket false)", async (_, headers) => {
    const { port } = await refusalServer();
    const response = await resources.request(port, upgradeRequest({ path: "/accept", headers }));
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe("plain, isWebSocket=false");
    expect(plainHandler.mock.calls).toEqual([[false]]);
    await expectEchoes(resources, port, "/accept");
    expect(plainHandler.mock.calls).toEqual([[false], [true]]);
  });

  it("allowOrigin accepts a listed Origin", async () => {
    const { port } = await refusalServer();
    const client = await resources.raw(port);
    await client.handshake({ path: "/origin", headers: { Origin: "https://good.example" } });
    client.sendText("hi");
    expect(await client.nextFrame()).toEqual({ type: "text", data: "hi" });
  });

  it("closes a connection whose head does not arrive within handshakeTimeoutMs (408)", async () => {
    const { port } = await resources.server({ "/echo": echoRoute() }, { handshakeTimeoutMs: 300 });
    const client = await resources.raw(port);
    const started = performance.now();
    client.write(Buffer.from("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    const response = await client.response();
    const elapsed = performance.now() - started;
    expect(response.status).toBe(408);
    await client.waitClosed();
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(8_000);
    await expectEchoes(resources, port);
  });

  it("times out a connection that sends nothing at all", async () => {
    const { port } = await resources.server({ "/echo": echoRoute() }, { handshakeTimeoutMs: 300 });
    const client = await resources.raw(port);
    expect((await client.response()).status).toBe(408);
    await client.waitClosed();
  });

  it("refuses with 503 once maxConnections are open, and accepts again when one closes", async () => {
    const { port, server } = await resources.server({ "/echo": echoRoute() }, { maxConnections: 2 });
    const first = await resources.rawWebSocket(port, { path: "/echo" });
    await resources.rawWebSocket(port, { path: "/echo" });
    const response = await resources.request(port, upgradeRequest({ path: "/echo" }));
    expect(response.status).toBe(503);
    expect(server.connections).toBe(2);
    first.sendClose(1000);
    await first.waitClosed();
    await vi.waitFor(() => expect(server.connections).toBe(1), { timeout: 10_000 });
    await expectEchoes(resources, port);
  });

  it("answers a plain request on a requireWebSocket route with 426 and never runs the handler", async () => {
    const handler = vi.fn();
    const { port } = await resources.server({ "/only": requireWebSocket(handler) });
    const response = await resources.request(port, plainRequest({ path: "/only" }));
    expect(response.status).toBe(426);
    expect(response.headers["upgrade"]).toMatch(/^websocket$/i);
    expect(response.headers["sec-websocket-version"]).toBe("13");
    expect(handler).not.toHaveBeenCalled();
  });

  it("a header block split across many writes still counts toward the 16 KiB limit", async () => {
    const { port } = await resources.server({ "/echo": echoRoute() });
    const client = await resources.raw(port);
    const head = requestHead("GET /echo HTTP/1.1", { Host: "x", "X-Pad": "b".repeat(20 * KiB) });
    for (let at = 0; at < head.length; at += 1000) client.write(head.subarray(at, at + 1000));
    expect((await client.response()).status).toBe(431);
    await expectEchoes(resources, port);
  });
});
