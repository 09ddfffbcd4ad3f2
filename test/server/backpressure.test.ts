/**
 * Bounded memory in both directions, over real TCP:
 * - incoming: a handler that does not read makes the server stop reading the socket once
 *   `maxQueuedMessages` are unread, so TCP pushes back on the client and nothing is
 *   dropped;
 * - outgoing: `send()` returns false past `sendHighWaterMark` and `drained()` waits for a
 *   slow reader; a producer that ignores both is failed with 1008 at `maxBufferedAmount`.
 */
import { describe, expect, it, vi } from "vitest";
import { ConnectionClosedError, type UpgradedRequest, type WebSocket } from "../../src/index.js";
import { KiB, MiB, Tap, deferred, isSettled, turn, useResources, within } from "../support/index.js";

const resources = useResources();

describe("incoming: a handler that does not read", () => {
  const MAX_QUEUED = 16;
  const MESSAGE_SIZE = 64 * KiB;
  const MESSAGE_COUNT = 1024; // 64 MiB in all
  /** The client stops writing while this much waits in its own buffer: TCP has pushed back. */
  const CLIENT_BACKLOG = 8 * MiB;
  /** Messages parsed from one socket read after the queue reached its limit. */
  const SLACK = 2;

  function message(sequence: number): Buffer {
    const bytes = Buffer.alloc(MESSAGE_SIZE, sequence & 0xff);
    bytes.writeUInt32BE(sequence, 0);
    return bytes;
  }

  it("the server stops reading at maxQueuedMessages, the client is pushed back, and nothing is lost", async () => {
    const startReading = deferred();
    const result = deferred<{ count: number; outOfOrder: number[]; wrongSize: number }>();
    const tap = new Tap(async ({ websocket }: UpgradedRequest) => {
      await startReading.promise;
      let count = 0;
      let wrongSize = 0;
      const outOfOrder: number[] = [];
      for await (const received of websocket) {
        const bytes = received as Buffer;
        if (bytes.length !== MESSAGE_SIZE) wrongSize++;
        if (bytes.readUInt32BE(0) !== count) outOfOrder.push(count);
        count++;
      }
      result.resolve({ count, outOfOrder, wrongSize });
    });
    const { url } = await resources.server({ "/t": tap.route() }, { maxQueuedMessages: MAX_QUEUED });
    const peer = await resources.ws(url("/t"));
    const ws = await tap.next();

    let sent = 0;
    let maxQueued = 0;
    /** Sends in batches as fast as the client's buffer allows, until `stop()`; bounded in time. */
    async function produce(stop: () => boolean, what: string): Promise<void> {
      const deadline = performance.now() + 20_000;
      while (!stop()) {
        if (performance.now() > deadline) throw new Error(`producer timed out: ${what}`);
        if (peer.ws.bufferedAmount < CLIENT_BACKLOG) {
          for (let i = 0; i < 16 && sent < MESSAGE_COUNT; i++) peer.ws.send(message(sent++));
        }
        maxQueued = Math.max(maxQueued, ws.countMessages());
        await turn();
      }
    }

    // Phase 1: nobody reads. Write until the client's own buffer holds CLIENT_BACKLOG.
    await produce(() => peer.ws.bufferedAmount >= CLIENT_BACKLOG || sent === MESSAGE_COUNT, "TCP pushback");
    expect(sent, "the server absorbed all 64 MiB: no pushback").toBeLessThan(MESSAGE_COUNT);
    expect(peer.ws.bufferedAmount).toBeGreaterThanOrEqual(CLIENT_BACKLOG);
    expect(ws.isPaused).toBe(true);
    expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUED + SLACK);
    expect(ws.countMessages()).toBeGreaterThanOrEqual(MAX_QUEUED);
    // Still stalled a few turns later: nothing more is taken in while nobody reads.
    for (let i = 0; i < 20; i++) await turn();
    expect(ws.countMessages()).toBeLessThanOrEqual(MAX_QUEUED + SLACK);
    expect(peer.ws.bufferedAmount).toBeGreaterThanOrEqual(CLIENT_BACKLOG - 16 * MESSAGE_SIZE);

    // Phase 2: the handler reads; the client sends the rest, then closes.
    startReading.resolve();
    await produce(() => sent === MESSAGE_COUNT, "the rest of the messages");
    peer.ws.close(1000);
    const { count, outOfOrder, wrongSize } = await within(result.promise, 30_000, "the handler to read every message");
    expect(count).toBe(MESSAGE_COUNT);
    expect(outOfOrder).toEqual([]);
    expect(wrongSize).toBe(0);
    expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUED + SLACK);
    expect(await within(ws.closed, 10_000, "closed")).toMatchObject({ code: 1000, wasClean: true });
  }, 60_000);

  it("maxQueuedBytes pauses reading too, before maxQueuedMessages is reached", async () => {
    const tap = new Tap();
    const { port } = await resources.server({ "/t": tap.route() }, { maxQueuedBytes: 256 * KiB, maxQueuedMessages: 1000 });
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    for (let i = 0; i < 8; i++) client.sendBinary(Buffer.alloc(64 * KiB, i));
    await vi.waitFor(() => expect(ws.isPaused).toBe(true), { timeout: 10_000 });
    expect(ws.countMessages()).toBeGreaterThanOrEqual(4);
    expect(ws.countMessages()).toBeLessThan(8);
    // Reading half of the queue resumes the socket; the rest then arrives.
    const received: number[] = [];
    const deadline = performance.now() + 10_000;
    while (received.length < 8 && performance.now() < deadline) {
      const message = await within(ws.wait(), 10_000, "the next message");
      received.push((message as Buffer)[0]);
    }
    expect(received).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(ws.isPaused).toBe(false);
  });
});

