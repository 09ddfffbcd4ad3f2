/**
 * Debian's Chromium through playwright-core, for every folder's real-browser tests: why
 * they cannot run here (`skipReason`), and the launch with the same flags everywhere.
 * Not in index.ts: importing it warns once when Chromium is missing.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * Why the browser tests cannot run here, or undefined when they can. Under CI=true they
 * always run (and fail at launch if Chromium is missing): CI must not skip them silently.
 */
export const skipReason: string | undefined =
  existsSync(CHROMIUM) || process.env.CI === "true"
    ? undefined
    : `${CHROMIUM} not found: install Debian's chromium package to run the browser tests`;
if (skipReason !== undefined) console.warn(`skipping browser tests: ${skipReason}`);

/** A suite title that says why it was skipped, when it is. */
export function suiteTitle(title: string): string {
  return skipReason === undefined ? title : `${title} (skipped: ${skipReason})`;
}

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Playwright's own waits (actions, waitForFunction) give up after this long. */
export const PAGE_TIMEOUT_MS = 10_000;

/** Launches Debian's Chromium with the flags above, and `extraArgs` after them. */
export async function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium package`);
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs], timeout: 30_000 });
}
