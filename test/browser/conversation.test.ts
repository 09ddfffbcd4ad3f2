/**
 * What a page's WebSocket sees of wsraw, in Chromium and in Firefox, whose WebSocket
 * implementations share no code, over `ws://`, over `wss://` and over `wss://` as a stream
 * of the page's HTTP/2 connection (RFC 8441): the subprotocol picked from the page's offers; close
 * codes and reasons both ways; a refused handshake (the browser shows only an error and
 * 1006, the server counts the 403); the heartbeat's pings answered by the browser, with
 * `ping()`'s round trip; a message streamed with `sendFragmented()` arriving whole; text
 * of every UTF-8 width and binary, both ways, unchanged.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ServerOptions, type UpgradedRequest, type WsrawServer, createServer, httpOnly, requireWebSocket } from "../../src/index.js";
import type { TestCerts } from "../client/certs.js";
import { BROWSERS, type TestPage, browserSuiteTitle, tlsBrowserSkip, useTlsBrowser } from "../support/browsers.js";
import { AsyncQueue, within } from "../support/index.js";

/** How the page's WebSocket ended, and what it saw before. */
interface PageSession {
  protocol: string;
  opened: boolean;
  errored: boolean;
  messages: string[];
  close: { code: number; reason: string; wasClean: boolean };
}

/**
 * In the page: opens `url` offering `protocols`, sends `send` once open (strings as text,
 * arrays of numbers as binary), records what arrives (binary as "binary:<length>:<sum>"),
 * closes with `close` once `expect` messages have come (if given), and resolves at the close.
 */
function talk(
  page: TestPage,
  options: { url: string; protocols?: string[]; send?: Array<string | number[]>; expect?: number; close?: [number, string] },
): Promise<PageSession> {
  return within(
    page.evaluate(
      (o) =>
        new Promise<PageSession>((resolve) => {
          const session: PageSession = { protocol: "", opened: false, errored: false, messages: [], close: { code: 0, reason: "", wasClean: false } };
          const ws = new WebSocket(o.url, o.protocols ?? []);
          ws.binaryType = "arraybuffer";
          ws.onopen = () => {
            session.opened = true;
            session.protocol = ws.protocol;
            for (const message of o.send ?? []) ws.send(typeof message === "string" ? message : new Uint8Array(message));
          };
          ws.onmessage = (event) => {
            const data = event.data as string | ArrayBuffer;
            if (typeof data === "string") session.messages.push(data);
            else session.messages.push(`binary:${data.byteLength}:${new Uint8Array(data).reduce((sum, b) => (sum + b) % 65521, 0)}`);
            if (o.close !== undefined && session.messages.length === o.expect) ws.close(o.close[0], o.close[1]);
          };
          ws.onerror = () => (session.errored = true);
          ws.onclose = (event) => {
            session.close = { code: event.code, reason: event.reason, wasClean: event.wasClean };
            resolve(session);
          };
        }),
      options,
    ),
    30_000,
    `the page's WebSocket to ${options.url}`,
  );
}

const MULTIBYTE = "ascii é ß 日本語 🎉 𝄞 ".repeat(300);
const BINARY = Array.from({ length: 70_000 }, (_, i) => (i * 7 + 3) % 256);
const binarySummary = (bytes: readonly number[]) => `binary:${bytes.length}:${bytes.reduce((sum, b) => (sum + b) % 65521, 0)}`;

/** How the page reaches the server: its scheme, and the server's options for it. */
interface Transport {
  name: string;
  secure: boolean;
  options: (certs: TestCerts) => ServerOptions;
}

const TRANSPORTS: Transport[] = [
  { name: "ws://", secure: false, options: () => ({}) },
  { name: "wss:// over HTTP/1.1", secure: true, options: (certs) => ({ tls: { key: certs.localhost.key, cert: certs.localhost.cert } }) },
  { name: "wss:// over HTTP/2", secure: true, options: (certs) => ({ tls: { key: certs.localhost.key, cert: certs.localhost.cert }, http2: true }) },
];

