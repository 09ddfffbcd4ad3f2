/**
 * Every limit of the server over real sockets: configured to a small value (and its
 * behaviour at the boundary), and at its default where that is cheap to observe. Defaults
 * that are timeouts are checked with a fake clock (only the timer functions are faked;
 * sockets stay real).
 *
 * Defaults, as documented on `ServerOptions`:
 *   maxHeaderSize 16 KiB · handshakeTimeoutMs 10 s · closeTimeoutMs 5 s ·
 *   maxPayload 16 MiB · maxQueuedMessages 1,024 · maxQueuedBytes 8 MiB ·
 *   sendHighWaterMark 1 MiB · maxBufferedAmount 64 MiB · maxConnections 100,000 ·
 *   idleTimeoutMs 0 (off) · heartbeat off.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { APP_PING, APP_PONG, ConnectionClosedError, type Message, ReadyState, type ServerOptions, type WebSocket, createServer, requireWebSocket } from "../../src/index.js";
import { type Handler, Op, RawClient, cleanupAll, clientFrame, closeWsClient, connectionsDrained, expectWsEcho, neverRead, openWsClient, resourceCounts, startServer, upgradeRequest } from "./helpers.js";
import { delay, nextMacrotask, settlesWithin, waitUntil, within } from "../support/index.js";

const KiB = 1024;
const MiB = 1024 * KiB;
/** Allowance for late timers on a loaded machine, on top of each bound. */
const SLACK_MS = 400;

afterEach(async () => {
  vi.useRealTimers();
  await cleanupAll();
});

/** Sends `request` on a fresh connection and returns the status of the answer. */
async function statusFor(port: number, request: Buffer): Promise<number> {
  const client = await RawClient.connect(port);
  client.write(request);
  const { status } = await client.response();
  client.destroy();
  return status;
}

describe("maxHeaderSize (default 16 KiB): a longer request head gets 431", () => {
  const cases: Array<{ options: ServerOptions; limit: number }> = [
    { options: { maxHeaderSize: 1 * KiB }, limit: 1 * KiB },
    { options: {}, limit: 16 * KiB },
  ];
  it.each(cases)("limit $limit with options $options", async ({ options, limit }) => {
    const t = await startServer(options);
    expect(await statusFor(t.port, upgradeRequest("/echo", { size: limit }))).toBe(101);
    expect(await statusFor(t.port, upgradeRequest("/echo", { size: limit + 1 }))).toBe(431);
    // The limit is decided as bytes arrive: a head that never ends is refused once past it.
    const endless = await RawClient.connect(t.port);
    endless.write(`GET /echo HTTP/1.1\r\nX-Long: ${"a".repeat(limit)}`);
    expect((await endless.response()).status).toBe(431);
    await endless.endReceived();
  });
});

describe("handshakeTimeoutMs (default 10 s): a slow request head gets 408", () => {
  it("cuts off a slowloris trickling a byte every 50 ms, while others are served", async () => {
    const handshakeTimeoutMs = 300;
    const t = await startServer({ handshakeTimeoutMs });
    const slow = await RawClient.connect(t.port);
    const connectedAt = performance.now();
    const request = upgradeRequest();
    const trickle = (async () => {
      for (let i = 0; i < request.length && !slow.ended; i++) {
        slow.write(request.subarray(i, i + 1));
        await delay(50);
      }
    })();

    // Meanwhile two well-behaved clients come and go.
    for (let i = 0; i < 2; i++) {
      const client = await openWsClient(t.port);
      await expectWsEcho(client, `served while the slowloris trickles (${i})`);
      await closeWsClient(client);
    }

    expect((await slow.response(handshakeTimeoutMs + 3_000)).status).toBe(408);
    await slow.endReceived();
    const cutAfter = performance.now() - connectedAt;
    expect(cutAfter).toBeGreaterThanOrEqual(handshakeTimeoutMs - 20);
    expect(cutAfter).toBeLessThanOrEqual(handshakeTimeoutMs + SLACK_MS);
    await within(trickle, 2_000, "the trickle to stop");
    await slow.closedWithin();
  });

  it("ignores the rest of a head that completes after the 408", async () => {
    const t = await startServer({ handshakeTimeoutMs: 200 });
    const slow = await RawClient.connect(t.port);
    const request = upgradeRequest();
    slow.write(request.subarray(0, -1));
    expect((await slow.response(3_000)).status).toBe(408);
    slow.write(request.subarray(-1));
    await slow.closedWithin();
    expect(t.accepted, "no connection is upgraded after the 408").toHaveLength(0);
    expect(t.server.connections).toBe(0);
  });
});

