/**
 * Hostile peers, one at a time, each beside a healthy `ws` client that keeps echoing the
 * whole time. Every hostile peer must get the answer RFC 6455 / HTTP calls for, be cleaned
 * up completely (its sockets closed, `server.connections` back, no timer or socket left
 * in `process.getActiveResourcesInfo()`), and never disturb the healthy client.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ReadyState, type ServerOptions } from "../../src/index.js";
import { Op, RawClient, type TestServer, cleanupAll, closeWsClient, connectionsDrained, expectResourcesBack, keepEchoing, openWsClient, resourceCounts, seededBytes, startServer, upgradeRequest } from "./helpers.js";
import { delay, within } from "../support/index.js";

afterEach(cleanupAll);

const MiB = 1024 * 1024;

interface HostilePeer {
  name: string;
  options?: ServerOptions;
  /** Misbehaves against the server and checks the answer it gets. */
  act(t: TestServer): Promise<void>;
}

/** The server side of the hostile connection (accepted after the healthy one) ends like this. */
async function expectServerSide(t: TestServer, expected: { code: number; wasClean: boolean }): Promise<void> {
  const ws = await t.connection(1);
  expect(await within(ws.closed, 5_000, "the hostile connection to close")).toMatchObject(expected);
}

const hostilePeers: HostilePeer[] = [
  {
    name: "half a frame, then a TCP reset",
    async act(t) {
      const client = await RawClient.open(t.port);
      const frame = Buffer.from(Array.from({ length: 200 }, (_, i) => i));
      const bytes = Buffer.concat([Buffer.from([0x82, 0xfe, 0x00, 200]), Buffer.alloc(4), frame]);
      client.write(bytes.subarray(0, 100));
      await delay(20);
      client.socket.resetAndDestroy();
      await expectServerSide(t, { code: 1006, wasClean: false });
    },
  },
  {
    name: "random bytes instead of a handshake",
    async act(t) {
      const client = await RawClient.connect(t.port);
      client.write(Buffer.concat([seededBytes(0x5eed, 512), Buffer.from("\r\n\r\n")]));
      expect((await client.response()).status).toBe(400);
      await client.endReceived();
      await client.closedWithin();
    },
  },
  {
    name: "random bytes after a good handshake",
    async act(t) {
      const client = await RawClient.open(t.port);
      client.write(seededBytes(0xbad, 4096));
      const close = await client.closeFrameReceived();
      expect([1002, 1007, 1009]).toContain(close.code);
      await client.endReceived();
      await expectServerSide(t, { code: close.code!, wasClean: false });
    },
  },
  {
    name: "a frame header announcing 2^62 bytes",
    async act(t) {
      const before = process.memoryUsage();
      const client = await RawClient.open(t.port);
      client.send(Op.Binary, Buffer.alloc(0), { announce: 2n ** 62n });
      expect((await client.closeFrameReceived()).code).toBe(1009);
      await client.endReceived();
      const after = process.memoryUsage();
      expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16 * MiB);
      expect(after.rss - before.rss).toBeLessThan(64 * MiB);
      await expectServerSide(t, { code: 1009, wasClean: false });
    },
  },
  {
    name: "a handshake trickled a byte every 150 ms",
    options: { handshakeTimeoutMs: 600 },
    async act(t) {
      const client = await RawClient.connect(t.port);
      const request = upgradeRequest();
      for (let i = 0; i < request.length && client.reply === undefined; i++) {
        client.write(request.subarray(i, i + 1));
        await delay(150);
      }
      expect((await client.response(3_000)).status).toBe(408);
      await client.closedWithin();
      expect(t.accepted).toHaveLength(1);
    },
  },
  {
    name: "a client that vanishes mid-message",
    async act(t) {
      const client = await RawClient.open(t.port);
      client.send(Op.Text, "first fragment ", { fin: false });
      const frame = Buffer.concat([Buffer.from([0x80, 0xfe, 0x03, 0xe8]), Buffer.alloc(4), Buffer.alloc(300, 0x61)]);
      client.write(frame);
      await delay(20);
      client.destroy();
      await expectServerSide(t, { code: 1006, wasClean: false });
    },
  },
  {
    name: "a client that half-closes right after the handshake",
    async act(t) {
      const client = await RawClient.open(t.port);
      client.socket.end();
      await client.closedWithin();
      await expectServerSide(t, { code: 1006, wasClean: false });
    },
  },
  {
    name: "a client refused with 503 (over maxConnections)",
    options: { maxConnections: 1 },
    async act(t) {
      const client = await RawClient.connect(t.port);
      client.write(upgradeRequest());
      expect((await client.response()).status).toBe(503);
      await client.endReceived();
      await client.closedWithin();
    },
  },
];

describe("a hostile peer is cleaned up and never disturbs a healthy client", () => {
  it.each(hostilePeers)("$name", async ({ options, act }) => {
    const t = await startServer(options);
    const baseline = resourceCounts();
    const healthy = await openWsClient(t.port);
    const healthySide = await t.connection(0);
    const chatter = keepEchoing(healthy);

    await act(t);

    expect(await chatter.stop()).toBeGreaterThan(0);
    expect(healthySide.readyState).toBe(ReadyState.OPEN);
    expect(t.server.connections).toBe(1);
    await closeWsClient(healthy);
    await connectionsDrained(t);
    await expectResourcesBack(baseline);
  });
});
