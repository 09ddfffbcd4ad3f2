/**
 * The dwebsocket-style pull API of a server connection, driven over a real socket:
 * wait / read / countMessages / hasMessages, `for await`, send after close, readyState,
 * protocol and bufferedAmount.
 */
import { describe, expect, it, vi } from "vitest";
import { ConnectionClosedError, ReadyState, type UpgradedRequest, type WebSocket } from "../../src/index.js";
import { MiB, Tap, deferred, isSettled, useResources, within } from "../support/index.js";

const resources = useResources();

async function connection(body?: (req: UpgradedRequest) => Promise<unknown>, protocols?: string[]) {
  const tap = new Tap(body);
  const { port, url } = await resources.server({ "/t": tap.route({ protocols }) });
  return { tap, port, url: url("/t") };
}

/** Waits until the server has queued `count` unread messages. */
async function queued(ws: WebSocket, count: number): Promise<void> {
  await vi.waitFor(() => expect(ws.countMessages()).toBe(count), { timeout: 10_000, interval: 5 });
}

describe("reading", () => {
  it("read() returns null when empty; countMessages/hasMessages follow the queue", async () => {
    const { tap, port } = await connection();
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    expect(ws.read()).toBeNull();
    expect(ws.countMessages()).toBe(0);
    expect(ws.hasMessages()).toBe(false);

    client.sendText("a");
    client.sendBinary(Buffer.from([1, 2]));
    client.sendText("c");
    await queued(ws, 3);
    expect(ws.hasMessages()).toBe(true);
    expect(ws.read()).toBe("a");
    expect(ws.countMessages()).toBe(2);
    const binary = ws.read();
    expect(Buffer.isBuffer(binary)).toBe(true);
    expect(binary).toEqual(Buffer.from([1, 2]));
    expect(ws.read()).toBe("c");
    expect(ws.read()).toBeNull();
    expect(ws.hasMessages()).toBe(false);
    expect(ws.countMessages()).toBe(0);
  });

  it("wait() resolves with a queued message at once, or with the next one to arrive", async () => {
    const { tap, port } = await connection();
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    client.sendText("queued");
    await queued(ws, 1);
    expect(await ws.wait()).toBe("queued");

    const pending = ws.wait();
    expect(await isSettled(pending)).toBe(false);
    client.sendText("later");
    expect(await within(pending, 10_000, "wait()")).toBe("later");
    expect(ws.countMessages()).toBe(0); // handed to the waiter, not queued
  });

  it("concurrent wait() calls get successive messages in order", async () => {
    const { tap, port } = await connection();
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    const waits = [ws.wait(), ws.wait(), ws.wait()];
    client.sendText("1");
    client.sendText("2");
    client.sendText("3");
    expect(await within(Promise.all(waits), 10_000, "three waits")).toEqual(["1", "2", "3"]);
  });

  it("a for-await reader and a wait() caller are served in the order they asked", async () => {
    const { tap, port } = await connection();
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    const iterator = ws[Symbol.asyncIterator]();
    const first = iterator.next();
    const second = ws.wait();
    const third = iterator.next();
    client.sendText("1");
    client.sendText("2");
    client.sendText("3");
    expect(await within(Promise.all([first, second, third]), 10_000, "three readers")).toEqual([
      { value: "1", done: false },
      "2",
      { value: "3", done: false },
    ]);
    const ending = [iterator.next(), ws.wait()];
    client.sendClose(1000);
    expect(await within(Promise.all(ending), 10_000, "readers at the close")).toEqual([{ value: undefined, done: true }, null]);
  });

  it("after the peer's close, queued messages are still read, then wait() returns null", async () => {
    const { tap, port } = await connection();
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    client.sendText("before close 1");
    client.sendText("before close 2");
    client.sendClose(1000);
    await within(ws.closed, 10_000, "closed");
    expect(ws.countMessages()).toBe(2);
    expect(await ws.wait()).toBe("before close 1");
    expect(ws.read()).toBe("before close 2");
    expect(await within(ws.wait(), 10_000, "wait() after close")).toBeNull();
    expect(ws.read()).toBeNull();
  });

  it("a pending wait() resolves with null when the connection closes", async () => {
    const { tap, port } = await connection();
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    const pending = ws.wait();
    client.sendClose(1000);
    expect(await within(pending, 10_000, "wait()")).toBeNull();
  });

  it("a pending wait() resolves with null when the client vanishes", async () => {
    const { tap, port } = await connection();
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    const pending = ws.wait();
    client.destroy();
    expect(await within(pending, 10_000, "wait()")).toBeNull();
  });

  it("for await yields every message and ends when the peer closes", async () => {
    const done = deferred<Array<string | Buffer>>();
    const { port } = await connection(async ({ websocket }) => {
      const seen: Array<string | Buffer> = [];
      for await (const message of websocket) seen.push(message);
      done.resolve(seen);
    });
    const client = await resources.rawWebSocket(port, { path: "/t" });
    client.sendText("x");
    client.sendBinary(Buffer.from("y"));
    client.sendText("z");
    client.sendClose(1000);
    expect(await within(done.promise, 10_000, "the for-await loop to end")).toEqual(["x", Buffer.from("y"), "z"]);
  });

  it("breaking out of for await leaves the connection open", async () => {
    const { tap, port } = await connection();
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    client.sendText("first");
    client.sendText("second");
    for await (const message of ws) {
      expect(message).toBe("first");
      break;
    }
    expect(ws.readyState).toBe(ReadyState.OPEN);
    expect(await ws.wait()).toBe("second");
  });
});