describe("outgoing: a client that does not read", () => {
  const HIGH_WATER = 256 * KiB;
  const CHUNK = Buffer.alloc(64 * KiB, 0x5a);
  const MAX_CHUNKS = 768; // 48 MiB: far more than the kernel buffers of a loopback connection

  /**
   * Sends until send() says stop and, once the queued frames went to the socket, the
   * kernel refused enough of them that the backlog stays over the mark. Returns the
   * number of messages sent.
   */
  async function fillUntilStalled(ws: WebSocket): Promise<number> {
    let sent = 0;
    for (let round = 0; round < MAX_CHUNKS; round++) {
      while (sent < MAX_CHUNKS && ws.send(CHUNK)) sent++;
      sent++; // the send that returned false was queued as well
      await turn(); // the frames go to the socket, which hands the kernel what it takes
      if (ws.bufferedAmount >= HIGH_WATER || sent >= MAX_CHUNKS) break;
    }
    expect(sent, "48 MiB went out although the client reads nothing").toBeLessThan(MAX_CHUNKS);
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(HIGH_WATER);
    return sent;
  }

  it("send() returns false past the high-water mark; drained() waits until the client reads", async () => {
    const tap = new Tap();
    const { port } = await resources.server({ "/t": tap.route() }, { sendHighWaterMark: HIGH_WATER });
    const client = await resources.rawWebSocket(port, { path: "/t" });
    client.socket.pause(); // never reads: the kernel buffers fill up
    const ws = await tap.next();

    let sent = await fillUntilStalled(ws);
    expect(ws.send(CHUNK)).toBe(false);
    sent++;
    const drained = ws.drained();
    expect(await isSettled(drained)).toBe(false);

    client.socket.resume();
    await within(drained, 10_000, "drained() after the client started reading");
    expect(ws.bufferedAmount).toBeLessThan(HIGH_WATER);
    await vi.waitFor(() => expect(client.frames.length).toBe(sent), { timeout: 20_000, interval: 20 });
    expect(client.frames.drain().every((frame) => frame.type === "binary" && frame.data.length === CHUNK.length)).toBe(
      true,
    );
    expect(ws.readyState).toBe(1);
  }, 60_000);

  it("drained() resolves at once when below the mark, and when the connection closes", async () => {
    const tap = new Tap();
    const { port } = await resources.server({ "/t": tap.route() }, { sendHighWaterMark: HIGH_WATER, closeTimeoutMs: 500 });
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    await within(ws.drained(), 10_000, "drained() on an idle connection");
    client.socket.pause();
    await fillUntilStalled(ws);
    const drained = ws.drained();
    expect(await isSettled(drained)).toBe(false);
    client.destroy();
    await within(drained, 10_000, "drained() after the connection closed");
  });

  it("a producer ignoring send()'s result past maxBufferedAmount gets ConnectionClosedError; closed is 1008", async () => {
    const tap = new Tap();
    const { port } = await resources.server(
      { "/t": tap.route() },
      { sendHighWaterMark: 64 * KiB, maxBufferedAmount: 512 * KiB },
    );
    const client = await resources.rawWebSocket(port, { path: "/t" });
    client.socket.pause();
    const ws = await tap.next();

    let error: unknown;
    let sends = 0;
    try {
      // 4096 × 64 KiB = 256 MiB would be sent if nothing stopped it.
      for (; sends < 4096; sends++) {
        ws.send(CHUNK);
        if (sends % 16 === 15) await turn();
      }
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error).toMatchObject({ code: 1008 });
    expect(sends).toBeLessThan(4096);
    expect(await within(ws.closed, 10_000, "closed")).toMatchObject({ code: 1008, wasClean: false });
    expect(ws.readyState).toBe(3);
    expect(() => ws.send("more")).toThrow(ConnectionClosedError);
    client.socket.resume();
    await client.waitClosed();
  });
});