describe("maxPayload (default 16 MiB): a larger frame or message fails with 1009", () => {
  const limit = 1000;
  const cases: Array<{ name: string; fragments: number[]; tooBig: boolean }> = [
    { name: "a frame at the limit", fragments: [limit], tooBig: false },
    { name: "a frame one byte over", fragments: [limit + 1], tooBig: true },
    { name: "a fragmented message at the limit", fragments: [400, 400, 200], tooBig: false },
    { name: "a fragmented message one byte over", fragments: [400, 400, 201], tooBig: true },
    { name: "a message whose fragments are each small", fragments: Array(11).fill(100), tooBig: true },
  ];
  it.each(cases)("$name", async ({ fragments, tooBig }) => {
    const t = await startServer({ maxPayload: limit });
    const client = await RawClient.open(t.port);
    fragments.forEach((size, i) => {
      const opcode = i === 0 ? Op.Binary : Op.Continuation;
      client.send(opcode, Buffer.alloc(size, i), { fin: i === fragments.length - 1 });
    });
    const total = fragments.reduce((a, b) => a + b, 0);
    if (tooBig) {
      expect((await client.closeFrameReceived()).code).toBe(1009);
      expect((await within((await t.connection(0)).closed, 2_000, "closed")).code).toBe(1009);
    } else {
      const [message] = await client.messagesUntil(1);
      expect(message.payload.length).toBe(total);
      client.sendClose(1000);
      await client.closeFrameReceived();
    }
    await client.endReceived();
  });

  it("fails a frame header announcing more than the default 16 MiB at once, and accepts 16 MiB", async () => {
    const t = await startServer();
    const over = await RawClient.open(t.port);
    over.send(Op.Binary, Buffer.alloc(0), { announce: BigInt(16 * MiB + 1) });
    expect((await over.closeFrameReceived()).code).toBe(1009);

    const exact = await RawClient.open(t.port);
    exact.send(Op.Binary, Buffer.alloc(16 * MiB, 7));
    const [message] = await exact.messagesUntil(1, 15_000);
    expect(message.payload.length).toBe(16 * MiB);
    expect(message.payload.every((byte) => byte === 7)).toBe(true);
  });
});

/** A handler that reads nothing until `release()`, then reads everything. */
function heldReader(): { handler: Handler; release(): void; received: Message[] } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const received: Message[] = [];
  const handler: Handler = async ({ websocket }) => {
    await released;
    for await (const message of websocket) received.push(message);
  };
  return { handler, release, received };
}

