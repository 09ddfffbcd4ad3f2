/**
 * The browser client module (`/client.js`, served by the demo server) driven directly in
 * Chromium and in Firefox: the send queue while disconnected and its limit, `close()` ending reconnects,
 * and a handshake that is never answered. The client talks to a `Gate`: an echo server
 * whose door the test opens and shuts, on a port that never changes hands.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Demo, Gate, type GateMode, PAGE_TOOLS, call, until } from "./helpers.js";
import { within } from "../support/index.js";
import { BROWSERS, type TestBrowser, type TestPage, browserSuiteTitle } from "../support/browsers.js";

/** Fast reconnects, no heartbeat: these tests are about the queue and `close()`. */
const CLIENT_OPTIONS = { minDelayMs: 50, maxDelayMs: 100, heartbeatIntervalMs: 0 };
/** Long enough for several reconnect attempts, were any still scheduled. */
const QUIET_MS = 10 * CLIENT_OPTIONS.maxDelayMs;

describe.each(BROWSERS)("$name", (kind) => {
  describe.skipIf(kind.skipReason !== undefined)(browserSuiteTitle("WsrawClient", kind), () => {
    let browser: TestBrowser | undefined;
    let page: TestPage | undefined;
    /** Serves the page and `/client.js`. */
    let home: Demo | undefined;
    let gate: Gate | undefined;

    beforeAll(async () => {
      browser = await kind.launch();
    });

    afterAll(async () => {
      await browser?.close();
    });

    beforeEach(async () => {
      home = await Demo.start();
      page = await browser!.newPage(`${home.base}/`, [PAGE_TOOLS]);
      expect(await call(page!, "loadClient")).toBe("function");
    });

    afterEach(async () => {
      await page?.close();
      await gate?.close();
      await home?.stop();
      page = gate = home = undefined;
    });

    async function startClient(mode: GateMode, options: Record<string, unknown> = {}): Promise<number> {
      gate = await new Gate(mode).start();
      return call(page!, "startClient", gate.url(), { ...CLIENT_OPTIONS, ...options });
    }

    /** A client whose first handshake was refused and that waits to try again. */
    async function disconnectedClient(options: Record<string, unknown> = {}): Promise<number> {
      const id = await startClient("refuse", options);
      await until(page!, "a refused handshake and a scheduled reconnect", "eventCount", id, "reconnecting", 1);
      expect((await call(page!, "clientState", id)).readyState).toBe(0); // CONNECTING while waiting
      return id;
    }

    const QUEUE_CASES = [
      { name: "default queue", maxQueue: undefined, send: ["one", "two", "three"], returns: [true, true, true] },
      { name: "maxQueue 2", maxQueue: 2, send: ["a", "b", "c"], returns: [true, true, false] },
      { name: "maxQueue 0", maxQueue: 0, send: ["x"], returns: [false] },
    ];

    it.each(QUEUE_CASES)("send while disconnected queues, in order ($name)", async ({ maxQueue, send, returns }) => {
      const id = await disconnectedClient(maxQueue === undefined ? {} : { maxQueue });
      expect(await call(page!, "send", id, send)).toEqual(returns);
      const queued = send.filter((_, i) => returns[i] === true);
      expect((await call(page!, "clientState", id)).queued).toBe(queued.length);

      // The server lets it in: the queue goes out first, in order, then what is sent once open.
      gate!.mode = "open";
      await until(page!, "the client to connect", "eventCount", id, "open", 1);
      expect((await call(page!, "clientState", id)).queued).toBe(0);
      expect(await call(page!, "send", id, ["after open"])).toEqual([true]);
      await until(page!, "the echoes", "messageCount", id, queued.length + 1);
      const state = await call(page!, "clientState", id);
      expect(state.messages).toEqual([...queued, "after open"]);
      expect(state.readyState).toBe(1);
    });

    it("close() while waiting to reconnect: no attempt is made afterwards", async () => {
      const id = await disconnectedClient();
      await until(page!, "a second refused attempt", "eventCount", id, "reconnecting", 2);
      await call(page!, "closeClient", id);
      const closed = await call(page!, "clientState", id);
      expect(closed.readyState).toBe(3);

      // The door opens; nothing may come through it.
      const attempts = { ...gate!.attempts };
      gate!.mode = "open";
      await sleep(QUIET_MS);
      expect(gate!.attempts).toEqual(attempts);
      expect(gate!.wsraw.connections).toBe(0);
      expect((await call(page!, "clientState", id)).events).toEqual(closed.events);
      expect(await call(page!, "send", id, ["too late"])).toEqual(["threw: client closed"]);
    });

    it("close() while open: a clean close, then no reconnect", async () => {
      const id = await startClient("open");
      await until(page!, "the client to connect", "eventCount", id, "open", 1);
      const [ws] = gate!.wsraw.clients;

      await call(page!, "closeClient", id);
      // Without a code the close frame has none: the server reports 1005 (RFC 6455 §7.1.5).
      expect(await within(ws.closed, 5000, "the server side to close")).toEqual({ code: 1005, reason: "", wasClean: true });
      await until(page!, "the client's close event", "eventCount", id, "close 1005", 1);
      expect((await call(page!, "clientState", id)).readyState).toBe(3);

      await sleep(QUIET_MS);
      expect((await call(page!, "clientState", id)).events).toEqual(["open", "close 1005"]);
      expect(gate!.attempts.open).toBe(1);
      expect(gate!.wsraw.connections).toBe(0);
    });

    it("a handshake that is never answered times out, and the client tries again", async () => {
      // A hung server: the TCP connection is accepted, the upgrade never answered. Browsers
      // wait minutes for a handshake; the client gives up after connectTimeoutMs.
      const id = await startClient("freeze", { connectTimeoutMs: 300 });
      await until(page!, "the handshake to time out and a reconnect", "eventCount", id, "reconnecting", 1);
      await gate!.attempted("freeze", 2);
      const state = await call(page!, "clientState", id);
      expect(state.events.slice(0, 2)).toEqual(["close 1006", "reconnecting"]);
      expect(state.readyState).toBe(0);

      // The server recovers: the next attempt opens.
      gate!.mode = "open";
      await until(page!, "the client to connect", "eventCount", id, "open", 1);
    });
  });
});
