/**
 * The real browsers a test can run in, behind one small interface: Debian's Chromium
 * (through playwright-core, test/support/browser.ts) and Debian's Firefox ESR (over
 * WebDriver BiDi, test/support/firefox.ts). A suite written against `TestBrowser` runs
 * once per browser with `describe.each(BROWSERS)`, each skipped with its own reason.
 */
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { type TestCerts, makeCerts, opensslSkip, removeCerts } from "../client/certs.js";
import { PAGE_TIMEOUT_MS, launchBrowser, skipReason as chromiumSkipReason } from "./browser.js";
import { Firefox, firefoxSkipReason } from "./firefox.js";

/** A page, loaded in a context of its own. */
export interface TestPage {
  /** Calls `fn(arg)` in the page; resolves with its (awaited) result, carried as JSON. */
  evaluate<Arg, Result>(fn: (arg: Arg) => Result | Promise<Result>, arg: Arg): Promise<Result>;
  /** Resolves once `fn(arg)` is truthy in the page, polled every 50 ms; rejects after `timeoutMs`. */
  waitForFunction<Arg>(fn: (arg: Arg) => unknown, arg: Arg, timeoutMs: number): Promise<void>;
  /** Loads `url` in the page; resolves once it has loaded. */
  goto(url: string): Promise<void>;
  /** Clicks the element that `selector` matches. */
  click(selector: string): Promise<void>;
  /** Types `text` into the input that `selector` matches, in place of what it held. */
  fill(selector: string, text: string): Promise<void>;
  /**
   * Makes the page the one in front: background pages get their timers and animation
   * frames throttled (to about once a second).
   */
  bringToFront(): Promise<void>;
  /** Closes the page and its context. */
  close(): Promise<void>;
}

export interface TestBrowser {
  /**
   * Opens `url` in a fresh context whose pages run `initScripts` (files of plain browser
   * JavaScript) before their own scripts. Certificate errors are ignored: the TLS tests
   * make their own certificates.
   */
  newPage(url: string, initScripts?: readonly string[]): Promise<TestPage>;
  close(): Promise<void>;
}

export interface BrowserKind {
  name: "Chromium" | "Firefox";
  /** Why it cannot run here, or undefined when it can. */
  skipReason: string | undefined;
  launch(): Promise<TestBrowser>;
}

export const BROWSERS: readonly BrowserKind[] = [
  { name: "Chromium", skipReason: chromiumSkipReason, launch: async () => new ChromiumBrowser(await launchBrowser(["--ignore-certificate-errors"])) },
  { name: "Firefox", skipReason: firefoxSkipReason, launch: async () => new FirefoxBrowser(await Firefox.launch()) },
];

/** "permessage-deflate in Chromium", or with " (skipped: ...)" when it cannot run here. */
export function browserSuiteTitle(title: string, browser: BrowserKind): string {
  return `${title} in ${browser.name}${browser.skipReason === undefined ? "" : ` (skipped: ${browser.skipReason})`}`;
}

/** Why a suite that needs `kind` and test certificates cannot run here, or undefined. */
export function tlsBrowserSkip(kind: BrowserKind): string | undefined {
  return kind.skipReason ?? opensslSkip;
}

/**
 * For the suite it is called in: `kind` launched and test certificates made (test/client/
 * certs.ts) before its tests, both gone after them.
 */
export function useTlsBrowser(kind: BrowserKind): { readonly browser: TestBrowser; readonly certs: TestCerts } {
  const suite: { browser?: TestBrowser; certs?: TestCerts } = {};
  beforeAll(async () => {
    suite.certs = await makeCerts();
    suite.browser = await kind.launch();
  });
  afterAll(async () => {
    await suite.browser?.close();
    await removeCerts(suite.certs);
  });
  return suite as { browser: TestBrowser; certs: TestCerts };
}

class ChromiumBrowser implements TestBrowser {
  constructor(private readonly browser: Browser) {}

  async newPage(url: string, initScripts: readonly string[] = []): Promise<TestPage> {
    const context = await this.browser.newContext({ ignoreHTTPSErrors: true });
    context.setDefaultTimeout(PAGE_TIMEOUT_MS);
    for (const path of initScripts) await context.addInitScript({ path });
    const page = await context.newPage();
    await page.goto(url);
    return chromiumPage(page);
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}

/** A Playwright page as a `TestPage`: `close()` closes its context. */
export function chromiumPage(page: Page): TestPage {
  return new ChromiumPage(page);
}

class ChromiumPage implements TestPage {
  constructor(private readonly page: Page) {}

  evaluate<Arg, Result>(fn: (arg: Arg) => Result | Promise<Result>, arg: Arg): Promise<Result> {
    return this.page.evaluate(fn as (arg: unknown) => Promise<Result>, arg);
  }

  async waitForFunction<Arg>(fn: (arg: Arg) => unknown, arg: Arg, timeoutMs: number): Promise<void> {
    // Polled on a timer: animation frames may be throttled in pages that are not in front.
    await this.page.waitForFunction(fn as (arg: unknown) => unknown, arg, { timeout: timeoutMs, polling: 50 });
  }

  async goto(url: string): Promise<void> {
    await this.page.goto(url);
  }

  click(selector: string): Promise<void> {
    return this.page.click(selector);
  }

  fill(selector: string, text: string): Promise<void> {
    return this.page.fill(selector, text);
  }

  bringToFront(): Promise<void> {
    return this.page.bringToFront();
  }

  close(): Promise<void> {
    return this.page.context().close();
  }
}

class FirefoxBrowser implements TestBrowser {
  constructor(private readonly firefox: Firefox) {}

  newPage(url: string, initScripts: readonly string[] = []): Promise<TestPage> {
    return this.firefox.newPage(url, initScripts.map((path) => readFileSync(path, "utf8")));
  }

  close(): Promise<void> {
    return this.firefox.close();
  }
}