describe("unread-message queue: the server stops reading, nothing is dropped", () => {
  // One 64 KiB socket read may hold more messages than the limit; they are queued too.
  const cases: Array<{ name: string; options: ServerOptions; size: number; count: number; bound: (ws: WebSocket) => void }> = [
    {
      name: "maxQueuedMessages 16",
      options: { maxQueuedMessages: 16 },
      size: 1000,
      count: 400,
      bound: (ws) => expect(ws.countMessages()).toBeLessThanOrEqual(16 + Math.ceil((64 * KiB) / 1006)),
    },
    {
      name: "maxQueuedBytes 16 KiB",
      options: { maxQueuedBytes: 16 * KiB },
      size: 1000,
      count: 400,
      bound: (ws) => expect(ws.countMessages() * 1000).toBeLessThanOrEqual(16 * KiB + 64 * KiB),
    },
    {
      name: "default maxQueuedMessages 1,024",
      options: {},
      size: 1000,
      count: 3000,
      bound: (ws) => {
        expect(ws.countMessages()).toBeGreaterThanOrEqual(1024);
        expect(ws.countMessages()).toBeLessThanOrEqual(1024 + Math.ceil((64 * KiB) / 1006));
      },
    },
    {
      name: "default maxQueuedBytes 8 MiB",
      options: {},
      size: 64 * KiB,
      count: 200,
      bound: (ws) => {
        expect(ws.countMessages() * 64 * KiB).toBeGreaterThanOrEqual(8 * MiB);
        expect(ws.countMessages() * 64 * KiB).toBeLessThanOrEqual(8 * MiB + 128 * KiB);
      },
    },
  ];

  it.each(cases)("$name", async ({ options, size, count, bound }) => {
    const reader = heldReader();
    const t = await startServer(options, reader.handler);
    const client = await RawClient.open(t.port);
    const ws = await t.connection(0);
    const payloads = Array.from({ length: count }, (_, i) => {
      const payload = Buffer.alloc(size, i & 0xff);
      payload.writeUInt32BE(i, 0);
      return payload;
    });
    for (const payload of payloads) client.send(Op.Binary, payload);

    await waitUntil(() => ws.isPaused, 5_000, "the server to stop reading");
    const queued = ws.countMessages();
    bound(ws);
    // Paused means paused: nothing more is taken from the socket while nobody reads.
    await delay(200);
    expect(ws.countMessages()).toBe(queued);
    expect(ws.isPaused).toBe(true);

    reader.release();
    await waitUntil(() => reader.received.length === count, 10_000, `all ${count} messages to be read`);
    expect(reader.received.map((m) => (m as Buffer).readUInt32BE(0))).toEqual(payloads.map((_, i) => i));
    expect(ws.isPaused).toBe(false);
    expect(ws.readyState).toBe(ReadyState.OPEN);
  });

  it("multi-byte text: once everything is read, reading resumes (the byte count does not drift)", async () => {
    const reader = heldReader();
    const t = await startServer({ maxQueuedBytes: 4 * KiB }, reader.handler);
    const client = await RawClient.open(t.port);
    const ws = await t.connection(0);
    // 3 bytes of UTF-8 per character: 300 bytes per message, 100 UTF-16 code units;
    // 6,000 code units in all, past the 4 KiB mark however text is counted.
    const messages = Array.from({ length: 60 }, (_, i) => `${"你".repeat(99)}${String.fromCharCode(0x4e00 + i)}`);
    for (const text of messages) client.sendText(text);
    await waitUntil(() => ws.isPaused, 5_000, "the server to stop reading");
    reader.release();
    await waitUntil(() => reader.received.length === messages.length, 5_000, "every message to be read");
    expect(reader.received).toEqual(messages);
    expect(ws.isPaused).toBe(false);
  });
});

describe("close() on a connection paused by backpressure", () => {
  it("reads on to the peer's close frame: the handshake completes at once, and what was queued stays readable", async () => {
    const closeTimeoutMs = 3_000;
    const t = await startServer({ maxQueuedMessages: 4, closeTimeoutMs }, async ({ websocket }) => {
      await websocket.closed; // reads nothing
    });
    const client = await RawClient.open(t.port);
    client.answerClose = true;
    const ws = await t.connection(0);
    // Far more than the limit: reading pauses, and 2 MB wait in the sockets, ahead of the
    // client's answer to the close frame.
    for (let i = 0; i < 2000; i++) client.sendText("x".repeat(1000));
    await waitUntil(() => ws.isPaused, 5_000, "reading to pause");
    const queued = ws.countMessages();
    const started = Date.now();
    ws.close(1000, "enough");
    expect((await client.closeFrameReceived()).code).toBe(1000);
    const closed = await within(ws.closed, closeTimeoutMs - 1_000, "the closing handshake to complete");
    expect(closed).toMatchObject({ code: 1000, wasClean: true });
    expect(Date.now() - started).toBeLessThan(closeTimeoutMs - 1_000);
    // What was queued before close() is still there to read; what came after was not delivered.
    expect(ws.countMessages()).toBe(queued);
    expect(ws.read()).toBe("x".repeat(1000));
    await client.endReceived();
  });
});

