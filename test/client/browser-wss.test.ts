/**
 * The demo over TLS in real Chromium (Debian's, through playwright-core): the page loads
 * over https://, its echo and chat talk over wss://, and `ws.extensions` shows
 * permessage-deflate when the demo accepts it. The certificate is made by certs.ts when
 * the test runs, so Chromium is launched with --ignore-certificate-errors.
 *
 * The demo runs in this process (createDemoServer with the `tls` option) and, once, as
 * the CLI (`wsraw demo --tls-cert --tls-key`, from dist/: run `npm run build` first when
 * running this file alone), killed by PID at teardown.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDemoServer } from "../../src/apps/demo.js";
import type { ServerOptions, WsrawServer } from "../../src/server/index.js";
import { call, newContext, say, until, waitForChatStatus } from "../browser/helpers.js";
import { startNode, useResources } from "../support/index.js";
import { type TestCerts, makeCerts, opensslSkip, removeCerts } from "./certs.js";
import { PAGE_TIMEOUT_MS, launchBrowser, skipReason } from "../support/browser.js";

const resources = useResources();
const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const PROBE = fileURLToPath(new URL("./fixtures/wss-probe.js", import.meta.url));
const TLS_400 = "This port speaks TLS: connect with wss:// (or https://)";

const skip = skipReason ?? opensslSkip;
const title = (text: string): string => (skip === undefined ? text : `${text} (skipped: ${skip})`);

/** What wssProbe (fixtures/wss-probe.js) reports. */
interface ProbeResult {
  url: string;
  extensions: string | null;
  echoed: unknown[];
  bigSame: boolean | null;
  close: { code: number; wasClean: boolean } | null;
  error: string | null;
}

function probe(page: Page, path: string, text: string): Promise<ProbeResult> {
  return page.evaluate(
    ([where, what, ms]) => {
      const url = `wss://${(globalThis as any).location.host}${where}`;
      return (globalThis as any).wssProbe(url, what, ms);
    },
    [path, text, PAGE_TIMEOUT_MS] as [string, string, number],
  );
}

