/**
 * WebSockets over HTTP/2 (RFC 8441) through `server.handleHttp2Stream()` on a `node:http2`
 * server (cleartext h2), and on wsraw's own TLS port with `http2: true`, where plain HTTP
 * routes are served over HTTP/2 too (test/browser/http2.test.ts has Chromium). The client
 * is Node's own HTTP/2 client sending the extended CONNECT, and wsraw's frame codec on
 * the stream: masked frames up, the server's frames parsed down. Covers the handshake's
 * answers (200 and its headers, every refusal with its status), the echo of every kind
 * of message, permessage-deflate, the close handshake ending the stream, a reset stream,
 * a large message under HTTP/2 flow control, and server shutdown.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CloseCode,
  HandshakeError,
  type RouteOptions,
  type WebSocket,
  connect,
  type ServerOptions,
  type UpgradedRequest,
  type WsrawServer,
  createServer,
  httpOnly,
  requireWebSocket,
} from "../../src/index.js";
import { FrameParser, encodeClose, encodeMessage, encodePing } from "../../src/frame/index.js";
import { fileURLToPath } from "node:url";
import { AsyncQueue, HOST, Tap, echoRoute, runNode, startNode, useResources, within } from "../support/index.js";
import { type TestCerts, makeCerts, opensslSkip, removeCerts, tlsTitle } from "../client/certs.js";

type Received = { kind: "text" | "binary"; data: string | Buffer } | { kind: "ping" | "pong"; data: Buffer } | { kind: "close"; code: number; reason: string };

/** One WebSocket over an HTTP/2 stream, driven frame by frame. */
class Http2WebSocket {
  readonly received = new AsyncQueue<Received>("frame from the server over HTTP/2");
  readonly ended: Promise<void>;
  private readonly parser = new FrameParser(
    {
      onMessage: (payload, binary) => this.received.push(binary ? { kind: "binary", data: Buffer.from(payload) } : { kind: "text", data: payload.toString() }),
      onPing: (data) => this.received.push({ kind: "ping", data: Buffer.from(data) }),
      onPong: (data) => this.received.push({ kind: "pong", data: Buffer.from(data) }),
      onClose: (code, reason) => this.received.push({ kind: "close", code, reason }),
    },
    { role: "client", maxPayload: 64 * 1024 * 1024 },
  );

  constructor(
    readonly stream: ClientHttp2Stream,
    readonly headers: IncomingHttpHeaders,
  ) {
    stream.on("data", (chunk: Buffer) => this.parser.push(chunk));
    this.ended = new Promise((resolve) => stream.once("end", resolve));
  }

  send(message: string | Buffer, fragmentSize?: number): void {
    for (const chunk of encodeMessage(message, { mask: true, fragmentSize })) this.stream.write(chunk);
  }

  async next(): Promise<Received> {
    return this.received.next(10_000);
  }
}

interface Served {
  wsraw: WsrawServer;
  h2: http2.Http2Server;
  url: string;
  /** Streams that were not a WebSocket's: the test server answered them 418. */
  others: string[];
}

const resources = useResources();
const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const sessions: ClientHttp2Session[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A node:http2 cleartext server that hands extended CONNECT streams to a wsraw server. */
async function serve(routes: Record<string, ReturnType<typeof echoRoute>>, options: ServerOptions = {}, enableConnectProtocol = true): Promise<Served> {
  const wsraw = createServer(options);
  for (const [path, route] of Object.entries(routes)) wsraw.route(path, route);
  const others: string[] = [];
  const h2 = http2.createServer({ settings: { enableConnectProtocol } });
  h2.on("stream", (stream, headers) => {
    if (wsraw.handleHttp2Stream(stream, headers)) return;
    others.push(`${headers[":method"]} ${headers[":path"]}`);
    stream.respond({ ":status": 418 });
    stream.end();
  });
  await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
  cleanups.push(() => new Promise((resolve) => h2.close(resolve)), () => wsraw.close());
  return { wsraw, h2, url: `http://${HOST}:${(h2.address() as { port: number }).port}`, others };
}

/** An HTTP/2 session that has the server's SETTINGS (extended CONNECT needs them first). */
async function session(url: string, options: http2.SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  const client = http2.connect(url, options);
  sessions.push(client);
  client.on("error", () => {});
  await within(new Promise((resolve) => client.once("remoteSettings", resolve)), 10_000, "the server's SETTINGS");
  return client;
}

/** Sends an extended CONNECT; resolves with the response headers and the stream. */
async function open(client: ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}): Promise<Http2WebSocket> {
  const stream = client.request({
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": client.encrypted ? "https" : "http",
    ":path": path,
    "sec-websocket-version": "13",
    ...headers,
  });
  stream.on("error", () => {});
  const response = await within(new Promise<IncomingHttpHeaders>((resolve) => stream.once("response", resolve)), 10_000, `the response to CONNECT ${path}`);
  return new Http2WebSocket(stream, response);
}