describe("writing and state", () => {
  it("readyState goes OPEN → CLOSING → CLOSED; send then throws ConnectionClosedError", async () => {
    const { tap, port } = await connection();
    const client = await resources.rawWebSocket(port, { path: "/t" });
    const ws = await tap.next();
    expect(ws.readyState).toBe(ReadyState.OPEN);
    expect(ws.send("while open")).toBe(true);
    expect(await client.nextFrame()).toEqual({ type: "text", data: "while open" });

    ws.close(4000, "closing now");
    expect(ws.readyState).toBe(ReadyState.CLOSING);
    expect(() => ws.send("while closing")).toThrow(ConnectionClosedError);
    // Not "closed (1006)": no code is known until the peer answers, and this end is why.
    expect(() => ws.send("while closing")).toThrow(/closing: close\(\) was called/);
    expect(() => ws.ping()).toThrow(ConnectionClosedError);
    expect(await client.nextFrame()).toEqual({ type: "close", code: 4000, reason: "closing now" });
    client.sendClose(4000);
    await within(ws.closed, 10_000, "closed");
    expect(ws.readyState).toBe(ReadyState.CLOSED);

    let error: unknown;
    try {
      ws.send(Buffer.from("after close"));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error).toMatchObject({ code: 4000 });
    await client.waitClosed();
    expect(client.frames.drain()).toEqual([]); // nothing was sent after the close frame
  });

  it("protocol is the selected subprotocol, or empty", async () => {
    const { tap, url } = await connection(undefined, ["chat", "json"]);
    await resources.ws(url, ["xml", "json"]);
    expect((await tap.next()).protocol).toBe("json");
    await resources.ws(url);
    expect((await tap.next()).protocol).toBe("");
  });

  it("bufferedAmount counts unsent bytes and returns to 0 once written", async () => {
    const { tap, url } = await connection();
    const peer = await resources.ws(url);
    const ws = await tap.next();
    expect(ws.bufferedAmount).toBe(0);
    const payload = Buffer.alloc(MiB, 1);
    ws.send(payload);
    // Queued in this tick, written at its end: the frame is still counted.
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(MiB);
    expect(((await peer.next()) as Buffer).length).toBe(MiB);
    await vi.waitFor(() => expect(ws.bufferedAmount).toBe(0), { timeout: 10_000 });
  });

  it("send() accepts strings, Buffers, Uint8Arrays and ArrayBuffers", async () => {
    const { tap, url } = await connection();
    const peer = await resources.ws(url);
    const ws = await tap.next();
    ws.send("text");
    ws.send(Buffer.from([1]));
    ws.send(Uint8Array.from([2, 3]).subarray(1));
    ws.send(Uint8Array.from([4, 5]).buffer);
    expect(await peer.next()).toBe("text");
    expect(await peer.next()).toEqual(Buffer.from([1]));
    expect(await peer.next()).toEqual(Buffer.from([3]));
    expect(await peer.next()).toEqual(Buffer.from([4, 5]));
  });

  it("remoteAddress is the client's", async () => {
    const { tap, url } = await connection();
    await resources.ws(url);
    expect((await tap.next()).remoteAddress).toMatch(/127\.0\.0\.1$/);
  });
});

describe("the request, for the life of the connection", () => {
  it("headers, query and head read after the handler's first await are the handshake's", async () => {
    const seen = deferred<unknown>();
    const { port } = await connection(async (req) => {
      const before = { header: req.headers["x-custom"], room: req.query.get("room") };
      // Past the first await the server keeps only the head's text; reading parses it again.
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.resolve({
        before,
        header: req.headers["x-custom"],
        room: req.query.get("room"),
        path: req.path,
        method: req.method,
        raw: req.head.rawHeaders.find(([name]) => name === "X-Custom"),
        user: req.user,
      });
      await req.websocket.closed;
    });
    await resources.rawWebSocket(port, { path: "/t?room=blue%20sky", headers: { "X-Custom": "hello" } });
    expect(await within(seen.promise, 10_000, "the handler's reads")).toEqual({
      before: { header: "hello", room: "blue sky" },
      header: "hello",
      room: "blue sky",
      path: "/t",
      method: "GET",
      raw: ["X-Custom", "hello"],
      user: undefined,
    });
  });
});
