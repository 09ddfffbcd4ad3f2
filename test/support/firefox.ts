/**
 * Debian's Firefox ESR for the real-browser tests that Chromium alone cannot vouch for:
 * Gecko has a WebSocket implementation of its own (its own permessage-deflate offer, close
 * handling and HTTP/2 extended CONNECT). Playwright drives only its own patched Firefox,
 * so Firefox is driven here over WebDriver BiDi, the W3C protocol it speaks on
 * `--remote-debugging-port`, which is itself a WebSocket: wsraw's own client talks to it.
 *
 * Without firefox-esr the Firefox tests are skipped with a message naming the package,
 * except under CI=true, where they run (and fail): CI must not skip them silently.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../../src/client/index.js";
import type { WebSocket } from "../../src/index.js";
import { killChild } from "./processes.js";
import type { TestPage } from "./browsers.js";
import { WAIT_MS, sleep, within } from "./timeouts.js";

export const FIREFOX = "/usr/bin/firefox-esr";

/** Why the Firefox tests cannot run here, or undefined when they can. */
export const firefoxSkipReason: string | undefined =
  existsSync(FIREFOX) || process.env.CI === "true"
    ? undefined
    : `${FIREFOX} not found: install Debian's firefox-esr package to run the Firefox tests`;
if (firefoxSkipReason !== undefined) console.warn(`skipping Firefox tests: ${firefoxSkipReason}`);

/** How long Firefox may take to start and to answer one command. */
const LAUNCH_MS = 30_000;
const COMMAND_MS = 20_000;

/**
 * The profile's preferences: nothing may reach beyond loopback (updates, telemetry, safe
 * browsing, captive-portal and connectivity checks), and no first-run page. The remote
 * agent sets its own recommended preferences on top.
 */
const USER_PREFS: Record<string, boolean | number | string> = {
  "app.update.disabledForTesting": true,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "browser.shell.checkDefaultBrowser": false,
  "browser.startup.homepage_override.mstone": "ignore",
  "datareporting.policy.dataSubmissionEnabled": false,
  "extensions.update.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "network.dns.disablePrefetch": true,
  "network.proxy.type": 0,
  "toolkit.telemetry.server": "",
};

interface BidiReply {
  type: "success" | "error" | "event";
  id?: number;
  result?: unknown;
  error?: string;
  message?: string;
}

