/**
 * Graceful shutdown under load: `server.close()` with 1,000 open connections sends each a
 * 1001 close frame, waits for the closing handshakes (at most `closeTimeoutMs` for peers
 * that never answer), and resolves with nothing left open.
 */
import { afterEach, describe, expect, it } from "vitest";
import { RawClient, cleanupAll, expectResourcesBack, resourceCounts, startServer, upgradeRequest } from "./helpers.js";
import { forEachLimit, within } from "../support/index.js";

afterEach(cleanupAll);

function histogram(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

describe("server.close() under load", () => {
  it("closes 1,000 open connections with 1001 and resolves, leaving nothing open", async () => {
    const count = 1000;
    // Both ends share one event loop here: under load the 900 replies take over a second
    // to come back, so the close timeout is kept well above that.
    const closeTimeoutMs = 3_000;
    const t = await startServer({ closeTimeoutMs });
    const baseline = resourceCounts();

    const clients: RawClient[] = [];
    await forEachLimit(count, 50, async (i) => {
      const client = await RawClient.open(t.port);
      // Nine in ten answer the close frame; the tenth makes the server wait closeTimeoutMs.
      client.answerClose = i % 10 !== 0;
      clients.push(client);
    });
    expect(t.server.connections).toBe(count);
    // A few more are mid-handshake when the server closes: they are cut off too.
    const halfway = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const client = await RawClient.connect(t.port);
        client.write(upgradeRequest().subarray(0, 40));
        return client;
      }),
    );

    const started = performance.now();
    await within(t.server.close(), 20_000, "server.close()");
    const elapsed = performance.now() - started;

    expect(elapsed).toBeLessThan(20_000);
    // The silent tenth is waited for (closeTimeoutMs), then cut off.
    expect(elapsed).toBeGreaterThanOrEqual(closeTimeoutMs - 20);
    expect(t.server.connections).toBe(0);
    await within(
      Promise.all([...clients, ...halfway].map((c) => c.closedPromise)),
      10_000,
      "every client socket to close",
    );
    expect(halfway.map((c) => c.reply)).toEqual(Array(5).fill(undefined));
    const codes = clients.map((c) => c.closeFrame?.code);
    expect(codes.filter((code) => code === 1001)).toHaveLength(count);
    const outcomes = await Promise.all(t.accepted.map((ws) => ws.closed));
    expect(histogram(outcomes.map((o) => `${o.code} ${o.wasClean ? "clean" : "unclean"}`))).toEqual({
      "1001 clean": count - count / 10,
      "1006 unclean": count / 10,
    });
    await expectResourcesBack(baseline);

    // A closed server accepts nothing more.
    const late = RawClient.connect(t.port).then((client) => client.write(upgradeRequest()));
    await expect(late).rejects.toThrow(/ECONNREFUSED/);
  });
});
