/**
 * WebSockets over HTTP/2 (RFC 8441) with real browsers, Chromium and Firefox: a page served over HTTP/2 (TLS,
 * ALPN h2) by a `node:http2` server that announces extended CONNECT; its `wss://`
 * WebSocket to the same origin then opens as a stream on that connection, which the
 * server hands to wsraw with `handleHttp2Stream`. The page echoes text, multibyte text and
 * 1 MiB of binary (permessage-deflate negotiated), and closes. The server sees no HTTP/1.1
 * upgrade at all. Then the same with wsraw's own TLS port (`http2: true`) serving the page
 * and the WebSocket. The certificate is made by test/client/certs.ts when the test runs, so
 * the browsers ignore certificate errors.
 */
import http2 from "node:http2";
import { describe, expect, it } from "vitest";
import { type UpgradedRequest, type WsrawServer, createServer, httpOnly, requireWebSocket } from "../../src/index.js";
import { echoRoute } from "../../src/apps/echo.js";
import { BROWSERS, type TestPage, browserSuiteTitle, tlsBrowserSkip, useTlsBrowser } from "../support/browsers.js";
import { within } from "../support/index.js";

/** What the page reports. */
interface PageResult {
  extensions: string;
  protocol: string;
  echoes: Array<string | number>;
  close: { code: number; reason: string; wasClean: boolean };
  error: string | null;
}

/** In the page: a WebSocket to `url` echoes text, multibyte text and 1 MiB of binary, then closes. */
function echoOverWebSocket(page: TestPage, url: string): Promise<PageResult> {
  return within(
    page.evaluate(
      (url) =>
        new Promise<PageResult>((resolve) => {
          const result: PageResult = { extensions: "", protocol: "", echoes: [], close: { code: 0, reason: "", wasClean: false }, error: null };
          const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) % 251);
          const sent: Array<string | Uint8Array> = ["hello over HTTP/2", "é 日本語 🎉 ".repeat(1000), big];
          const ws = new WebSocket(url, ["echo.v1"]);
          ws.binaryType = "arraybuffer";
          ws.onopen = () => {
            result.extensions = ws.extensions;
            result.protocol = ws.protocol;
            for (const message of sent) ws.send(message);
          };
          ws.onmessage = (event) => {
            const data = event.data as string | ArrayBuffer;
            if (typeof data === "string") {
              result.echoes.push(data === sent[result.echoes.length] ? "same" : data.slice(0, 40));
            } else {
              const bytes = new Uint8Array(data);
              result.echoes.push(bytes.length === big.length && bytes.every((b, i) => b === big[i]) ? bytes.length : -1);
            }
            if (result.echoes.length === sent.length) ws.close(1000, "done");
          };
          ws.onerror = () => (result.error = "error event");
          ws.onclose = (event) => {
            result.close = { code: event.code, reason: event.reason, wasClean: event.wasClean };
            resolve(result);
          };
        }),
      url,
    ),
    30_000,
    "the page's WebSocket over HTTP/2",
  );
}