describe.each(BROWSERS)("$name", (kind) => {
  const skip = tlsBrowserSkip(kind);
  describe.skipIf(skip !== undefined)(browserSuiteTitle("A WebSocket conversation with wsraw", { ...kind, skipReason: skip }), () => {
    const suite = useTlsBrowser(kind);

    describe.each(TRANSPORTS)("$name", (transport) => {
      let page: TestPage | undefined;
      let server: WsrawServer | undefined;
      let base = "";
      const requests = new AsyncQueue<UpgradedRequest>("a WebSocket request on the server");

      beforeAll(async () => {
        server = createServer({ closeTimeoutMs: 2000, heartbeat: { intervalMs: 100, timeoutMs: 1000 }, ...transport.options(suite.certs) })
          .route("/", httpOnly(() => ({ headers: { "content-type": "text/html; charset=utf-8" }, body: "<!doctype html><title>conversation</title>" })))
          .route(
            "/echo",
            requireWebSocket(
              async (req) => {
                requests.push(req);
                for await (const message of req.websocket) req.websocket.send(message);
              },
              { protocols: ["chat.v1", "chat.v3"] },
            ),
          )
          .route(
            "/closing",
            requireWebSocket(async ({ websocket: ws }) => {
              ws.send("about to close");
              ws.close(4001, "custom reason é");
              await ws.closed;
            }),
          )
          .route(
            "/streamed",
            requireWebSocket(async ({ websocket: ws }) => {
              await ws.sendFragmented(
                (async function* () {
                  for (let i = 0; i < 16; i++) {
                    await new Promise((resolve) => setTimeout(resolve, 2));
                    yield `piece ${i} ${"é".repeat(4000)}|`;
                  }
                })(),
              );
              ws.close(1000, "streamed");
              await ws.closed;
            }),
          )
          .route("/members-only", requireWebSocket(() => {}, { authorize: () => ({ status: 403, message: "members only" }) }));
        const { port } = await server.listen(0, "127.0.0.1");
        base = `127.0.0.1:${port}`;
      });

      afterAll(async () => {
        await server?.close();
      });

      afterEach(async () => {
        await page?.close();
        page = undefined;
      });

      const ws = transport.secure ? "wss" : "ws";

      async function openPage(): Promise<TestPage> {
        page = await suite.browser.newPage(`${transport.secure ? "https" : "http"}://${base}/`);
        if (transport.name.endsWith("HTTP/2")) {
          const protocol = await page.evaluate(() => (globalThis as any).performance.getEntriesByType("navigation")[0].nextHopProtocol, undefined);
          expect(protocol, "the page came over HTTP/2").toBe("h2");
        }
        return page;
      }

      it("picks the subprotocol from the page's offers, echoes text of every UTF-8 width and binary unchanged, and hears the page's close code and reason", async () => {
        const session = talk(await openPage(), {
          url: `${ws}://${base}/echo`,
          protocols: ["chat.v2", "chat.v3", "chat.v1"],
          // The empty message is not the last: Chromium holds back an empty message sent
          // last over HTTP/2 until it next sends (its DATA frame never reaches the server).
          send: [MULTIBYTE, "", BINARY],
          expect: 3,
          close: [3001, "leaving ✓"],
        });
        const req = await requests.next();
        expect(req.headers["sec-websocket-protocol"]).toBe("chat.v2, chat.v3, chat.v1");
        const ended = await session;
        // The first of the page's offers that the route speaks, in the page's order of preference.
        expect(ended.protocol).toBe("chat.v3");
        expect(req.websocket.protocol).toBe("chat.v3");
        expect(ended.messages).toEqual([MULTIBYTE, "", binarySummary(BINARY)]);
        expect(ended.close).toEqual({ code: 3001, reason: "", wasClean: true });
        expect(await within(req.websocket.closed, 5000, "the server side to close")).toEqual({ code: 3001, reason: "leaving ✓", wasClean: true });
      });

      it("the server's close code and reason reach the page, after the message sent before it", async () => {
        const ended = await talk(await openPage(), { url: `${ws}://${base}/closing` });
        expect(ended.messages).toEqual(["about to close"]);
        expect(ended.close).toEqual({ code: 4001, reason: "custom reason é", wasClean: true });
        expect(ended.errored).toBe(false);
      });

      it("a refused handshake: the page sees an error and 1006 (browsers hide the status), the server counts a 403", async () => {
        const before = server!.stats().handshakes.refused[403] ?? 0;
        const ended = await talk(await openPage(), { url: `${ws}://${base}/members-only` });
        expect(ended).toMatchObject({ opened: false, errored: true, close: { code: 1006, wasClean: false } });
        expect(server!.stats().handshakes.refused[403]).toBe(before + 1);
      });

      it("the heartbeat's pings are answered by the browser: an idle page stays connected, and ping() gives a round trip", async () => {
        const p = await openPage();
        const session = talk(p, { url: `${ws}://${base}/echo`, send: ["hello"], expect: 2, close: [1000, "done"] });
        const req = await requests.next();
        // Ten heartbeat intervals with nothing else said: a browser that did not answer pings
        // would be terminated after timeoutMs (1 s).
        await new Promise((resolve) => setTimeout(resolve, 1500));
        expect(req.websocket.readyState).toBe(1);
        const rtt = await within(req.websocket.ping(), 5000, "the browser's pong");
        expect(rtt).toBeGreaterThanOrEqual(0);
        expect(rtt).toBeLessThan(1000);
        req.websocket.send("still here");
        const ended = await session;
        expect(ended.messages).toEqual(["hello", "still here"]);
        expect(ended.close).toEqual({ code: 1000, reason: "", wasClean: true });
      });

      it("a message streamed with sendFragmented() arrives whole, as one message event", async () => {
        const ended = await talk(await openPage(), { url: `${ws}://${base}/streamed` });
        expect(ended.messages.length).toBe(1);
        expect(ended.messages[0] === Array.from({ length: 16 }, (_, i) => `piece ${i} ${"é".repeat(4000)}|`).join("")).toBe(true);
        expect(ended.close).toEqual({ code: 1000, reason: "streamed", wasClean: true });
      });
    });
  });
});
