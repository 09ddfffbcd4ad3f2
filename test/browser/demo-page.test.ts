/**
 * The demo page in real browsers, Chromium and Firefox, against the demo server in this process: the seed's
 * echo page, the chat (rooms, presence), reconnecting after a server restart, and the
 * client heartbeat finding a server that keeps TCP open but no longer answers.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type WebSocket, type WsrawServer, createServer, requireWebSocket } from "../../src/server/index.js";
import { Demo, PAGE_TOOLS, call, joinChat, say, until, waitForChatStatus } from "./helpers.js";
import { within } from "../support/index.js";
import { BROWSERS, type TestBrowser, type TestPage, browserSuiteTitle } from "../support/browsers.js";

/** Client options of the reconnect tests, as the demo page reads them from its query. */
const MIN_DELAY_MS = 200;
const MAX_DELAY_MS = 1000;
const HEARTBEAT_MS = 300;
/** Well above a pong's round trip, even on a loaded machine, so only a dead server trips it. */
const HEARTBEAT_TIMEOUT_MS = 1000;
/** Room for a slow, shared machine on top of every time bound the client promises. */
const SLACK_MS = 5000;

describe.each(BROWSERS)("$name", (kind) => {
  describe.skipIf(kind.skipReason !== undefined)(browserSuiteTitle("demo page", kind), () => {
    let browser: TestBrowser | undefined;
    /** Pages a test opened (closed after it). */
    const pages: TestPage[] = [];
    let demo: Demo | undefined;
    /** Other servers a test started (closed after it). */
    const extraServers: WsrawServer[] = [];

    beforeAll(async () => {
      browser = await kind.launch();
    });

    afterAll(async () => {
      await browser?.close();
    });

    beforeEach(async () => {
      demo = await Demo.start();
    });

    afterEach(async () => {
      for (const page of pages.splice(0)) await page.close();
      await demo?.stop();
      demo = undefined;
      for (const server of extraServers.splice(0)) await server.close();
    });

    /** A blank page with the page tools, in a context of its own. */
    const newPage = async (): Promise<TestPage> => {
      const page = await browser!.newPage("about:blank", [PAGE_TOOLS]);
      pages.push(page);
      return page;
    };

    it("echo: connect, send, see the echo, close", async () => {
      const page = await newPage();
      await page.goto(`${demo!.base}/`);
      await page.click("#connect_websocket");
      await until(page, "the echo socket to open", "textMatches", "#echo_status", "^connected$");

      for (const text of [`hello from ${kind.name}`, "你好, second message"]) {
        await page.fill("#message", text);
        await page.click("#send_message");
        await until(page, `the echo of ${text}`, "hasText", "#messagecontainer p", text);
      }
      // Newest first, one <p> per echo.
      expect(await call(page, "texts", "#messagecontainer p")).toEqual(["你好, second message", `hello from ${kind.name}`]);
      expect(demo!.server.connections).toBe(1);

      await page.click("#close_websocket");
      // The page closes without a status code, so both sides report 1005 (RFC 6455 §7.1.5).
      await until(page, "the echo socket to close", "textMatches", "#echo_status", "^closed \\(code 1005\\)$");
      expect(demo!.server.connections).toBe(0);
    });

    it("chat: a room's members see each other's messages and presence; another room sees none", async () => {
      const [ann, bob, cy] = await Promise.all([newPage(), newPage(), newPage()]);
      await joinChat(ann, demo!, "ann", "r1");
      await joinChat(bob, demo!, "bob", "r1");
      await joinChat(cy, demo!, "cy", "r2");
      for (const page of [ann, bob]) await until(page, "ann and bob online", "onlineIs", ["ann", "bob"]);
      await until(cy, "only cy online in r2", "onlineIs", ["cy"]);

      await say(ann, "hello bob");
      await until(bob, "ann's message at bob", "hasChatLine", "ann: hello bob");
      await say(bob, "hi ann");
      await until(ann, "bob's message at ann", "hasChatLine", "bob: hi ann");
      await until(bob, "bob's own message", "hasChatLine", "bob: hi ann");
      for (const page of [ann, bob]) {
        expect(await call(page, "chatLines")).toEqual(["ann: hello bob", "bob: hi ann"]);
      }

      // cy's own message comes after anything the server sent cy before it, so r1's
      // messages would be in cy's log by now if they had been sent there.
      await say(cy, "anyone in r2?");
      await until(cy, "cy's own message", "hasChatLine", "cy: anyone in r2?");
      expect(await call(cy, "chatLines")).toEqual(["cy: anyone in r2?"]);
      expect(await call(cy, "texts", "#chat_online li")).toEqual(["cy"]);
      // And the other way round: r1 never gets r2's message.
      await say(bob, "last one");
      await until(ann, "bob's last message", "hasChatLine", "bob: last one");
      expect(await call(ann, "chatLines")).toEqual(["ann: hello bob", "bob: hi ann", "bob: last one"]);
    });

    it("restart: the pages reconnect within the backoff bound and chat again", async () => {
      const query = `?minDelay=${MIN_DELAY_MS}&maxDelay=${MAX_DELAY_MS}`;
      const [ann, bob] = await Promise.all([newPage(), newPage()]);
      await joinChat(ann, demo!, "ann", "r1", query);
      await joinChat(bob, demo!, "bob", "r1", query);
      for (const page of [ann, bob]) await until(page, "both online", "onlineIs", ["ann", "bob"]);

      const port = demo!.port;
      await demo!.stop();
      demo = undefined;
      for (const page of [ann, bob]) {
        await until(page, "the page to notice the server is gone", "textMatches", "#chat_status", "^(reconnecting|connecting)");
      }

      demo = await Demo.start(port);
      const restarted = performance.now();
      // A reconnect is never more than maxDelay away, whatever attempt the backoff is at.
      for (const page of [ann, bob]) {
        await waitForChatStatus(page, "connected", "the page to reconnect", MAX_DELAY_MS + SLACK_MS);
      }
      expect(performance.now() - restarted).toBeLessThan(MAX_DELAY_MS + SLACK_MS);
      for (const page of [ann, bob]) await until(page, "both online again", "onlineIs", ["ann", "bob"]);
      expect(demo.server.connections).toBe(2);

      await say(ann, "back again");
      await until(bob, "ann's message after the restart", "hasChatLine", "ann: back again");
    });

    it("a server that stops answering is detected by the heartbeat, and the page moves to a healthy one", async () => {
      const query = `?hb=${HEARTBEAT_MS}&hbTimeout=${HEARTBEAT_TIMEOUT_MS}&minDelay=${MIN_DELAY_MS}&maxDelay=${MAX_DELAY_MS}`;
      const page = await newPage();
      await joinChat(page, demo!, "ann", "r1", query);
      await call(page, "watchText", "#chat_status");

      // Swap the healthy server for a silent one on the same port.
      const port = demo!.port;
      const beforeSwap = (await call(page, "history", "#chat_status")).length;
      await demo!.stop();
      demo = undefined;
      const silent = silentChatServer();
      extraServers.push(silent.server);
      await silent.server.listen(port);

      // The page connects to it, its pings go unanswered, and it gives up with 4000.
      const first = await within(silent.first, MAX_DELAY_MS + SLACK_MS, "the page to connect to the silent server");
      const ended = await within(first.ws.closed, HEARTBEAT_MS + HEARTBEAT_TIMEOUT_MS + SLACK_MS, "the heartbeat timeout");
      const lasted = performance.now() - first.openedAt;
      expect(ended).toMatchObject({ code: 4000, reason: "heartbeat timeout" });
      // Not before a ping and its deadline have passed (one ping period + the timeout).
      expect(lasted).toBeGreaterThanOrEqual((HEARTBEAT_MS + HEARTBEAT_TIMEOUT_MS) * 0.8);
      expect(first.messages.length).toBeGreaterThanOrEqual(1);
      expect(new Set(first.messages)).toEqual(new Set(["wsraw:ping"]));
      // The page said so: connected (to the silent server), then reconnecting. (By now it
      // may be connected to the silent server again: look at its first connection there.)
      const history = await call(page, "history", "#chat_status");
      const sinceSwap = history.slice(beforeSwap);
      const connectedToSilent = sinceSwap.indexOf("connected");
      expect(connectedToSilent, JSON.stringify(history)).toBeGreaterThan(0);
      expect(sinceSwap.slice(connectedToSilent + 1).some((status) => status.startsWith("reconnecting in"))).toBe(true);

      // A healthy server comes back on the port: the page reconnects and chats.
      await silent.server.close();
      demo = await Demo.start(port);
      await waitForChatStatus(page, "connected", "the page to reconnect to the healthy server", MAX_DELAY_MS + SLACK_MS);
      await until(page, "ann online again", "onlineIs", ["ann"]);
      await say(page, "alive again");
      await until(page, "ann's message on the healthy server", "hasChatLine", "ann: alive again");

      // The healthy server answers the pings: the connection outlives the deadline of an
      // unanswered ping by several ping periods.
      const [ws] = demo.server.clients;
      const connectedAt = performance.now();
      const outcome = await Promise.race([ws.closed, sleep(HEARTBEAT_TIMEOUT_MS + 3 * HEARTBEAT_MS, "still open")]);
      expect(outcome).toBe("still open");
      expect(ws.lastReceivedAt).toBeGreaterThan(connectedAt + HEARTBEAT_MS);
      const since = (await call(page, "history", "#chat_status")).slice(history.length);
      expect(since.at(-1)).toBe("connected");
    });
  });
});

/** A connection to the silent server: it reads everything and answers nothing. */
interface SilentConnection {
  ws: WebSocket;
  openedAt: number;
  messages: string[];
}

/**
 * A server whose `/chat` accepts the upgrade, reads (and records) what the client sends,
 * and never answers: the TCP connection stays healthy, the application is dead. Only a
 * heartbeat can tell.
 */
function silentChatServer(): { server: WsrawServer; first: Promise<SilentConnection> } {
  const server = createServer({ closeTimeoutMs: 1000 });
  let resolveFirst!: (connection: SilentConnection) => void;
  const first = new Promise<SilentConnection>((resolve) => (resolveFirst = resolve));
  server.route(
    "/chat",
    requireWebSocket(async ({ websocket: ws }) => {
      const connection: SilentConnection = { ws, openedAt: performance.now(), messages: [] };
      resolveFirst(connection);
      for await (const message of ws) connection.messages.push(String(message));
    }),
  );
  return { server, first };
}
