/**
 * permessage-deflate (RFC 7692) with real browsers, Chromium and Firefox (each has a
 * permessage-deflate of its own: Chromium offers client_max_window_bits, Firefox the bare
 * extension, and only Chromium's `ws.extensions` shows the parameters): a page on a wsraw server opens a
 * WebSocket to an echo route (the echo app's `echo` loop) with compression on, and
 * checks what the browser agreed to (`ws.extensions`), 1 MiB of text and 1 MiB of binary
 * byte-exact through a SHA-256 computed in the page, and 100 JSON messages in order.
 *
 * The socket goes through a `WireTap` (fixtures/wire.ts) that reads the frames both ways:
 * Chromium's messages and wsraw's echoes must really be compressed (RSV1, smaller on the
 * wire), and `ws`'s own inflater decodes wsraw's echoes to the bytes the page hashed.
 * (The round trips compare what each browser sent and received by SHA-256.)
 */
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { echo } from "../../src/apps/echo.js";
import { type PerMessageDeflateOptions, type WsrawServer, createServer, httpOnly, requireWebSocket } from "../../src/server/index.js";
import { type AgreedParams, WireTap, deflateParams, inflateWithWs, parseExtensions } from "./fixtures/wire.js";
import { within, MiB, sha256 } from "../support/index.js";
import { BROWSERS, type TestBrowser, type TestPage, browserSuiteTitle } from "../support/browsers.js";

const ROUND_TRIPS = fileURLToPath(new URL("./fixtures/round-trips.js", import.meta.url));

/** What the page's `deflateRoundTrips(url)` (fixtures/round-trips.js) reports. */
interface PageResult {
  extensions: string;
  text: { bytes: number; sent: string; echoed: string; same: boolean };
  binary: { bytes: number; sent: string; echoed: string; same: boolean };
  repeat: { sent: string; echoed: string[] };
  sequence: { sent: number; inOrder: boolean; echoed: number };
  close: { code: number; reason: string; wasClean: boolean };
  error: string | null;
}

interface BrowserCase {
  name: string;
  options: true | PerMessageDeflateOptions;
  /** What the server answers, by browser: their offers differ. */
  agreed: Record<"Chromium" | "Firefox", AgreedParams>;
}

/** The pieces of the fragmented message: text of every width, each piece different. */
const FRAGMENTS = Array.from({ length: 6 }, (_, i) => `piece ${i}: ${"deflate 日本語 🎉 кириллица ".repeat(500 + i * 37)}`);
const AFTER_FRAGMENTS = `sent during the fragmented message ${"é".repeat(3000)}`;

const CASES: BrowserCase[] = [
  {
    name: "wsraw's defaults (no context takeover)",
    options: true,
    agreed: {
      Chromium: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      Firefox: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
    },
  },
  {
    name: "context takeover both ways",
    options: { serverNoContextTakeover: false, clientNoContextTakeover: false },
    agreed: {
      Chromium: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      Firefox: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
    },
  },
  {
    name: "context takeover, 10-bit windows",
    options: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    agreed: {
      // Chromium offers client_max_window_bits, so the server can ask for 10 (RFC 7692 §7.1.2.2).
      Chromium: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 10 },
      // Firefox does not, so its window stays 15. The server compresses with 10 bits all
      // the same: a window smaller than agreed is any inflater's to read.
      Firefox: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
    },
  },
];