/** The body of a refused stream. */
async function bodyOf(ws: Http2WebSocket): Promise<string> {
  const chunks: Buffer[] = [];
  ws.stream.removeAllListeners("data");
  ws.stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  await within(ws.ended, 10_000, "the refusal's body");
  return Buffer.concat(chunks).toString();
}

describe("WebSockets over HTTP/2 (RFC 8441): server.handleHttp2Stream()", () => {
  it("answers 200 with no Sec-WebSocket-Accept, echoes text, binary, fragments and pings, and closes by ending the stream", async () => {
    const tap = new Tap(async ({ websocket: ws }) => {
      for await (const message of ws) ws.send(message);
    });
    const { url } = await serve({ "/echo": tap.route() });
    const client = await session(url);
    const ws = await open(client, "/echo?room=lobby", { origin: "https://example.com" });
    expect(ws.headers[":status"]).toBe(200);
    expect(ws.headers["sec-websocket-accept"]).toBeUndefined();
    const req: UpgradedRequest = await tap.requests.next();
    expect(req.method).toBe("CONNECT");
    expect(req.head.httpVersion).toBe("2.0");
    expect(req.path).toBe("/echo");
    expect(req.query.get("room")).toBe("lobby");
    expect(req.headers.host).toBe(url.slice("http://".length));
    expect(req.headers.origin).toBe("https://example.com");
    expect(req.remoteAddress).toBe(HOST);
    expect(req.websocket.remoteAddress).toBe(HOST);

    ws.send("hello over HTTP/2");
    expect(await ws.next()).toEqual({ kind: "text", data: "hello over HTTP/2" });
    ws.send(Buffer.from([1, 2, 3]));
    expect(await ws.next()).toEqual({ kind: "binary", data: Buffer.from([1, 2, 3]) });
    ws.send("é".repeat(5000), 7);
    expect(await ws.next()).toEqual({ kind: "text", data: "é".repeat(5000) });
    ws.stream.write(encodePing("p", { mask: true }));
    expect(await ws.next()).toEqual({ kind: "pong", data: Buffer.from("p") });

    ws.stream.write(encodeClose(CloseCode.Normal, "bye", { mask: true }));
    expect(await ws.next()).toEqual({ kind: "close", code: 1000, reason: "" });
    // RFC 8441 §5: the orderly end of the connection is the stream's END_STREAM.
    await within(ws.ended, 10_000, "the server to end the stream");
    ws.stream.end();
    expect(await within(req.websocket.closed, 10_000, "the server side to close")).toEqual({ code: 1000, reason: "bye", wasClean: true });
  });

  it("after the close handshake the stream is closed at once (RST_STREAM NO_ERROR) for a client that never ends its side, as browsers do", async () => {
    const tap = new Tap(async ({ websocket: ws }) => {
      for await (const message of ws) {
        if (message === "close please") ws.close(4000, "as asked");
        else ws.send(message);
      }
    });
    // A close timeout far beyond the test's: the stream must not wait for it.
    const { url } = await serve({ "/echo": tap.route() }, { closeTimeoutMs: 60_000 });
    const client = await session(url);
    for (const who of ["client", "server"] as const) {
      const ws = await open(client, "/echo");
      const req: UpgradedRequest = await tap.requests.next();
      const streamClosed = new Promise<number | undefined>((resolve) => ws.stream.once("close", () => resolve(ws.stream.rstCode)));
      ws.send("x".repeat(100_000));
      if (who === "client") ws.stream.write(encodeClose(CloseCode.Normal, "bye", { mask: true }));
      else ws.send("close please");
      expect(await ws.next()).toEqual({ kind: "text", data: "x".repeat(100_000) });
      expect(await ws.next()).toEqual(who === "client" ? { kind: "close", code: 1000, reason: "" } : { kind: "close", code: 4000, reason: "as asked" });
      if (who === "server") ws.stream.write(encodeClose(4000, "", { mask: true }));
      // Our END_STREAM never goes: the server closes the stream by itself, without error.
      expect(await within(streamClosed, 5_000, `the server to close the stream (${who} closing)`)).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect(await within(req.websocket.closed, 5_000, "the server side to close")).toEqual(
        who === "client" ? { code: 1000, reason: "bye", wasClean: true } : { code: 4000, reason: "", wasClean: true },
      );
    }
  });

  it("negotiates subprotocols and permessage-deflate as an upgrade does", async () => {
    const tap = new Tap(async ({ websocket: ws }) => {
      ws.send("x".repeat(4096));
      await ws.closed;
    });
    const { url } = await serve({ "/chat": tap.route({ protocols: ["chat.v2"], perMessageDeflate: true }) });
    const ws = await open(await session(url), "/chat", {
      "sec-websocket-protocol": "chat.v1, chat.v2",
      "sec-websocket-extensions": "permessage-deflate; client_max_window_bits",
    });
    expect(ws.headers[":status"]).toBe(200);
    expect(ws.headers["sec-websocket-protocol"]).toBe("chat.v2");
    expect(ws.headers["sec-websocket-extensions"]).toBe("permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    const server = await tap.next();
    expect(server.protocol).toBe("chat.v2");
    // The 4 KiB message came compressed: RSV1, a few bytes on the wire.
    const raw: Buffer[] = [];
    ws.stream.removeAllListeners("data");
    ws.stream.on("data", (chunk: Buffer) => raw.push(chunk));
    await within(
      (async () => {
        while (Buffer.concat(raw).length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      10_000,
      "the compressed frame",
    );
    const frame = Buffer.concat(raw);
    expect(frame[0]! & 0x40, "RSV1").toBe(0x40);
    expect(frame.length).toBeLessThan(100);
  });

  it("refuses with HTTP/2 statuses: unknown path 404, a plain-HTTP route 404, version 400, origin 403, authorize 403, too many 503", async () => {
    const { url, wsraw } = await serve(
      {
        "/echo": echoRoute(),
        "/page": httpOnly(() => ({ status: 200, body: "a page" })),
        "/guarded": echoRoute({ allowOrigin: ["https://good.example"] } as RouteOptions),
        "/private": echoRoute({ authorize: () => false } as RouteOptions),
      },
      { maxConnections: 1 },
    );
    const client = await session(url);
    const refused = async (path: string, headers: http2.OutgoingHttpHeaders = {}) => {
      const ws = await open(client, path, headers);
      return { status: ws.headers[":status"], headers: ws.headers, body: await bodyOf(ws) };
    };
    expect(await refused("/nowhere")).toMatchObject({ status: 404, body: "No WebSocket route for /nowhere\n" });
    expect(await refused("/page")).toMatchObject({ status: 404 });
    const version = await refused("/echo", { "sec-websocket-version": "8" });
    expect(version).toMatchObject({ status: 400, body: "Only WebSocket version 13 is supported: send sec-websocket-version: 13\n" });
    expect(version.headers["sec-websocket-version"]).toBe("13");
    expect(version.headers["upgrade"]).toBeUndefined();
    expect(await refused("/guarded", { origin: "https://evil.example" })).toMatchObject({ status: 403 });
    expect(await refused("/private")).toMatchObject({ status: 403, body: "Not authorized\n" });
    expect(await refused("/echo", { "sec-websocket-protocol": "a b" })).toMatchObject({ status: 400 });
    // One open connection is the limit: a second is told to come back later.
    const first = await open(client, "/echo");
    expect(first.headers[":status"]).toBe(200);
    const second = await refused("/echo");
    expect(second).toMatchObject({ status: 503 });
    expect(second.headers["retry-after"]).toBe("5");
    expect(wsraw.stats().handshakes.refused).toMatchObject({ 400: 2, 403: 2, 404: 2, 503: 1 });
  });

  it("other requests are not its own: a GET, and a CONNECT for another protocol, stay with the HTTP/2 server", async () => {
    const { url, others } = await serve({ "/echo": echoRoute() });
    const client = await session(url);
    const get = client.request({ ":path": "/echo" });
    expect((await new Promise<IncomingHttpHeaders>((resolve) => get.once("response", resolve)))[":status"]).toBe(418);
    const tunnel = client.request({ ":method": "CONNECT", ":protocol": "webtransport", ":scheme": "http", ":path": "/echo" });
    expect((await new Promise<IncomingHttpHeaders>((resolve) => tunnel.once("response", resolve)))[":status"]).toBe(418);
    expect(others).toEqual(["GET /echo", "CONNECT /echo"]);
  });

  it("a 4 MiB message each way, under HTTP/2 flow control", async () => {
    const { url } = await serve({ "/echo": echoRoute() }, { maxPayload: 8 * 1024 * 1024 });
    const ws = await open(await session(url), "/echo");
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    big.write("start");
    ws.send(big);
    const echo = await ws.next();
    expect(echo.kind).toBe("binary");
    expect(Buffer.compare((echo as { data: Buffer }).data, big)).toBe(0);
  });

  it("a stream reset by the client closes the connection (1006); server.close() closes the others with 1001", async () => {
    const tap = new Tap();
    const { url, wsraw } = await serve({ "/tap": tap.route() });
    const client = await session(url);
    const reset = await open(client, "/tap");
    const resetSide = await tap.next();
    reset.stream.close(http2.constants.NGHTTP2_CANCEL);
    expect(await within(resetSide.closed, 10_000, "the reset connection to close")).toMatchObject({ code: 1006, wasClean: false });

    const kept = await open(client, "/tap");
    const keptSide = await tap.next();
    const closing = wsraw.close();
    expect(await kept.next()).toEqual({ kind: "close", code: 1001, reason: "server shutting down" });
    kept.stream.write(encodeClose(1001, "", { mask: true }));
    kept.stream.end();
    await within(closing, 10_000, "server.close()");
    expect(await keptSide.closed).toMatchObject({ code: 1001, wasClean: true });
  });

  it("a server made with a request listener (node:http2's compatibility API): its 'connect' event hands the stream over; its 'stream' event comes too late, and says why", async () => {
    const errors: string[] = [];
    const wsraw = createServer({ onError: (error) => errors.push((error as Error).message) }).route("/echo", echoRoute());
    cleanups.push(() => wsraw.close());
    const app = (_req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => res.end("the app");
    const listen = async (h2: http2.Http2Server) => {
      await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
      cleanups.push(() => new Promise((resolve) => h2.close(resolve)));
      return `http://${HOST}:${(h2.address() as { port: number }).port}`;
    };

    const right = http2.createServer({ settings: { enableConnectProtocol: true } }, app);
    right.on("connect", (req, res) => {
      if (!wsraw.handleHttp2Stream(req.stream, req.headers)) res.writeHead(405).end();
    });
    const client = await session(await listen(right));
    const ws = await open(client, "/echo");
    expect(ws.headers[":status"]).toBe(200);
    const big = Buffer.alloc(1024 * 1024, 3);
    ws.send(big);
    ws.send("after the megabyte");
    const echo = await ws.next();
    expect(echo.kind === "binary" && Buffer.compare(echo.data as Buffer, big) === 0, "the megabyte, echoed").toBe(true);
    expect(await ws.next()).toEqual({ kind: "text", data: "after the megabyte" });
    const get = client.request({ ":path": "/" });
    expect((await new Promise<IncomingHttpHeaders>((resolve) => get.once("response", resolve)))[":status"]).toBe(200);

    // The compatibility layer answers a CONNECT (405) before a 'stream' listener added
    // after it runs: wsraw leaves the stream alone and reports what to do instead.
    const wrong = http2.createServer({ settings: { enableConnectProtocol: true } }, app);
    wrong.on("stream", (stream, headers) => wsraw.handleHttp2Stream(stream, headers));
    const refused = await open(await session(await listen(wrong)), "/echo");
    expect(refused.headers[":status"]).toBe(405);
    expect(errors).toEqual([expect.stringContaining(`h2.on("connect", (req, res) => ...)`)]);
    expect(wsraw.stats().handshakes.accepted).toBe(1);
  });

  it("a server that did not announce extended CONNECT never sees one: the stream is refused below it", async () => {
    const { url, wsraw, others } = await serve({ "/echo": echoRoute() }, {}, false);
    const client = await session(url);
    const stream = client.request({ ":method": "CONNECT", ":protocol": "websocket", ":scheme": "http", ":path": "/echo", "sec-websocket-version": "13" });
    const error = await within(new Promise<Error>((resolve) => stream.once("error", resolve)), 10_000, "the stream's error");
    expect(error.message).toMatch(/protocol/i);
    expect(wsraw.stats().handshakes).toEqual({ accepted: 0, refused: {} });
    expect(others).toEqual([]);
  });
});

describe("the h2c server used above is what users write", () => {
  it("requireWebSocket handlers see req.isWebSocket() and req.websocket as over HTTP/1.1", async () => {
    let seen: { isWebSocket: boolean; open: boolean } | undefined;
    const { url } = await serve({
      "/x": requireWebSocket(async (req) => {
        seen = { isWebSocket: req.isWebSocket(), open: req.websocket.readyState === 1 };
        req.websocket.close();
      }),
    });
    const ws = await open(await session(url), "/x");
    expect(await ws.next()).toMatchObject({ kind: "close", code: 1000 });
    expect(seen).toEqual({ isWebSocket: true, open: true });
  });
});

/** GET (or HEAD) over an HTTP/2 session: status, headers, body. */
async function request(client: ClientHttp2Session, path: string, method = "GET") {
  const stream = client.request({ ":method": method, ":path": path });
  const headers = await within(new Promise<IncomingHttpHeaders>((resolve) => stream.once("response", resolve)), 10_000, `${method} ${path}`);
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  await within(new Promise((resolve) => stream.once("end", resolve)), 10_000, `the body of ${path}`);
  return { status: headers[":status"], headers, body: Buffer.concat(chunks).toString() };
}

describe.skipIf(opensslSkip !== undefined)(tlsTitle("createServer({ tls, http2: true }): HTTP/2 on wsraw's own TLS port"), () => {
  let certs: TestCerts | undefined;

  beforeAll(async () => {
    certs = await makeCerts();
  });

  afterAll(async () => {
    await removeCerts(certs);
  });

  async function serveTls(options: ServerOptions = {}): Promise<{ wsraw: WsrawServer; url: string; port: number }> {
    const wsraw = createServer({ tls: { key: certs!.localhost.key, cert: certs!.localhost.cert }, http2: true, ...options })
      .route("/echo", echoRoute())
      .route("/page", httpOnly(() => ({ status: 200, headers: { "X-Test": "1", Connection: "close" }, body: "page over h2" })))
      .route("/bytes", httpOnly(() => ({ body: Buffer.from([1, 2, 3]) })))
      .route("/empty", httpOnly(() => undefined));
    const { port } = await wsraw.listen(0, HOST);
    cleanups.push(() => wsraw.close());
    return { wsraw, url: `https://${HOST}:${port}`, port };
  }

  it("a client offering h2 gets plain routes and WebSockets on one HTTP/2 connection; one offering http/1.1 gets HTTP/1.1 on the same port", async () => {
    const { url, port } = await serveTls();
    const client = await session(url, { ca: certs!.ca.cert });
    expect(client.alpnProtocol).toBe("h2");
    expect(client.remoteSettings.enableConnectProtocol).toBe(true);
    expect(client.remoteSettings.maxConcurrentStreams).toBe(256);

    const page = await request(client, "/page?x=1");
    expect(page).toMatchObject({ status: 200, body: "page over h2" });
    expect(page.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(page.headers["content-length"]).toBe("12");
    expect(page.headers["x-test"]).toBe("1");
    expect(page.headers["connection"], "no connection-specific field").toBeUndefined();
    const head = await request(client, "/page", "HEAD");
    expect(head).toMatchObject({ status: 200, body: "" });
    expect(head.headers["content-length"]).toBe("12");
    const bytes = await request(client, "/bytes");
    expect(bytes).toMatchObject({ status: 200, body: "\u0001\u0002\u0003" });
    expect(bytes.headers["content-type"]).toBeUndefined();
    expect(await request(client, "/empty")).toMatchObject({ status: 204, body: "" });
    expect(await request(client, "/nowhere")).toMatchObject({ status: 404, body: "No route for /nowhere\n" });
    expect(await request(client, "/echo")).toMatchObject({ status: 400, body: "This URL only serves WebSocket connections\n" });

    const ws = await open(client, "/echo");
    expect(ws.headers[":status"]).toBe(200);
    ws.send("over the same connection");
    expect(await ws.next()).toEqual({ kind: "text", data: "over the same connection" });

    // An HTTP/1.1 client (wsraw's own offers ALPN http/1.1) on the same port.
    const h1 = await connect(`wss://localhost:${port}/echo`, { ca: certs!.ca.cert });
    h1.send("over HTTP/1.1");
    expect(await within(h1.wait(), 10_000, "the HTTP/1.1 echo")).toBe("over HTTP/1.1");
    h1.close();
    await h1.closed;
    // And a TLS client that offers no ALPN at all.
    const bare = tlsConnect({ host: HOST, port, ca: certs!.ca.cert, servername: "localhost" });
    await new Promise((resolve) => bare.once("secureConnect", resolve));
    expect(bare.alpnProtocol).toBe(false);
    bare.end("GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const answer = await new Promise<string>((resolve) => {
      let text = "";
      bare.on("data", (chunk: Buffer) => (text += chunk.toString()));
      bare.on("close", () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\npage over h2$/);
  });

  it("an HTTP/2 connection with nothing open is closed after handshakeTimeoutMs; one carrying a WebSocket stays", async () => {
    const { url } = await serveTls({ handshakeTimeoutMs: 300 });
    const idle = await session(url, { ca: certs!.ca.cert });
    const busy = await session(url, { ca: certs!.ca.cert });
    const ws = await open(busy, "/echo");
    const idleClosed = new Promise((resolve) => idle.once("close", resolve));
    await within(idleClosed, 5_000, "the idle HTTP/2 connection to close");
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(busy.closed).toBe(false);
    ws.send("still here");
    expect(await ws.next()).toEqual({ kind: "text", data: "still here" });
    // Not even asked to end (a GOAWAY would refuse new streams).
    expect((await request(busy, "/page")).status).toBe(200);
  });

  it("server.close() closes WebSockets over HTTP/2 with 1001 and ends the HTTP/2 connection", async () => {
    const { url, wsraw } = await serveTls();
    const client = await session(url, { ca: certs!.ca.cert });
    const ws = await open(client, "/echo");
    const goaway = new Promise((resolve) => client.once("goaway", resolve));
    const closing = wsraw.close();
    expect(await ws.next()).toEqual({ kind: "close", code: 1001, reason: "server shutting down" });
    ws.stream.write(encodeClose(1001, "", { mask: true }));
    ws.stream.end();
    await within(closing, 10_000, "server.close()");
    await within(goaway, 10_000, "GOAWAY");
  });

  it("wsraw echo --tls-cert --tls-key --http2 echoes over an HTTP/2 stream, and --http2 without TLS by prior knowledge", async () => {
    const { match } = await startNode(
      resources,
      [CLI, "echo", "--port", "0", "--tls-cert", certs!.localhost.certFile, "--tls-key", certs!.localhost.keyFile, "--http2"],
      /listening on wss:\/\/127\.0\.0\.1:(\d+)\//,
    );
    const ws = await open(await session(`https://localhost:${match[1]}`, { ca: certs!.ca.cert }), "/anywhere");
    ws.send("from the command line");
    expect(await ws.next()).toEqual({ kind: "text", data: "from the command line" });
    const plain = await startNode(resources, [CLI, "echo", "--port", "0", "--http2"], /listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
    const h2c = await connect(`ws://127.0.0.1:${plain.match[1]}/anywhere`, { http2: true });
    h2c.send("h2c from the command line");
    expect(await within(h2c.wait(), 10_000, "the h2c echo")).toBe("h2c from the command line");
    h2c.close();
    await h2c.closed;
  });

  it("connect(wss://, { http2: true }) opens over ALPN h2; to a TLS server without HTTP/2 it fails saying why", async () => {
    const { port } = await serveTls();
    const ws = await connect(`wss://localhost:${port}/echo`, { http2: true, ca: certs!.ca.cert });
    ws.send("over h2 and TLS");
    expect(await within(ws.wait(), 10_000, "the echo")).toBe("over h2 and TLS");
    ws.close();
    await ws.closed;
    const h1only = createServer({ tls: { key: certs!.localhost.key, cert: certs!.localhost.cert } }).route("/echo", echoRoute());
    const other = await h1only.listen(0, HOST);
    cleanups.push(() => h1only.close());
    const error = await connect(`wss://localhost:${other.port}/echo`, { http2: true, ca: certs!.ca.cert }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      message: `localhost:${other.port} does not speak HTTP/2 over TLS (it refused ALPN h2): connect without http2`,
      code: "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
    });
  });

  it("at most 256 streams at once per connection: past them a WebSocket waits, and opens (or, asked again, opens) once streams close", async () => {
    const { wsraw, url, port } = await serveTls();
    const client = await session(url, { ca: certs!.ca.cert });
    const open = (): Promise<WebSocket> => connect(`wss://localhost:${port}/echo`, { http2: client, handshakeTimeoutMs: 20_000 });
    const opening = Array.from({ length: 260 }, open);
    const opened: WebSocket[] = [];
    for (const pending of opening) pending.then((ws) => opened.push(ws), () => {});
    await within(
      (async () => {
        while (opened.length < 256) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      15_000,
      "256 WebSockets to open",
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(opened.length, "no more than 256 at once").toBe(256);
    expect(wsraw.connections).toBe(256);
    const first = opened.slice(0, 4);
    for (const ws of first) ws.close();
    await within(Promise.all(first.map((ws) => ws.closed)), 10_000, "four to close");
    // Node 20's client then sends the four it held back; Node 22's may have them refused
    // (ENHANCE_YOUR_CALM) while the server still counts the closing streams. Either way a
    // WebSocket asked for once there is room opens.
    const settled = await within(Promise.allSettled(opening), 20_000, "the four held back to settle");
    const refused = settled.filter((result) => result.status === "rejected");
    for (const { reason } of refused) expect(reason).toBeInstanceOf(HandshakeError);
    const again = await within(Promise.all(refused.map(open)), 15_000, "the refused ones, asked again");
    expect(opened.length + again.length).toBe(260);
    expect(wsraw.connections).toBe(256);
    for (const ws of [...opened, ...again]) ws.terminate();
  }, 60_000);

  it("the README's setup: one http2.createSecureServer({ allowHTTP1 }) takes h2 clients through handleHttp2Stream and HTTP/1.1 ones through handleUpgrade", async () => {
    const wsraw = createServer().route("/echo", echoRoute());
    const upgrades: string[] = [];
    const h2 = http2.createSecureServer({ key: certs!.localhost.key, cert: certs!.localhost.cert, allowHTTP1: true, settings: { enableConnectProtocol: true } });
    h2.on("stream", (stream, headers) => {
      if (wsraw.handleHttp2Stream(stream, headers)) return;
      stream.respond({ ":status": 404 });
      stream.end();
    });
    h2.on("upgrade", (req, socket, head) => {
      upgrades.push(String(req.httpVersion));
      wsraw.handleUpgrade(req, socket, head);
    });
    await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
    cleanups.push(() => new Promise((resolve) => h2.close(resolve)), () => wsraw.close());
    const url = `wss://localhost:${(h2.address() as { port: number }).port}/echo`;
    for (const http2Option of [true, false]) {
      const ws = await connect(url, { ca: certs!.ca.cert, http2: http2Option });
      ws.send(`http2: ${http2Option}`);
      expect(await within(ws.wait(), 10_000, "the echo")).toBe(`http2: ${http2Option}`);
      ws.close();
      await ws.closed;
    }
    expect(upgrades, "only the HTTP/1.1 client upgraded").toEqual(["1.1"]);
    expect(wsraw.stats().handshakes.accepted).toBe(2);
  });

  it("http2 is a boolean", () => {
    expect(() => createServer({ tls: { key: certs!.localhost.key, cert: certs!.localhost.cert }, http2: "yes" as never })).toThrow(TypeError);
  });
});

describe("connect(url, { http2 }): wsraw's client over HTTP/2 (RFC 8441)", () => {
  it("h2c: its own HTTP/2 connection, the pull API, subprotocol and deflate, the connection closed with the WebSocket", async () => {
    const tap = new Tap(async ({ websocket: ws }) => {
      for await (const message of ws) ws.send(message);
    });
    const { url, wsraw, h2 } = await serve({ "/echo": tap.route({ protocols: ["v2"], perMessageDeflate: true }) });
    const sessionClosed = new Promise((resolve) => h2.once("session", (session) => session.once("close", resolve)));
    const ws = await connect(`${url.replace("http:", "ws:")}/echo?x=1`, {
      http2: true,
      protocols: ["v1", "v2"],
      perMessageDeflate: true,
      headers: { Authorization: "Bearer t" },
    });
    expect(ws.protocol).toBe("v2");
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    const req = await tap.requests.next();
    expect(req.method).toBe("CONNECT");
    expect(req.headers.authorization).toBe("Bearer t");
    expect(req.query.get("x")).toBe("1");
    ws.send("x".repeat(10_000));
    expect(await within(ws.wait(), 10_000, "the echo")).toBe("x".repeat(10_000));
    ws.sendFragmented(["a", "b", "c"]);
    expect(await within(ws.wait(), 10_000, "the fragmented echo")).toBe("abc");
    ws.close(1000, "bye");
    expect(await within(ws.closed, 10_000, "closed")).toEqual({ code: 1000, reason: "", wasClean: true });
    expect(await within(req.websocket.closed, 10_000, "the server side")).toEqual({ code: 1000, reason: "bye", wasClean: true });
    expect(wsraw.stats().handshakes.accepted).toBe(1);
    await within(sessionClosed, 10_000, "the client's HTTP/2 connection to close with its WebSocket");
  });

  it("a stream the server resets ends the client's connection (1006)", async () => {
    const tap = new Tap();
    const { url } = await serve({ "/tap": tap.route() });
    const ws = await connect(`${url}/tap`, { http2: true });
    (await tap.next()).terminate();
    expect(await within(ws.closed, 10_000, "the client to see the reset")).toMatchObject({ code: 1006, wasClean: false });
  });

  it("several WebSockets on one HTTP/2 session of the caller's, which stays open", async () => {
    const { url } = await serve({ "/echo": echoRoute() });
    const shared = await session(url);
    const listeners = () => ["close", "error", "remoteSettings"].map((event) => shared.listenerCount(event));
    const before = listeners();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): number => warnings.push(warning);
    process.on("warning", onWarning);
    const pending = Array.from({ length: 12 }, () => connect(`${url}/echo`, { http2: shared }));
    // Twelve handshakes at once watch their streams, not the session (Node warns past 10 listeners).
    expect(listeners()).toEqual(before);
    const sockets = await Promise.all(pending);
    process.off("warning", onWarning);
    expect(warnings).toEqual([]);
    expect(listeners()).toEqual(before);
    for (const [i, ws] of sockets.entries()) ws.send(`on stream ${i}`);
    for (const [i, ws] of sockets.entries()) expect(await within(ws.wait(), 10_000, "an echo")).toBe(`on stream ${i}`);
    for (const ws of sockets) ws.close();
    await Promise.all(sockets.map((ws) => within(ws.closed, 10_000, "closed")));
    expect(shared.closed).toBe(false);
  });

  it("refusals reject with HandshakeError: the status, the headers and the body; a server without extended CONNECT says so", async () => {
    const { url } = await serve({ "/echo": echoRoute() });
    const refused = await connect(`${url}/nowhere`, { http2: true }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ name: "HandshakeError", status: 404, message: "The server refused the WebSocket over HTTP/2: 404" });
    expect((refused as { body: Buffer }).body.toString()).toBe("No WebSocket route for /nowhere\n");
    expect((refused as { headers: Record<string, string> }).headers["content-type"]).toBe("text/plain; charset=utf-8");
    const plain = await serve({ "/echo": echoRoute() }, {}, false);
    await expect(connect(`${plain.url}/echo`, { http2: true })).rejects.toThrow(/does not take WebSockets over HTTP\/2/);
    await expect(connect(`${url}/echo`, { http2: "yes" as never })).rejects.toThrow(TypeError);
  });
});

describe("createServer({ http2: true }) without TLS: HTTP/2 by prior knowledge (RFC 9113 §3.3)", () => {
  async function servePlain(options: ServerOptions = {}) {
    const wsraw = createServer({ http2: true, ...options })
      .route("/echo", echoRoute())
      .route("/page", httpOnly(() => "a page"));
    const { port } = await wsraw.listen(0, HOST);
    cleanups.push(() => wsraw.close());
    return { wsraw, port, url: `http://${HOST}:${port}` };
  }

  it("a connection that opens with the preface is HTTP/2's: plain routes and WebSockets; an HTTP/1.1 one on the same port as before", async () => {
    const { url, port, wsraw } = await servePlain();
    const client = await session(url);
    expect(client.remoteSettings.enableConnectProtocol).toBe(true);
    expect(await request(client, "/page")).toMatchObject({ status: 200, body: "a page" });
    const ws = await open(client, "/echo");
    ws.send("h2c");
    expect(await ws.next()).toEqual({ kind: "text", data: "h2c" });
    const h1 = await connect(`ws://${HOST}:${port}/echo`);
    h1.send("HTTP/1.1");
    expect(await within(h1.wait(), 10_000, "the HTTP/1.1 echo")).toBe("HTTP/1.1");
    h1.close();
    await h1.closed;
    // A request head that starts like the preface ("P...") but is not one is HTTP/1.1's.
    const post = await rawExchange(port, "POST /page HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    expect(post).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(wsraw.stats().handshakes.accepted).toBe(2);
  });

  it("the preface split across writes is still HTTP/2's; a peer that sends only its start is let go after handshakeTimeoutMs", async () => {
    const { port } = await servePlain({ handshakeTimeoutMs: 300 });
    const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const socket = netConnect(port, HOST);
    await new Promise((resolve) => socket.once("connect", resolve));
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.on("error", () => {});
    socket.write(preface.slice(0, 5));
    await within(closed, 5_000, "the server to let a stalled preface go");

    // Byte by byte: the server answers with its SETTINGS frame (RFC 9113 §3.4, §6.5),
    // where an HTTP/1.1 server would have said 505.
    const split = netConnect(port, HOST);
    split.on("error", () => {});
    await new Promise((resolve) => split.once("connect", resolve));
    const answer = new Promise<Buffer>((resolve) => split.once("data", resolve));
    for (const byte of preface) {
      split.write(byte);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const first = await within(answer, 5_000, "the server's first frame");
    expect(first[3], "frame type SETTINGS (0x4)").toBe(0x04);
    split.destroy();
  });
});

/** Writes `text` on a new connection to `port` and resolves with all the server sent until it closed. */
function rawExchange(port: number, text: string): Promise<string> {
  return within(
    new Promise<string>((resolve) => {
      const socket = netConnect(port, HOST, () => socket.write(text));
      let answer = "";
      socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
      socket.on("error", () => {});
      socket.on("close", () => resolve(answer));
    }),
    10_000,
    "the raw exchange",
  );
}