/** A headless Firefox ESR with one WebDriver BiDi session, killed by its PID on `close()`. */
export class Firefox {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
    private readonly bidi: WebSocket,
  ) {
    void this.readReplies();
  }

  /** Starts Firefox on a fresh profile; certificates no one signed are accepted (test servers make their own). */
  static async launch(): Promise<Firefox> {
    if (!existsSync(FIREFOX)) throw new Error(`${FIREFOX} not found: install Debian's firefox-esr package`);
    const profile = await mkdtemp(join(tmpdir(), "wsraw-firefox-"));
    const prefs = Object.entries(USER_PREFS).map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});\n`);
    await writeFile(join(profile, "user.js"), prefs.join(""));
    const child = spawn(FIREFOX, ["--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0", "about:blank"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let output = "";
    try {
      const endpoint = await within(
        new Promise<string>((resolve, reject) => {
          child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
            output += chunk;
            const found = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(output);
            if (found) resolve(found[1]!);
          });
          child.once("error", reject);
          child.once("close", (code) => reject(new Error(`firefox-esr exited with ${code}`)));
        }),
        LAUNCH_MS,
        "Firefox to open its WebDriver BiDi port",
      );
      const bidi = await connect(`${endpoint}/session`, { maxPayload: 64 * 1024 * 1024 });
      const firefox = new Firefox(child, profile, bidi);
      await firefox.command("session.new", { capabilities: { alwaysMatch: { acceptInsecureCerts: true } } });
      return firefox;
    } catch (error) {
      killChild(child);
      await rm(profile, { recursive: true, force: true });
      throw new Error(`${(error as Error).message}; Firefox printed: ${output}`);
    }
  }

  /**
   * Opens `url` in a tab of a fresh user context (cookies and storage of its own, like a
   * Playwright context) whose pages run `initScripts` (JavaScript source) before their own
   * scripts; resolves once the page has loaded.
   */
  async newPage(url: string, initScripts: readonly string[] = []): Promise<FirefoxPage> {
    const { userContext } = (await this.command("browser.createUserContext", {})) as { userContext: string };
    for (const source of initScripts) {
      await this.command("script.addPreloadScript", { functionDeclaration: `() => {\n${source}\n}`, userContexts: [userContext] });
    }
    const { context } = (await this.command("browsingContext.create", { type: "tab", userContext })) as { context: string };
    await this.command("browsingContext.navigate", { context, url, wait: "complete" });
    return new FirefoxPage(this, userContext, context);
  }

  /** Sends one BiDi command and resolves with its result; an error reply rejects with its message. */
  command(method: string, params: object): Promise<unknown> {
    const id = this.nextId++;
    const reply = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.bidi.send(JSON.stringify({ id, method, params }));
    return within(reply, COMMAND_MS, `Firefox to answer ${method}`).finally(() => this.pending.delete(id));
  }

  /** Ends the session, then kills Firefox by its PID and removes its profile. */
  async close(): Promise<void> {
    await this.command("session.end", {}).catch(() => {});
    this.bidi.close();
    await within(this.bidi.closed, WAIT_MS, "the WebDriver BiDi connection to close").catch(() => {});
    const exited = new Promise<void>((resolve) => (this.child.exitCode === null ? this.child.once("close", () => resolve()) : resolve()));
    killChild(this.child);
    await within(exited, WAIT_MS, "Firefox to exit");
    await rm(this.profile, { recursive: true, force: true });
  }

  private async readReplies(): Promise<void> {
    for await (const message of this.bidi) {
      const reply = JSON.parse(String(message)) as BidiReply;
      const waiter = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (waiter === undefined) continue; // an event, which no test subscribes to
      if (reply.type === "success") waiter.resolve(reply.result);
      else waiter.reject(new Error(`Firefox: ${reply.error}: ${reply.message}`));
    }
    const lost = new Error("the WebDriver BiDi connection to Firefox closed");
    for (const waiter of this.pending.values()) waiter.reject(lost);
  }
}

/** A tab of a `Firefox`, alone in its user context. */
export class FirefoxPage implements TestPage {
  constructor(
    private readonly firefox: Firefox,
    private readonly userContext: string,
    private readonly context: string,
  ) {}

  /**
   * Calls `fn(arg)` in the page and resolves with what it returned (or resolved to),
   * carried as JSON both ways, like Playwright's `page.evaluate`. A throw in the page
   * rejects with its text.
   */
  evaluate<Arg, Result>(fn: (arg: Arg) => Result | Promise<Result>, arg: Arg): Promise<Result> {
    return this.call(`async (arg) => JSON.stringify(await (${fn})(arg))`, arg) as Promise<Result>;
  }

  async waitForFunction<Arg>(fn: (arg: Arg) => unknown, arg: Arg, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.call(`(arg) => JSON.stringify(Boolean((${fn})(arg)))`, arg))) {
      if (Date.now() > deadline) throw new Error(`Timeout ${timeoutMs}ms exceeded`);
      await sleep(50);
    }
  }

  async goto(url: string): Promise<void> {
    await this.firefox.command("browsingContext.navigate", { context: this.context, url, wait: "complete" });
  }

  /** Clicks as a user would: the pointer pressed and released over the element's centre. */
  async click(selector: string): Promise<void> {
    const { x, y } = await this.evaluate((sel) => {
      const element = (globalThis as any).document.querySelector(sel);
      if (element === null) throw new Error(`no element matches ${sel}`);
      element.scrollIntoView({ block: "center" });
      const box = element.getBoundingClientRect();
      return { x: Math.round(box.left + box.width / 2), y: Math.round(box.top + box.height / 2) };
    }, selector);
    await this.firefox.command("input.performActions", {
      context: this.context,
      actions: [
        {
          type: "pointer",
          id: "mouse",
          actions: [
            { type: "pointerMove", x, y },
            { type: "pointerDown", button: 0 },
            { type: "pointerUp", button: 0 },
          ],
        },
      ],
    });
  }

  /** Selects the input's text and types `text` over it, key by key. */
  async fill(selector: string, text: string): Promise<void> {
    await this.evaluate((sel) => {
      const input = (globalThis as any).document.querySelector(sel);
      if (input === null) throw new Error(`no element matches ${sel}`);
      input.focus();
      input.select();
    }, selector);
    const keys = [...text].flatMap((value) => [
      { type: "keyDown", value },
      { type: "keyUp", value },
    ]);
    // A key of its own for an empty text: the selection is deleted.
    const typed = keys.length > 0 ? keys : [{ type: "keyDown", value: "\uE003" }, { type: "keyUp", value: "\uE003" }];
    await this.firefox.command("input.performActions", { context: this.context, actions: [{ type: "key", id: "keyboard", actions: typed }] });
  }

  async bringToFront(): Promise<void> {
    await this.firefox.command("browsingContext.activate", { context: this.context });
  }

  /** Closes the tab with its user context. */
  async close(): Promise<void> {
    await this.firefox.command("browser.removeUserContext", { userContext: this.userContext });
  }

  /** Calls the function `source` with `arg` (as JSON) in the page; it returns JSON, parsed here. */
  private async call(source: string, arg: unknown): Promise<unknown> {
    const outcome = (await this.firefox.command("script.callFunction", {
      functionDeclaration: `(json) => (${source})(JSON.parse(json))`,
      arguments: [{ type: "string", value: JSON.stringify(arg) ?? "null" }],
      awaitPromise: true,
      target: { context: this.context },
    })) as { type: "success" | "exception"; result?: { value?: string }; exceptionDetails?: { text: string } };
    if (outcome.type === "exception") throw new Error(`in Firefox's page: ${outcome.exceptionDetails?.text}`);
    const json = outcome.result?.value;
    return json === undefined ? undefined : JSON.parse(json);
  }
}