describe.each(BROWSERS)("$name", (kind) => {
  describe.skipIf(kind.skipReason !== undefined)(browserSuiteTitle("permessage-deflate", kind), () => {
    let browser: TestBrowser | undefined;
    let page: TestPage | undefined;
    let server: WsrawServer | undefined;
    let wire: WireTap | undefined;
    /** ws.extensions of each connection the server accepted. */
    let accepted: string[] = [];

    beforeAll(async () => {
      browser = await kind.launch();
    });

    afterAll(async () => {
      await browser?.close();
    });

    beforeEach(() => {
      accepted = [];
    });

    afterEach(async () => {
      await page?.close();
      await wire?.close();
      await server?.close();
      page = wire = server = undefined;
    });

    /** The echo app with `perMessageDeflate`, a page at `/`, and a wire tap in front of it. */
    async function start(perMessageDeflate: true | PerMessageDeflateOptions): Promise<{ page: TestPage; url: string }> {
      server = createServer({ perMessageDeflate, closeTimeoutMs: 2000 })
        // The echo app's own loop, after noting what was negotiated.
        .route(
          "/echo",
          requireWebSocket(({ websocket }) => {
            accepted.push(websocket.extensions);
            return echo(websocket);
          }),
        )
        // A message streamed with sendFragmented() (compressed piece by piece), and one sent
        // meanwhile, which must follow it; then a close.
        .route(
          "/fragmented",
          requireWebSocket(async ({ websocket }) => {
            const sending = websocket.sendFragmented(
              (async function* () {
                for (const piece of FRAGMENTS) {
                  await new Promise((resolve) => setTimeout(resolve, 5));
                  yield piece;
                }
              })(),
            );
            websocket.send(AFTER_FRAGMENTS);
            await sending;
            websocket.close(1000, "done");
            await websocket.closed;
          }),
        )
        .route("/", httpOnly(() => ({ status: 200, headers: { "content-type": "text/html; charset=utf-8" }, body: "<!doctype html><title>deflate</title>" })));
      const { port } = await server.listen(0, "127.0.0.1");
      wire = await WireTap.start(port);
      // http://127.0.0.1 is a secure context: the page has crypto.subtle.
      page = await browser!.newPage(`http://127.0.0.1:${port}/`, [ROUND_TRIPS]);
      return { page, url: wire.url("/echo") };
    }

    it.each(CASES)("$name: ws.extensions, 1 MiB text and binary byte-exact, 100 JSON in order", async ({ options, agreed: agreedBy }) => {
      const agreed = agreedBy[kind.name];
      const { page, url } = await start(options);
      const result = await within(
        page.evaluate((target) => (globalThis as unknown as { deflateRoundTrips(url: string): Promise<PageResult> }).deflateRoundTrips(target), url),
        30_000,
        "the page's round trips",
      );
      expect(result.error).toBeNull();

      // What the browser agreed to is what the server answered.
      const { fromClient, fromServer } = wire!.last;
      const responseHead = fromServer.head ?? "";
      const answered = /^sec-websocket-extensions:\s*(.*)$/im.exec(responseHead)?.[1] ?? "";
      expect(/^sec-websocket-extensions:.*permessage-deflate/im.test(fromClient.head ?? ""), `${kind.name} offered permessage-deflate`).toBe(true);
      expect(deflateParams(answered)).toEqual(agreed);
      expect(accepted).toEqual([answered]);
      // Chromium's ws.extensions is the server's answer; Firefox's names the extension alone.
      if (kind.name === "Chromium") expect(parseExtensions(result.extensions)).toEqual(parseExtensions(answered));
      else expect(result.extensions).toBe("permessage-deflate");

      expect(result.text.bytes).toBeGreaterThanOrEqual(MiB);
      expect(result.text.echoed).toBe(result.text.sent);
      expect(result.text.same).toBe(true);
      expect(result.binary.bytes).toBe(MiB);
      expect(result.binary.echoed).toBe(result.binary.sent);
      expect(result.binary.same).toBe(true);
      expect(result.repeat.echoed).toEqual([result.repeat.sent, result.repeat.sent]);
      expect(result.sequence).toEqual({ sent: 100, echoed: 100, inOrder: true });
      // The server answers the close with the code alone (as in test/server/interop.test.ts).
      expect(result.close).toEqual({ code: 1000, reason: "", wasClean: true });

      // Both sides compressed the big messages, and ws's inflater reads wsraw's echoes as the
      // very bytes the page hashed.
      expect(fromServer.error ?? fromClient.error).toBeUndefined();
      expect(fromClient.messages.length).toBe(104);
      expect(fromServer.messages.length).toBe(104);
      const [textUp, binaryUp] = fromClient.messages;
      const [textDown, binaryDown] = fromServer.messages;
      expect(textUp.compressed, `${kind.name} compressed the 1 MiB text`).toBe(true);
      expect(binaryUp.compressed, `${kind.name} compressed the 1 MiB binary`).toBe(true);
      expect(textDown).toMatchObject({ opcode: 1, compressed: true });
      expect(binaryDown).toMatchObject({ opcode: 2, compressed: true });
      expect(binaryDown.wireLength).toBeLessThan(0.75 * MiB); // half of it compresses well
      const decoded = await inflateWithWs(answered, fromServer.messages, agreed.serverNoContextTakeover);
      expect(sha256(decoded[0].bytes)).toBe(result.text.sent);
      expect(sha256(decoded[1].bytes)).toBe(result.binary.sent);
      expect(sha256(decoded[2].bytes)).toBe(result.repeat.sent);
      expect(sha256(decoded[3].bytes)).toBe(result.repeat.sent);
      for (const { alone, bytes } of decoded) if (alone !== undefined) expect(sha256(alone)).toBe(sha256(bytes));

      // The 4 KiB of random bytes sent twice: with context takeover (and a window that holds
      // 4 KiB) the repeat is a few bytes of back-references, each way; without, it is not.
      // The server compresses with the window it is configured for; the browser with the one agreed.
      const windowBits = (side: "server" | "client") =>
        side === "client" ? agreed.clientMaxWindowBits : options === true ? 15 : (options.serverMaxWindowBits ?? 15);
      const repeatDown = fromServer.messages[3];
      const repeatUp = fromClient.messages[3];
      if (agreed.serverNoContextTakeover) expect(repeatDown.wireLength).toBeGreaterThan(3500);
      else if (windowBits("server") >= 13) expect(repeatDown.compressed && repeatDown.wireLength < 100, `the server's repeat: ${repeatDown.wireLength} bytes`).toBe(true);
      if (agreed.clientNoContextTakeover) expect(repeatUp.wireLength).toBeGreaterThan(3500);
      else if (windowBits("client") >= 13) expect(repeatUp.compressed && repeatUp.wireLength < 100, `${kind.name}'s repeat: ${repeatUp.wireLength} bytes`).toBe(true);
    });

    it.each(CASES)("$name: a message sent with sendFragmented(), compressed piece by piece, and one sent meanwhile", async ({ options }) => {
      const { page, url } = await start(options);
      const received = await within(
        page.evaluate(
          (target) =>
            new Promise<{ messages: string[]; close: { code: number; reason: string; wasClean: boolean } }>((resolve) => {
              const messages: string[] = [];
              const ws = new WebSocket(target);
              ws.onmessage = (event) => messages.push(String(event.data));
              ws.onclose = (event) => resolve({ messages, close: { code: event.code, reason: event.reason, wasClean: event.wasClean } });
            }),
          url.replace(/\/echo$/, "/fragmented"),
        ),
        30_000,
        "the page to receive both messages and the close",
      );
      expect(received.messages.length).toBe(2);
      expect(received.messages[0] === FRAGMENTS.join(""), "the fragmented message, whole").toBe(true);
      expect(received.messages[1] === AFTER_FRAGMENTS, "the message sent meanwhile, after it").toBe(true);
      expect(received.close).toEqual({ code: 1000, reason: "done", wasClean: true });
      const { frames, messages } = wire!.last.fromServer;
      expect(messages.map((m) => [m.compressed, m.frames])).toEqual([
        [true, FRAGMENTS.length + 1],
        [true, 1],
      ]);
      expect(frames.filter((f) => f.opcode < 8).map((f) => f.rsv1)).toEqual([true, ...FRAGMENTS.map(() => false), true]);
    });
  });
});
