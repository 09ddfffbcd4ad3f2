/**
 * Helpers for the real-browser tests: the demo server on a loopback port, a gate that
 * refuses, freezes or lets in handshakes, and typed calls into `page-tools.js`, the
 * in-page helpers every page gets. Launching Chromium is in test/support/browser.ts.
 */
import { type Server as HttpServer, createServer as createHttpServer } from "node:http";
import type { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { createDemoServer } from "../../src/apps/demo.js";
import { echoRoute } from "../../src/apps/echo.js";
import { type ServerOptions, type WsrawServer, createServer } from "../../src/server/index.js";
import { PAGE_TIMEOUT_MS } from "../support/browser.js";
import { type TestPage, chromiumPage } from "../support/browsers.js";
import { within } from "../support/index.js";

export const PAGE_TOOLS = fileURLToPath(new URL("./page-tools.js", import.meta.url));

/** A fresh context whose pages all have `pageTools`. */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  context.setDefaultTimeout(PAGE_TIMEOUT_MS);
  await context.addInitScript({ path: PAGE_TOOLS });
  return context;
}

/** The demo server of `npm start`, on 127.0.0.1. */
export class Demo {
  private constructor(
    readonly port: number,
    readonly server: WsrawServer,
  ) {}

  static async start(port = 0, options: ServerOptions = {}): Promise<Demo> {
    const server = createDemoServer({ closeTimeoutMs: 2000, ...options });
    const address = await server.listen(port, "127.0.0.1");
    return new Demo(address.port, server);
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  stop(): Promise<void> {
    return this.server.close();
  }
}

/** What a `Gate` does with a WebSocket handshake. */
export type GateMode = "refuse" | "freeze" | "open";

/**
 * An echo server (`/echo`) on one port whose door the test controls, so a client can be
 * kept disconnected and then let in without the port ever changing hands: `refuse`
 * answers every handshake with 503, `freeze` accepts the TCP connection and never answers
 * (a hung server), `open` hands it to wsraw (through `handleUpgrade`).
 */
export class Gate {
  mode: GateMode;
  /** Handshakes seen, by the mode they met. */
  readonly attempts: Record<GateMode, number> = { refuse: 0, freeze: 0, open: 0 };
  readonly wsraw: WsrawServer = createServer({ closeTimeoutMs: 1000 }).route("/echo", echoRoute());
  port = 0;
  private readonly http: HttpServer;
  private readonly frozen = new Set<Duplex>();
  private readonly waiters = new Set<() => void>();

  constructor(mode: GateMode) {
    this.mode = mode;
    this.http = createHttpServer((_, res) => res.writeHead(404).end());
    this.http.on("upgrade", (req, socket: Duplex, head: Buffer) => {
      this.attempts[this.mode]++;
      for (const wake of [...this.waiters]) wake();
      socket.on("error", () => {});
      if (this.mode === "refuse") {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      } else if (this.mode === "freeze") {
        this.frozen.add(socket);
      } else {
        this.wsraw.handleUpgrade(req, socket, head);
      }
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(0, "127.0.0.1", resolve);
    });
    this.port = (this.http.address() as { port: number }).port;
    return this;
  }

  url(path = "/echo"): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves once `count` handshakes have met `mode`. */
  async attempted(mode: GateMode, count: number, ms = PAGE_TIMEOUT_MS): Promise<void> {
    let wake!: () => void;
    const reached = new Promise<void>((resolve) => {
      wake = () => {
        if (this.attempts[mode] >= count) resolve();
      };
      this.waiters.add(wake);
      wake();
    });
    await within(reached, ms, `${count} handshakes meeting a gate in mode "${mode}"`).finally(() => this.waiters.delete(wake));
  }

  async close(): Promise<void> {
    for (const socket of this.frozen) socket.destroy();
    await this.wsraw.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

// ---- Calls into page-tools.js ----

/** What page-tools.js offers; the argument and result types of each tool. */
export interface PageTools {
  text(selector: string): string;
  texts(selector: string): string[];
  hasText(selector: string, text: string): boolean;
  chatLines(): string[];
  hasChatLine(line: string): boolean;
  onlineIs(names: string[]): boolean;
  textMatches(selector: string, source: string): boolean;
  watchText(selector: string): void;
  history(selector: string): string[];
  loadClient(): string;
  startClient(url: string, options: Record<string, unknown>): number;
  clientState(id: number): { readyState: number; queued: number; events: string[]; messages: unknown[] };
  send(id: number, data: string[]): Array<boolean | string>;
  closeClient(id: number): void;
  eventCount(id: number, type: string, count: number): boolean;
  messageCount(id: number, count: number): boolean;
}

type ToolName = keyof PageTools;

/** A Playwright page (the demo page tests), or a page of either browser (test/support/browsers.ts). */
export type ToolPage = Page | TestPage;

/** Runs a page tool and returns its (awaited) result. */
export function call<K extends ToolName>(
  page: ToolPage,
  name: K,
  ...args: Parameters<PageTools[K]>
): Promise<Awaited<ReturnType<PageTools[K]>>> {
  return asTestPage(page).evaluate(([tool, toolArgs]) => (globalThis as any).pageTools[tool](...toolArgs), [name, args] as [string, unknown[]]);
}

/** Waits until a page tool returns something truthy; the error names `what` on timeout. */
export function until<K extends ToolName>(
  page: ToolPage,
  what: string,
  name: K,
  ...args: Parameters<PageTools[K]>
): Promise<void> {
  return untilWithin(PAGE_TIMEOUT_MS, page, what, name, ...args);
}

/** `until` with its own timeout. */
export async function untilWithin<K extends ToolName>(
  timeout: number,
  page: ToolPage,
  what: string,
  name: K,
  ...args: Parameters<PageTools[K]>
): Promise<void> {
  try {
    await asTestPage(page).waitForFunction(([tool, toolArgs]) => (globalThis as any).pageTools[tool](...toolArgs), [name, args] as [string, unknown[]], timeout);
  } catch (error) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}: ${(error as Error).message.split("\n")[0]}`);
  }
}

function asTestPage(page: ToolPage): TestPage {
  return "addInitScript" in page ? chromiumPage(page) : page;
}

// ---- The demo page's chat ----

/**
 * Opens the demo page (with `query` for the client options, e.g. "?hb=300") and joins
 * `room` as `name`; resolves once connected and listed online.
 */
export async function joinChat(toolPage: ToolPage, demo: Demo, name: string, room: string, query = ""): Promise<void> {
  const page = asTestPage(toolPage);
  await page.bringToFront();
  await page.goto(`${demo.base}/${query}`);
  await page.fill("#chat_name", name);
  await page.fill("#chat_room", room);
  await page.click("#chat_join");
  await waitForChatStatus(page, "connected", `${name} to connect`);
}

export async function waitForChatStatus(page: ToolPage, status: string, what: string, timeout = PAGE_TIMEOUT_MS): Promise<void> {
  await untilWithin(timeout, page, what, "textMatches", "#chat_status", `^${status}$`);
}

export async function say(toolPage: ToolPage, text: string): Promise<void> {
  // Clicks wait for the element to be stable over animation frames, which a page in the
  // background gets about once a second: act on the page in front.
  const page = asTestPage(toolPage);
  await page.bringToFront();
  await page.fill("#chat_text", text);
  await page.click("#chat_send");
}
