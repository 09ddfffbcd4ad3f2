/**
 * `server.stats()`: the counters of a server in production, checked against what the test
 * made happen over real sockets; and the demo's `/stats` route that serves them.
 */
import { connect as netConnect } from "node:net";
import { describe, expect, it } from "vitest";
import { createDemoServer } from "../../src/apps/demo.js";
import { HandshakeError, type WebSocket, createServer, requireWebSocket } from "../../src/index.js";
import { usePairs } from "../support/index.js";

const { serve, open } = usePairs();

describe("server.stats()", () => {
  it("counts handshakes, messages and bytes both ways, and close codes", async () => {
    const server = serve(createServer());
    server.route(
      "/echo",
      requireWebSocket(async ({ websocket }) => {
        for await (const message of websocket) websocket.send(message);
      }),
    );
    const { port } = await server.listen(0);
    expect(server.stats()).toEqual({
      connections: 0,
      handshakes: { accepted: 0, refused: {} },
      messages: { in: 0, out: 0 },
      bytes: { in: 0, out: 0 },
      closeCodes: {},
      backpressurePauses: 0,
      slowMembersSkipped: 0,
    });

    const a = await open(`ws://127.0.0.1:${port}/echo`);
    const b = await open(`ws://127.0.0.1:${port}/echo`);
    a.send("héllo"); // 6 bytes of UTF-8
    await a.wait();
    b.send(Buffer.alloc(1000));
    await b.wait();
    await expect(open(`ws://127.0.0.1:${port}/nowhere`)).rejects.toBeInstanceOf(HandshakeError);
    await expect(open(`ws://127.0.0.1:${port}/nowhere`)).rejects.toMatchObject({ status: 404 });
    expect(server.stats()).toMatchObject({
      connections: 2,
      handshakes: { accepted: 2, refused: { 404: 2 } },
      messages: { in: 2, out: 2 },
      bytes: { in: 1006, out: 1006 },
    });

    a.close(1000);
    await a.closed;
    b.close(4001, "custom");
    await b.closed;
    await expect.poll(() => server.stats().connections).toBe(0);
    expect(server.stats().closeCodes).toEqual({ 1000: 1, 4001: 1 });
  });

  it("counts a refused handshake by its status, a failed connection by its close code", async () => {
    const server = serve(createServer());
    server.route("/t", requireWebSocket(async ({ websocket }) => void (await websocket.closed)));
    const { port } = await server.listen(0);
    // Sec-WebSocket-Version 8: 426.
    const refused = netConnect(port, "127.0.0.1");
    refused.end(
      "GET /t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    );
    refused.resume();
    await new Promise((resolve) => refused.on("close", resolve));
    // An unmasked frame from a client: 1002.
    const raw = netConnect(port, "127.0.0.1");
    raw.write(
      "GET /t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    raw.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    raw.resume();
    await new Promise((resolve) => raw.on("close", resolve));
    await expect.poll(() => server.stats().closeCodes).toEqual({ 1002: 1 });
    expect(server.stats().handshakes).toEqual({ accepted: 1, refused: { 426: 1 } });
  });

  it("counts backpressure pauses and slow members left out of a broadcast", async () => {
    const server = serve(createServer({ maxQueuedMessages: 4 }));
    const group = () => server.group("room", { maxBufferedAmount: 64 * 1024 });
    let reader!: WebSocket;
    server.route(
      "/unread",
      requireWebSocket(async ({ websocket }) => {
        reader = websocket;
        await websocket.closed;
      }),
    );
    server.route(
      "/room",
      requireWebSocket(async ({ websocket }) => {
        group().add(websocket);
        await websocket.closed;
      }),
    );
    const { port } = await server.listen(0);
    const sender = await open(`ws://127.0.0.1:${port}/unread`);
    for (let i = 0; i < 10; i++) sender.send(`message ${i}`);
    await expect.poll(() => reader?.isPaused).toBe(true);
    expect(server.stats().backpressurePauses).toBe(1);

    // A member that never reads: its TCP window fills, then its buffer, then it is skipped.
    const stalled = await open(`ws://127.0.0.1:${port}/room`);
    stalled["socket"].pause();
    await expect.poll(() => group().size).toBe(1);
    const big = Buffer.alloc(256 * 1024);
    let skipped = 0;
    for (let i = 0; i < 200 && skipped === 0; i++) {
      skipped = group().broadcast(big).skipped;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(skipped).toBe(1);
    expect(server.stats().slowMembersSkipped).toBeGreaterThanOrEqual(1);
  });
});

describe("the demo's /stats", () => {
  it("serves the counters as JSON, not cached", async () => {
    const server = serve(createDemoServer());
    const { port } = await server.listen(0);
    const echo = await open(`ws://127.0.0.1:${port}/echo`);
    echo.send("counted");
    await echo.wait();
    const response = await fetch(`http://127.0.0.1:${port}/stats`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const stats = await response.json();
    expect(stats).toMatchObject({ connections: 1, handshakes: { accepted: 1 }, messages: { in: 1, out: 1 } });
  });
});