describe.skipIf(skip !== undefined)(title("the demo over https:// and wss:// in Chromium"), () => {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let certs: TestCerts | undefined;
  const servers: WsrawServer[] = [];

  beforeAll(async () => {
    certs = await makeCerts();
    // The certificate is made by the test: Chromium is told to trust it.
    browser = await launchBrowser(["--ignore-certificate-errors"]);
  });

  afterAll(async () => {
    await browser?.close();
    await removeCerts(certs);
  });

  beforeEach(async () => {
    context = await newContext(browser!);
    await context.addInitScript({ path: PROBE });
  });

  afterEach(async () => {
    await context?.close();
    for (const server of servers.splice(0)) await server.close();
  });

  async function startDemo(options: ServerOptions = {}): Promise<{ server: WsrawServer; base: string }> {
    const server = createDemoServer({ closeTimeoutMs: 2000, tls: { key: certs!.localhost.key, cert: certs!.localhost.cert }, ...options });
    servers.push(server);
    const { port } = await server.listen(0, "127.0.0.1");
    return { server, base: `https://127.0.0.1:${port}` };
  }

  /** The demo page's echo section: connect, send each text, see each echo, close. */
  async function echoOnPage(page: Page, texts: string[]): Promise<void> {
    await page.click("#connect_websocket");
    await until(page, "the echo socket to open", "textMatches", "#echo_status", "^connected$");
    for (const text of texts) {
      await page.fill("#message", text);
      await page.click("#send_message");
      await until(page, `the echo of ${text}`, "hasText", "#messagecontainer p", text);
    }
    expect(await call(page, "texts", "#messagecontainer p")).toEqual([...texts].reverse());
    await page.click("#close_websocket");
    await until(page, "the echo socket to close", "textMatches", "#echo_status", "^closed \\(code 1005\\)$");
  }

  it("loads over https://; the echo and the chat work over wss://; plain http:// on the port gets the 400", async () => {
    const { server, base } = await startDemo();
    const page = await context!.newPage();
    const response = await page.goto(`${base}/`);
    expect(response?.status()).toBe(200);
    expect(await page.evaluate(() => (globalThis as any).location.protocol)).toBe("https:");

    await page.click("#connect_websocket");
    await until(page, "the echo socket to open", "textMatches", "#echo_status", "^connected$");
    // The page's socket is the server's only connection.
    expect(server.connections).toBe(1);
    expect([...server.clients][0].extensions).toBe("");
    await page.click("#close_websocket");
    await until(page, "the echo socket to close", "textMatches", "#echo_status", "^closed \\(code 1005\\)$");
    await echoOnPage(page, ["hello over wss", "你好, 🎉 over TLS"]);

    // Without deflate on the server, Chromium's offer is declined.
    const result = await probe(page, "/echo", "probe without deflate ");
    expect(result).toMatchObject({ extensions: "", echoed: ["probe without deflate "], bigSame: true, close: { code: 1000, wasClean: true }, error: null });

    // The chat's WsrawClient over wss:// too.
    await page.fill("#chat_name", "ann");
    await page.fill("#chat_room", "tls");
    await page.click("#chat_join");
    await waitForChatStatus(page, "connected", "the chat to connect over wss://");
    await say(page, "secure hello");
    await until(page, "ann's own chat line", "hasChatLine", "ann: secure hello");

    // The same port without TLS: the 400 that says to use wss:// or https://.
    const plain = await context!.newPage();
    const refused = await plain.goto(`${base.replace("https:", "http:")}/`);
    expect(refused?.status()).toBe(400);
    expect(await plain.textContent("body")).toContain(TLS_400);
  });

  it("with perMessageDeflate, ws.extensions shows permessage-deflate over wss://", async () => {
    const { server, base } = await startDemo({ perMessageDeflate: true });
    const page = await context!.newPage();
    await page.goto(`${base}/`);
    const result = await probe(page, "/echo", "compress me over TLS ");
    expect(result.extensions).toMatch(/^permessage-deflate(;|$)/);
    expect(result).toMatchObject({ echoed: ["compress me over TLS "], bigSame: true, close: { code: 1000, wasClean: true }, error: null });

    // The page's own echo socket agreed to it too (seen from the server).
    await page.click("#connect_websocket");
    await until(page, "the echo socket to open", "textMatches", "#echo_status", "^connected$");
    expect(server.connections).toBe(1);
    expect([...server.clients][0].extensions).toMatch(/^permessage-deflate(;|$)/);
    await page.click("#close_websocket");
    await until(page, "the echo socket to close", "textMatches", "#echo_status", "^closed \\(code 1005\\)$");
    await echoOnPage(page, ["deflated over wss"]);
  });

  it("wsraw demo --tls-cert --tls-key (the CLI, deflate on by default) serves the page and the echo", async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);
    const { match } = await startNode(
      resources,
      [CLI, "demo", "--port", "0", "--tls-cert", certs!.localhost.certFile, "--tls-key", certs!.localhost.keyFile],
      /wsraw demo: open (https:\/\/127\.0\.0\.1:\d+)\//,
    );
    const page = await context!.newPage();
    const response = await page.goto(`${match[1]}/`);
    expect(response?.status()).toBe(200);
    expect(await page.evaluate(() => (globalThis as any).location.protocol)).toBe("https:");
    await echoOnPage(page, ["hello from the CLI demo"]);
    const result = await probe(page, "/echo", "the CLI compresses ");
    expect(result.extensions).toMatch(/^permessage-deflate(;|$)/);
    expect(result).toMatchObject({ bigSame: true, close: { code: 1000, wasClean: true }, error: null });
  });

  it("wsraw demo --tls-cert --tls-key --http2: the page comes over HTTP/2, and its echo works over it", async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);
    const { match } = await startNode(
      resources,
      [CLI, "demo", "--port", "0", "--tls-cert", certs!.localhost.certFile, "--tls-key", certs!.localhost.keyFile, "--http2"],
      /wsraw demo: open (https:\/\/127\.0\.0\.1:\d+)\//,
    );
    const page = await context!.newPage();
    const response = await page.goto(`${match[1]}/`);
    expect(response?.status()).toBe(200);
    // The page's own record of how it came (in the page: DOM types, not Node's).
    const protocol = await page.evaluate(() => (globalThis as any).performance.getEntriesByType("navigation")[0].nextHopProtocol);
    expect(protocol).toBe("h2");
    await echoOnPage(page, ["hello over HTTP/2"]);
    const result = await probe(page, "/echo", "streams of one connection ");
    expect(result.extensions).toMatch(/^permessage-deflate(;|$)/);
    expect(result).toMatchObject({ bigSame: true, close: { code: 1000, wasClean: true }, error: null });
  });
});