describe("unsent-data queue: a peer that stops reading", () => {
  const chunk = Buffer.alloc(16 * KiB, 1);

  it("a producer that waits for drained() is paused, then resumes when the peer reads again", async () => {
    const sendHighWaterMark = 64 * KiB;
    const total = 64 * MiB;
    const state = { sent: 0, waiting: false, maxBuffered: 0, done: false };
    const t = await startServer({ sendHighWaterMark, maxBufferedAmount: 1 * MiB }, async ({ websocket }) => {
      while (state.sent < total) {
        const below = websocket.send(chunk);
        state.sent += chunk.length;
        state.maxBuffered = Math.max(state.maxBuffered, websocket.bufferedAmount);
        if (!below) {
          state.waiting = true;
          await websocket.drained();
          state.waiting = false;
        }
      }
      state.done = true;
      await websocket.closed;
    });
    const client = await RawClient.open(t.port);
    client.socket.pause();
    const ws = await t.connection(0);

    // Once the kernel's buffers are full, the producer is parked on drained().
    await waitUntil(() => state.waiting && ws.bufferedAmount >= sendHighWaterMark, 15_000, "the producer to wait");
    const parkedAt = state.sent;
    expect(await settlesWithin(ws.drained(), 300), "drained() while the peer does not read").toBe(false);
    expect(state.sent).toBe(parkedAt);
    expect(ws.readyState).toBe(ReadyState.OPEN);

    client.socket.resume();
    await waitUntil(() => state.done, 20_000, "the producer to finish");
    const frames = await client.messagesUntil(total / chunk.length, 20_000);
    expect(frames.reduce((n, f) => n + f.payload.length, 0)).toBe(total);
    // send() reported false as soon as the mark was passed: the buffer never grew further.
    expect(state.maxBuffered).toBeLessThanOrEqual(sendHighWaterMark + chunk.length + 14);
    expect(ws.readyState).toBe(ReadyState.OPEN);
  });

  it("a producer that ignores send() = false is failed with 1008 past maxBufferedAmount", async () => {
    const maxBufferedAmount = 1 * MiB;
    let thrown: unknown;
    let sends = 0;
    const t = await startServer({ sendHighWaterMark: 64 * KiB, maxBufferedAmount }, async ({ websocket }) => {
      try {
        for (; sends < 10_000; sends++) {
          websocket.send(chunk);
          await nextMacrotask(); // let the writes reach the socket, as a real producer would
        }
      } catch (error) {
        thrown = error;
      }
    });
    const client = await RawClient.open(t.port);
    client.socket.pause();
    const ws = await t.connection(0);

    const closed = await within(ws.closed, 20_000, "the connection to be failed");
    expect(closed).toMatchObject({ code: 1008, wasClean: false });
    expect(thrown).toBeInstanceOf(ConnectionClosedError);
    expect((thrown as ConnectionClosedError).code).toBe(1008);
    expect(sends).toBeLessThan(10_000);
    client.socket.resume();
    await client.endReceived();
  });

  // Ping frames (RFC 6455 §5.5.2), and the browser client's text heartbeat on a route that
  // answers it. While the peer does not read, only its latest ping is answered, once it
  // reads again (RFC 6455 §5.5.3): what this end holds for it stays at sendHighWaterMark,
  // far below maxBufferedAmount, and the connection stays open.
  it.each([
    { kind: "ping frames", answerAppPings: false },
    { kind: "app pings", answerAppPings: true },
  ])("a peer that sends $kind without reading gets the latest answer once it reads, and no more memory", async ({ answerAppPings }) => {
    const sendHighWaterMark = 64 * KiB;
    const server = createServer({ sendHighWaterMark, maxBufferedAmount: 256 * KiB, onError: () => {} });
    const accepted: WebSocket[] = [];
    // The unsent data when the marker message came: its echo is queued behind what waits.
    let bufferedAtMarker = -1;
    server.route(
      "/echo",
      requireWebSocket(
        async (req) => {
          accepted.push(req.websocket);
          for await (const message of req.websocket) {
            if (message === "marker") bufferedAtMarker = req.websocket.bufferedAmount;
            req.websocket.send(message);
          }
        },
        { answerAppPings },
      ),
    );
    const { port } = await server.listen(0, "127.0.0.1");
    try {
      const client = await RawClient.open(port);
      client.socket.pause();
      await waitUntil(() => accepted.length === 1, 5_000, "the connection");
      const ws = accepted[0];
      // Each ping's data is its number, so the answers say which pings they answer.
      const ping = (n: number) =>
        answerAppPings ? clientFrame(Op.Text, APP_PING) : clientFrame(Op.Ping, String(n).padStart(125, "0"));
      const appPings = Buffer.concat(Array.from({ length: 4096 }, () => ping(0)));
      let pings = 0;
      let written = 0;
      let maxBuffered = 0;
      // Until the kernel buffers are full and this end's data has reached the mark, then
      // 4 MiB more (at most 96 MiB: several times what loopback buffers hold).
      let writtenPastMark = 0;
      while (written < 96 * MiB && writtenPastMark < 4 * MiB) {
        const burst = answerAppPings ? appPings : Buffer.concat(Array.from({ length: 512 }, () => ping(pings++)));
        if (answerAppPings) pings += 4096;
        client.socket.write(burst);
        written += burst.length;
        if (maxBuffered >= sendHighWaterMark) writtenPastMark += burst.length;
        await nextMacrotask();
        maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
      }
      client.sendText("marker");
      await waitUntil(() => bufferedAtMarker !== -1, 5_000, "the marker");
      expect(bufferedAtMarker, "the peer did not read: the kernel buffers were full").toBeGreaterThanOrEqual(sendHighWaterMark);
      expect(maxBuffered).toBeLessThanOrEqual(sendHighWaterMark + 127);
      expect(ws.readyState).toBe(ReadyState.OPEN);

      // Once the peer reads, the owed answer comes after all that waited (the marker's
      // echo among it), and answers the latest ping.
      client.socket.resume();
      const isAnswer = (frame: { opcode: number; payload: Buffer }) =>
        answerAppPings ? frame.opcode === Op.Text && frame.payload.toString() === APP_PONG : frame.opcode === Op.Pong;
      const answerAfterMarker = () => {
        const marker = client.frames.findIndex((frame) => frame.opcode === Op.Text && frame.payload.toString() === "marker");
        return marker === -1 ? undefined : client.frames.slice(marker + 1).find(isAnswer);
      };
      const owed = await client.until(answerAfterMarker, 10_000, "the owed answer, after the marker's echo");
      if (!answerAppPings) expect(owed.payload.toString()).toBe(String(pings - 1).padStart(125, "0"));
      const answers = client.frames.filter(isAnswer);
      expect(answers.length).toBeLessThan(pings);
      if (!answerAppPings) {
        const numbers = answers.map((frame) => Number(frame.payload.toString()));
        expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
        expect(new Set(numbers).size).toBe(numbers.length);
      }
      // The conversation goes on.
      client.sendText("still here");
      await client.until(() => client.messages().find((frame) => frame.payload.toString() === "still here"), 5_000, "the echo");
      expect(ws.readyState).toBe(ReadyState.OPEN);
      client.destroy();
    } finally {
      await within(server.close(), 15_000, "server.close()");
    }
  });

  it("defaults: send() returns false from 1 MiB buffered and throws 1008 past 64 MiB", async () => {
    const results: boolean[] = [];
    let thrown: unknown;
    let closedInfo: unknown;
    const t = await startServer({}, async ({ websocket }) => {
      // Synchronous sends: nothing is flushed in between, so bufferedAmount is exact.
      const small = Buffer.alloc(64 * KiB); // 64 KiB + a 10-byte header per frame
      for (let i = 0; i < 16; i++) results.push(websocket.send(small));
      const large = Buffer.alloc(1 * MiB); // queued by reference: no copy, no memory
      try {
        for (let i = 0; i < 100; i++) websocket.send(large);
      } catch (error) {
        thrown = error;
      }
      closedInfo = await websocket.closed;
    });
    const client = await RawClient.open(t.port);
    await waitUntil(() => closedInfo !== undefined, 5_000, "the connection to be failed");
    // 15 × 65,546 bytes < 1 MiB ≤ 16 × 65,546 bytes.
    expect(results).toEqual([...Array(15).fill(true), false]);
    expect(thrown).toBeInstanceOf(ConnectionClosedError);
    expect((thrown as ConnectionClosedError).code).toBe(1008);
    expect((thrown as ConnectionClosedError).reason).toContain(String(64 * MiB));
    expect(closedInfo).toMatchObject({ code: 1008, wasClean: false });
    await client.endReceived();
  });
});

