/**
 * The server as a whole: shutting down with open connections, and sharing a port with a
 * `node:http` server through `handleUpgrade`.
 */
import { type IncomingMessage, type Server, createServer as createHttpServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { encodeMessage } from "../../src/frame/index.js";
import { type Route, createServer, requireWebSocket } from "../../src/index.js";
import { HOST, RawClient, Tap, WsPeer, echoRoute, upgradeRequest, useResources, within } from "../support/index.js";

const resources = useResources();

describe("createServer()", () => {
  it("refuses a maxPayload no length can be compared with, at once rather than on each connection", () => {
    for (const maxPayload of [-1, Number.NaN, 2 ** 53]) {
      expect(() => createServer({ maxPayload })).toThrow(
        new RangeError(`maxPayload must be between 0 and 2^53 - 1, got ${maxPayload}`),
      );
    }
    expect(() => createServer({ maxPayload: 0 })).not.toThrow();
  });

  // Each used to be accepted: maxHeaderSize 0 then crashed the process at the first
  // connection; a NaN or negative timeout fired at once; sendHighWaterMark 0 left
  // drained() pending forever.
  it.each([
    ["maxHeaderSize", 0, "maxHeaderSize must be a whole number, at least 1, got 0"],
    ["maxHeaderSize", 1.5, "maxHeaderSize must be a whole number, at least 1, got 1.5"],
    ["handshakeTimeoutMs", -5, "handshakeTimeoutMs must be between 1 and 2^31 - 1 ms, got -5"],
    ["closeTimeoutMs", Number.NaN, "closeTimeoutMs must be between 1 and 2^31 - 1 ms, got NaN"],
    ["closeTimeoutMs", 2 ** 31, "closeTimeoutMs must be between 1 and 2^31 - 1 ms, got 2147483648"],
    ["maxConnections", -1, "maxConnections must be above 0 (Infinity for no limit), got -1"],
    ["maxQueuedMessages", 0, "maxQueuedMessages must be above 0 (Infinity for no limit), got 0"],
    ["sendHighWaterMark", 0, "sendHighWaterMark must be above 0 (Infinity for no limit), got 0"],
    ["maxBufferedAmount", Number.NaN, "maxBufferedAmount must be above 0 (Infinity for no limit), got NaN"],
    ["idleTimeoutMs", Number.NaN, "idleTimeoutMs must be between 1 and 2^31 - 1 ms, got NaN"],
    ["idleTimeoutMs", Infinity, "idleTimeoutMs must be between 1 and 2^31 - 1 ms, got Infinity"],
  ])("refuses %s: %s with RangeError", (name, value, message) => {
    expect(() => createServer({ [name]: value })).toThrow(new RangeError(message));
  });

  it("refuses a heartbeat no timer can keep, and a limit that is not a number", () => {
    expect(() => createServer({ heartbeat: { intervalMs: 1000, timeoutMs: -1 } })).toThrow(
      new RangeError("heartbeat.timeoutMs must be between 1 and 2^31 - 1 ms, got -1"),
    );
    expect(() => createServer({ maxQueuedBytes: "8mb" as unknown as number })).toThrow(
      new TypeError('maxQueuedBytes must be a number, got "8mb"'),
    );
  });

  it("refuses routes and handshake policies of the wrong kind, where they are given", () => {
    const loose = <T>(value: unknown) => value as T;
    const server = createServer();
    expect(() => server.route(loose("echo"), requireWebSocket(() => {}))).toThrow(TypeError);
    expect(() => server.route(loose(5), requireWebSocket(() => {}))).toThrow(TypeError);
    expect(() => server.route("/x", loose(async () => {}))).toThrow(
      new TypeError("server.route() takes a route made by requireWebSocket(), acceptWebSocket() or httpOnly()"),
    );
    expect(() => requireWebSocket(loose(5))).toThrow(new TypeError("requireWebSocket() takes a handler function, got number"));
    // A string searched as a list would admit "https://example.co".
    expect(() => requireWebSocket(() => {}, { allowOrigin: loose("https://example.com") })).toThrow(
      new TypeError('requireWebSocket(): allowOrigin must be an array of strings or a function, got the string "https://example.com"'),
    );
    expect(() => createServer({ protocols: loose([1]) })).toThrow(
      new TypeError("createServer(): protocols must be an array of strings or a function, got an array with an item that is not a string"),
    );
    expect(() => createServer({ authorize: loose(true) })).toThrow(new TypeError("createServer(): authorize must be a function, got boolean"));
    expect(() => createServer({ onError: loose("log") })).toThrow(new TypeError("createServer(): onError must be a function"));
    expect(() => createServer({ extensions: loose([]) })).toThrow(new TypeError("createServer(): extensions must be a function"));
  });

  it("takes Infinity where a limit may be off, and 0 as idleTimeoutMs's off", async () => {
    const { port } = await resources.server(
      { "/echo": echoRoute() },
      { maxConnections: Infinity, maxQueuedMessages: Infinity, maxQueuedBytes: Infinity, sendHighWaterMark: Infinity, maxBufferedAmount: Infinity, idleTimeoutMs: 0 },
    );
    const client = await resources.rawWebSocket(port, { path: "/echo" });
    client.sendText("unlimited");
    expect(await client.nextFrame()).toEqual({ type: "text", data: "unlimited" });
  });
});

describe("server.close()", () => {
  it("leaves the server closed: listen() after it rejects and says so", async () => {
    const { server } = await resources.server({ "/echo": echoRoute() });
    await Promise.all([server.close(), server.close()]);
    await expect(server.listen(0)).rejects.toThrow("the server was closed; createServer() makes a new one");
    const never = createServer();
    await never.close();
    await expect(never.listen(0)).rejects.toThrow("the server was closed");
  });

  it("closes every connection with 1001, resolves, and stops accepting", async () => {
    const tap = new Tap();
    const { server, port, url } = await resources.server({ "/echo": echoRoute(), "/t": tap.route() });
    const peers = await Promise.all([resources.ws(url("/echo")), resources.ws(url("/echo")), resources.ws(url("/t"))]);
    const tapped = await tap.next();
    const raw = await resources.rawWebSocket(port, { path: "/echo" });
    // A socket still in its handshake is dropped too.
    const halfway = await resources.raw(port);
    halfway.write(Buffer.from("GET /echo HTTP/1.1\r\n"));
    expect(server.connections).toBe(4);

    const closing = server.close();
    // The raw client answers the close frame by hand, like any client would.
    expect(await raw.nextFrame()).toMatchObject({ type: "close", code: 1001 });
    raw.sendClose(1001);
    await within(closing, 10_000, "server.close()");

    for (const peer of peers) expect((await peer.closed()).code).toBe(1001);
    expect(await within(tapped.closed, 10_000, "closed")).toMatchObject({ code: 1001, wasClean: true });
    expect(server.connections).toBe(0);
    await halfway.waitClosed();
    await expect(RawClient.connect(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("stops accepting at once, and waits at most closeTimeoutMs for a client that never answers", async () => {
    const { server, port } = await resources.server({ "/echo": echoRoute() }, { closeTimeoutMs: 1_000 });
    const stubborn = await resources.rawWebSocket(port, { path: "/echo" });
    const started = performance.now();
    const closing = server.close();
    expect(await stubborn.nextFrame()).toMatchObject({ type: "close", code: 1001 });
    await expect(RawClient.connect(port)).rejects.toThrow(/ECONNREFUSED/);
    await within(closing, 10_000, "server.close() with a client that never answers");
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    await stubborn.waitClosed();
    expect(server.connections).toBe(0);
    await within(server.close(), 10_000, "a second server.close()");
  });
});

describe("handleUpgrade behind a node:http server", () => {
  async function httpWithWsraw(routes: Record<string, Route> = {}) {
    const wsraw = createServer();
    wsraw.route("/echo", echoRoute());
    for (const [path, route] of Object.entries(routes)) wsraw.route(path, route);
    const http: Server = createHttpServer((req, res) => {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(`http server saw ${req.method} ${req.url}`);
    });
    http.on("upgrade", (req: IncomingMessage, socket, head: Buffer) => wsraw.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => http.listen(0, HOST, resolve));
    const { port } = http.address() as AddressInfo;
    resources.defer(async () => {
      http.closeAllConnections();
      await within(wsraw.close(), 10_000, "the wsraw server to close");
      await within(new Promise((resolve) => http.close(resolve)), 10_000, "the http server to close");
    });
    return { port, wsraw };
  }

  it("a WebSocket on an upgrade request works (echo)", async () => {
    const { port, wsraw } = await httpWithWsraw();
    const peer = await resources.ws(`ws://${HOST}:${port}/echo`);
    expect(wsraw.connections).toBe(1);
    peer.ws.send("through node:http");
    expect(await peer.next()).toBe("through node:http");
    peer.ws.send(Buffer.from([9, 8, 7]));
    expect(await peer.next()).toEqual(Buffer.from([9, 8, 7]));
    peer.ws.close(1000);
    expect((await peer.closed()).code).toBe(1000);
  });

  it("the handler reads the request's headers and query after its first await", async () => {
    const { port } = await httpWithWsraw({
      "/q": requireWebSocket(async (req) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        req.websocket.send(`${req.query.get("n")} ${req.headers["x-custom"]}`);
        await req.websocket.closed;
      }),
    });
    const client = await resources.rawWebSocket(port, { path: "/q?n=7", headers: { "X-Custom": "abc" } });
    expect(await client.nextFrame()).toEqual({ type: "text", data: "7 abc" });
  });

  it("a frame in the same packet as the upgrade request (node:http's `head`) is not lost", async () => {
    const { port } = await httpWithWsraw();
    const client = await resources.raw(port);
    client.write([upgradeRequest({ path: "/echo" }), ...encodeMessage("in the head", { mask: true })]);
    expect((await client.response()).status).toBe(101);
    expect(await client.nextFrame()).toEqual({ type: "text", data: "in the head" });
  });

  it("plain HTTP is still served by the http server", async () => {
    const { port } = await httpWithWsraw();
    const body = await within(
      new Promise<string>((resolve, reject) => {
        httpRequest({ host: HOST, port, path: "/page?x=1" }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve(`${res.statusCode} ${text}`));
        })
          .on("error", reject)
          .end();
      }),
      10_000,
      "the http response",
    );
    expect(body).toBe("200 http server saw GET /page?x=1");
  });

  it("an upgrade on an unknown path gets 404 on the socket", async () => {
    const { port } = await httpWithWsraw();
    const response = await resources.request(port, upgradeRequest({ path: "/nowhere" }));
    expect(response.status).toBe(404);
    await expect(WsPeer.open(`ws://${HOST}:${port}/nowhere`)).rejects.toThrow(/404/);
  });

  it("a client that leaves without a close frame ends the connection (1006), half-open sockets included", async () => {
    // node:http's sockets are allowHalfOpen: the peer's FIN alone does not close them.
    const tap = new Tap();
    const { port, wsraw } = await httpWithWsraw();
    wsraw.route("/t", tap.route());
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    const waiting = ws.wait();
    client.destroy();
    expect(await within(ws.closed, 10_000, "closed after the client left")).toEqual({ code: 1006, reason: "", wasClean: false });
    expect(await within(waiting, 10_000, "wait()")).toBeNull();
    expect(wsraw.connections).toBe(0);
  });

  it("an invalid handshake gets its status on the socket", async () => {
    const { port } = await httpWithWsraw();
    const response = await resources.request(
      port,
      upgradeRequest({ path: "/echo", headers: { "Sec-WebSocket-Version": "8" } }),
    );
    expect(response.status).toBe(426);
    expect(response.headers["sec-websocket-version"]).toBe("13");
  });
});
