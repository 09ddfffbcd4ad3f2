/**
 * End to end: Chromium talks to wsraw's echo through the relay, offering
 * permessage-deflate as browsers do. The page and the server are unchanged by the relay,
 * and the trace shows the agreed parameters and each compressed message inflated.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FrameEvent, RequestEvent, ResponseEvent } from "../../src/trace/events.js";
import { Demo, newContext } from "../browser/helpers.js";
import { useResources } from "../support/index.js";
import { startRelay, until } from "./helpers.js";
import { launchBrowser, skipReason, suiteTitle } from "../support/browser.js";

const resources = useResources();
let browser: Browser | undefined;

beforeAll(async () => {
  if (skipReason === undefined) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe.skipIf(skipReason !== undefined)(suiteTitle("Chromium through wsraw trace"), () => {
  it("echoes through the relay with permessage-deflate; the trace inflates both directions", async () => {
    const demo = await Demo.start(0, { perMessageDeflate: true });
    resources.defer(() => demo.stop());
    const { port, events } = await startRelay(resources, demo.port);
    const context = await newContext(browser!);
    resources.defer(() => context.close());
    const page = await context.newPage();
    await page.goto(`${demo.base}/`);
    const text = "through the relay, compressed. ".repeat(100);
    const echoed = await page.evaluate(
      ([url, message]) =>
        new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.onopen = () => ws.send(message);
          ws.onmessage = (event) => {
            ws.close(1000, "done");
            resolve(event.data as string);
          };
          ws.onerror = () => reject(new Error("WebSocket error"));
        }),
      [`ws://127.0.0.1:${port}/echo`, text] as const,
    );
    expect(echoed).toBe(text);
    await until(() => events.some((e) => e.type === "frame" && e.direction === "server" && e.opcodeName === "close"), "the server's close frame");

    const request = events.find((e): e is RequestEvent => e.type === "request")!;
    expect(request.extensions).toMatch(/permessage-deflate/);
    expect(request.headers.some((h) => h.name.toLowerCase() === "origin")).toBe(true);
    const response = events.find((e): e is ResponseEvent => e.type === "response")!;
    expect(response).toMatchObject({ status: 101, accept: { matches: true } });
    expect(response.deflate).not.toBeNull();
    const data = events.filter((e): e is FrameEvent => e.type === "frame" && e.opcodeName === "text");
    expect(data.map((f) => [f.direction, f.masked, f.rsv1])).toEqual([
      ["client", true, true],
      ["server", false, true],
    ]);
    for (const frame of data) {
      expect(frame.message).toMatchObject({ compressed: true, inflated: { size: text.length, payload: { shown: text.slice(0, 64) } } });
    }
    const closes = events.filter((e): e is FrameEvent => e.type === "frame" && e.opcodeName === "close");
    expect(closes[0]!.close).toMatchObject({ code: 1000, reason: "done" });
    expect(events.flatMap((e) => ("violations" in e ? e.violations : []))).toEqual([]);
  });
});