describe("closeTimeoutMs (default 5 s): the wait for the peer's close frame", () => {
  const closeTimeoutMs = 300;
  const closeAtOnce: Handler = async ({ websocket }) => {
    websocket.close(1000, "bye");
    await websocket.closed;
  };
  const cases = [
    { peer: "answers the close", answer: true, expected: { code: 1000, reason: "", wasClean: true } },
    {
      peer: "never answers",
      answer: false,
      expected: { code: 1006, reason: "closing handshake timed out", wasClean: false },
    },
  ];
  it.each(cases)("a peer that $peer", async ({ answer, expected }) => {
    const t = await startServer({ closeTimeoutMs }, closeAtOnce);
    const client = await RawClient.connect(t.port);
    client.answerClose = answer;
    await client.handshake();
    const close = await client.closeFrameReceived();
    const closeAt = performance.now();
    expect(close).toEqual({ code: 1000, reason: "bye" });
    await client.endReceived(closeTimeoutMs + 3_000);
    const endedAfter = performance.now() - closeAt;
    if (answer) expect(endedAfter).toBeLessThan(closeTimeoutMs);
    else {
      expect(endedAfter).toBeGreaterThanOrEqual(closeTimeoutMs - 20);
      expect(endedAfter).toBeLessThanOrEqual(closeTimeoutMs + SLACK_MS);
    }
    expect(await within((await t.connection(0)).closed, 2_000, "closed")).toEqual(expected);
  });
});