describe.each(BROWSERS)("$name", (kind) => {
  const skip = tlsBrowserSkip(kind);
  describe.skipIf(skip !== undefined)(browserSuiteTitle("WebSockets over HTTP/2", { ...kind, skipReason: skip }), () => {
    const suite = useTlsBrowser(kind);

    /** An echo route offering the subprotocol echo.v1, which records its requests. */
    function recordingEcho(requests: UpgradedRequest[]) {
      return requireWebSocket(
        async (req) => {
          requests.push(req);
          for await (const message of req.websocket) req.websocket.send(message);
        },
        { protocols: ["echo.v1"] },
      );
    }

    /**
     * Loads the page at https://127.0.0.1:PORT/ over HTTP/2, has it echo through a WebSocket
     * to /echo, and checks what it got and what the server saw: an extended CONNECT.
     */
    async function echoFromPage(port: number, requests: UpgradedRequest[]): Promise<void> {
      const page = await suite.browser.newPage(`https://127.0.0.1:${port}/`);
      try {
        const protocol = await page.evaluate(() => (globalThis as any).performance.getEntriesByType("navigation")[0].nextHopProtocol, undefined);
        expect(protocol, "the page came over HTTP/2").toBe("h2");
        const result = await echoOverWebSocket(page, `wss://127.0.0.1:${port}/echo`);
        expect(result.error).toBeNull();
        expect(result.protocol).toBe("echo.v1");
        // Chromium's ws.extensions is the server's answer; Firefox's names the extension alone.
        expect(result.extensions).toBe(
          kind.name === "Chromium" ? "permessage-deflate; server_no_context_takeover; client_no_context_takeover" : "permessage-deflate",
        );
        expect(result.echoes).toEqual(["same", "same", 1024 * 1024]);
        expect(result.close).toEqual({ code: 1000, reason: "", wasClean: true });
        expect(requests.length).toBe(1);
        const [req] = requests;
        expect(req!.method, "an extended CONNECT, not an upgrade").toBe("CONNECT");
        expect(req!.head.httpVersion).toBe("2.0");
        expect(req!.headers.origin).toBe(`https://127.0.0.1:${port}`);
        expect(req!.headers["sec-websocket-extensions"]).toMatch(/^permessage-deflate/);
        expect(req!.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
        expect(await within(req!.websocket.closed, 10_000, "the server side to close")).toEqual({ code: 1000, reason: "done", wasClean: true });
      } finally {
        await page.close();
      }
    }

    it("handleHttp2Stream on a node:http2 server: the page's wss:// WebSocket is an extended CONNECT stream, served by wsraw", async () => {
      const requests: UpgradedRequest[] = [];
      const wsraw: WsrawServer = createServer({ perMessageDeflate: true, closeTimeoutMs: 2000 }).route("/echo", recordingEcho(requests));
      const upgrades: string[] = [];
      const h2 = http2.createSecureServer({
        key: suite.certs.localhost.key,
        cert: suite.certs.localhost.cert,
        allowHTTP1: true,
        settings: { enableConnectProtocol: true },
      });
      h2.on("stream", (stream, headers) => {
        if (wsraw.handleHttp2Stream(stream, headers)) return;
        stream.respond({ ":status": 200, "content-type": "text/html; charset=utf-8" });
        stream.end("<!doctype html><title>h2</title>");
      });
      // Browsers keep an HTTP/2 connection for the next request: the test ends them.
      const connections = new Set<http2.ServerHttp2Session>();
      h2.on("session", (session) => connections.add(session));
      h2.on("upgrade", (req, socket, head) => {
        upgrades.push(req.url ?? "");
        wsraw.handleUpgrade(req, socket, head);
      });
      await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
      try {
        await echoFromPage((h2.address() as { port: number }).port, requests);
        expect(upgrades, "no HTTP/1.1 upgrade").toEqual([]);
      } finally {
        await wsraw.close();
        for (const session of connections) session.destroy();
        await new Promise((resolve) => h2.close(resolve));
      }
    });

    it("an app on node:http2's compatibility API (createSecureServer(options, app)): its 'connect' listener hands the page's WebSocket to wsraw", async () => {
      const requests: UpgradedRequest[] = [];
      const wsraw = createServer({ perMessageDeflate: true, closeTimeoutMs: 2000 }).route("/echo", recordingEcho(requests));
      const h2 = http2.createSecureServer(
        { key: suite.certs.localhost.key, cert: suite.certs.localhost.cert, allowHTTP1: true, settings: { enableConnectProtocol: true } },
        (_req, res) => {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
          res.end("<!doctype html><title>an app over h2</title>");
        },
      );
      h2.on("connect", (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
        if (!wsraw.handleHttp2Stream(req.stream, req.headers)) res.writeHead(405).end();
      });
      const connections = new Set<http2.ServerHttp2Session>();
      h2.on("session", (session) => connections.add(session));
      await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
      try {
        await echoFromPage((h2.address() as { port: number }).port, requests);
      } finally {
        await wsraw.close();
        for (const session of connections) session.destroy();
        await new Promise((resolve) => h2.close(resolve));
      }
    });

    it("createServer({ tls, http2: true }): the page and its WebSocket share one HTTP/2 connection to wsraw", async () => {
      const requests: UpgradedRequest[] = [];
      const wsraw = createServer({ tls: { key: suite.certs.localhost.key, cert: suite.certs.localhost.cert }, http2: true, perMessageDeflate: true, closeTimeoutMs: 2000 })
        .route("/", httpOnly(() => ({ headers: { "content-type": "text/html; charset=utf-8" }, body: "<!doctype html><title>wsraw over h2</title>" })))
        .route("/echo", recordingEcho(requests));
      const { port } = await wsraw.listen(0, "127.0.0.1");
      try {
        await echoFromPage(port, requests);
      } finally {
        await wsraw.close();
      }
    });

    it("server.close() with three WebSockets open on the page's HTTP/2 connection: each closes with 1001, cleanly, and the server's close resolves", async () => {
      const wsraw = createServer({ tls: { key: suite.certs.localhost.key, cert: suite.certs.localhost.cert }, http2: true, closeTimeoutMs: 5000 })
        .route("/", httpOnly(() => ({ headers: { "content-type": "text/html; charset=utf-8" }, body: "<!doctype html><title>shutdown</title>" })))
        .route("/echo", echoRoute());
      const { port } = await wsraw.listen(0, "127.0.0.1");
      const page = await suite.browser.newPage(`https://127.0.0.1:${port}/`);
      try {
        await page.evaluate(
          (url) =>
            new Promise<void>((resolve) => {
              const closes: string[] = ((globalThis as any).closes = []);
              let open = 0;
              for (let i = 0; i < 3; i++) {
                const ws = new WebSocket(url);
                ws.onopen = () => ++open === 3 && resolve();
                ws.onclose = (event) => closes.push(`${event.code} ${event.reason} ${event.wasClean}`);
              }
            }),
          `wss://127.0.0.1:${port}/echo`,
        );
        expect(wsraw.connections).toBe(3);
        await within(wsraw.close(), 10_000, "server.close()");
        await page.waitForFunction(() => (globalThis as any).closes.length === 3, undefined, 10_000);
        expect(await page.evaluate(() => (globalThis as any).closes as string[], undefined)).toEqual(Array(3).fill("1001 server shutting down true"));
      } finally {
        await page.close();
        await wsraw.close();
      }
    });

    it("300 WebSockets opened and closed in turn on one connection: each closed stream is released at once, not after closeTimeoutMs", async () => {
      // The browser never ends its side of a closed WebSocket's stream. Were the stream held
      // until the close timeout, the 257th WebSocket would find all 256 streams taken.
      const wsraw = createServer({ tls: { key: suite.certs.localhost.key, cert: suite.certs.localhost.cert }, http2: true, closeTimeoutMs: 60_000 })
        .route("/", httpOnly(() => ({ headers: { "content-type": "text/html; charset=utf-8" }, body: "<!doctype html><title>many</title>" })))
        .route("/echo", echoRoute());
      const { port } = await wsraw.listen(0, "127.0.0.1");
      const page = await suite.browser.newPage(`https://127.0.0.1:${port}/`);
      try {
        const outcomes = await within(
          page.evaluate(async (url) => {
            const seen: string[] = [];
            for (let i = 0; i < 300; i++) {
              seen.push(
                await new Promise<string>((resolve) => {
                  const ws = new WebSocket(url);
                  ws.onopen = () => ws.send(`m${i}`);
                  ws.onmessage = (event) => ws.close(1000, String(event.data));
                  ws.onclose = (event) => resolve(`${event.code} ${event.wasClean}`);
                }),
              );
            }
            return seen;
          }, `wss://127.0.0.1:${port}/echo`),
          60_000,
          "300 WebSockets in turn",
        );
        expect(new Set(outcomes)).toEqual(new Set(["1000 true"]));
        expect(wsraw.stats().handshakes.accepted).toBe(300);
      } finally {
        await page.close();
        await wsraw.close();
      }
    });
  });
});