describe("maxConnections (default 100,000): more get 503 before the upgrade", () => {
  it("refuses the third of two, and accepts a new one after one closes", async () => {
    const t = await startServer({ maxConnections: 2 });
    const first = await openWsClient(t.port);
    const second = await openWsClient(t.port);
    const third = await RawClient.connect(t.port);
    third.write(upgradeRequest());
    const reply = await third.response();
    expect(reply.status).toBe(503);
    expect(reply.headers["retry-after"]).toBeDefined();
    await third.endReceived();
    expect(t.server.connections).toBe(2);

    await closeWsClient(first);
    await waitUntil(() => t.server.connections === 1, 5_000, "one connection to go");
    const fourth = await openWsClient(t.port);
    await expectWsEcho(fourth, "admitted");
    await expectWsEcho(second, "still served");
    expect(t.server.connections).toBe(2);
  });
});

describe("defaults that are timeouts, on a fake clock", () => {
  // Only the timer functions are faked: sockets, nextTick and performance.now stay real.
  const fakeTimers = (): void => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
  };
  /** Lets real I/O happen for a moment; used only to check that nothing happened. */
  const quiet = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

  it("handshakeTimeoutMs: 408 at 10 s, not before", async () => {
    fakeTimers();
    const t = await startServer();
    const sockets = resourceCounts().TCPSocketWrap;
    const slow = await RawClient.connect(t.port);
    slow.write("GET /echo HTTP/1.1\r\n");
    await waitUntil(() => resourceCounts().TCPSocketWrap === sockets + 2, 5_000, "the server to accept");
    await vi.advanceTimersByTimeAsync(9_990);
    await quiet();
    expect(slow.reply).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10);
    expect((await slow.response()).status).toBe(408);
  });

  it("closeTimeoutMs: the peer's close frame is awaited 5 s", async () => {
    fakeTimers();
    const t = await startServer({}, async ({ websocket }) => {
      websocket.close(1000);
      await websocket.closed;
    });
    const client = await RawClient.open(t.port);
    await client.closeFrameReceived();
    await vi.advanceTimersByTimeAsync(4_990);
    await quiet();
    expect(client.ended).toBe(false);
    await vi.advanceTimersByTimeAsync(10);
    await client.endReceived();
    expect((await (await t.connection(0)).closed).reason).toBe("closing handshake timed out");
  });

  it("idle timeout and heartbeat are off: an hour of silence changes nothing", async () => {
    fakeTimers();
    const t = await startServer({}, neverRead);
    const client = await RawClient.open(t.port);
    await vi.advanceTimersByTimeAsync(3_600_000);
    await quiet();
    expect(client.frames).toEqual([]);
    expect(client.ended).toBe(false);
    expect(t.server.connections).toBe(1);
    vi.useRealTimers();
    client.sendClose(1000);
    await client.closeFrameReceived();
    await connectionsDrained(t);
  });
});
