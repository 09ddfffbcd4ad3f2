/**
 * Giving up a wait without closing: `wait({ signal })` rejects with the signal's reason
 * and leaves the connection and its messages as they were; so does leaving a `for await`
 * loop early. Driven over real sockets, wsraw's client on one end and its server on the
 * other.
 */
import { describe, expect, it } from "vitest";
import { type WebSocket, createServer, requireWebSocket } from "../../src/index.js";
import { usePairs } from "../support/index.js";

const pairs = usePairs();

/** A server whose one route hands its connection to the test, and a client connected to it. */
async function pair(): Promise<{ serverSide: WebSocket; client: WebSocket }> {
  let handOver!: (ws: WebSocket) => void;
  const accepted = new Promise<WebSocket>((resolve) => (handOver = resolve));
  const server = pairs.serve(createServer());
  server.route(
    "/t",
    requireWebSocket(async ({ websocket }) => {
      handOver(websocket);
      await websocket.closed;
    }),
  );
  const { port } = await server.listen(0);
  const client = await pairs.open(`ws://127.0.0.1:${port}/t`);
  return { serverSide: await accepted, client };
}

describe("wait({ signal })", () => {
  it("rejects with the signal's reason, and the connection and later messages are untouched", async () => {
    const { serverSide, client } = await pair();
    const started = performance.now();
    await expect(serverSide.wait({ signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: "TimeoutError" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(serverSide.readyState).toBe(1);
    client.send("after the timeout");
    expect(await serverSide.wait()).toBe("after the timeout");
  });

  it("an already aborted signal rejects at once, and leaves queued messages queued", async () => {
    const { serverSide, client } = await pair();
    client.send("one");
    client.send("two");
    await expect.poll(() => serverSide.countMessages()).toBe(2);
    const controller = new AbortController();
    controller.abort(new Error("not now"));
    await expect(serverSide.wait({ signal: controller.signal })).rejects.toThrow("not now");
    expect(serverSide.countMessages()).toBe(2);
    expect(await serverSide.wait({ signal: AbortSignal.timeout(1000) })).toBe("one");
    expect(serverSide.read()).toBe("two");
  });

  it("a reader that gave up leaves the line: the next message goes to the reader after it", async () => {
    const { serverSide, client } = await pair();
    const controller = new AbortController();
    const givenUp = serverSide.wait({ signal: controller.signal });
    const second = serverSide.wait();
    controller.abort(new Error("gave up"));
    await expect(givenUp).rejects.toThrow("gave up");
    client.send("for the second reader");
    expect(await second).toBe("for the second reader");
    expect(serverSide.countMessages()).toBe(0);
  });

  it("a message that arrives first wins: the promise resolves and a later abort changes nothing", async () => {
    const { serverSide, client } = await pair();
    const controller = new AbortController();
    const waiting = serverSide.wait({ signal: controller.signal });
    client.send("in time");
    expect(await waiting).toBe("in time");
    controller.abort();
    client.send("next");
    expect(await serverSide.wait()).toBe("next");
  });

  it("resolves null once the connection closes, as wait() does", async () => {
    const { serverSide, client } = await pair();
    const waiting = serverSide.wait({ signal: AbortSignal.timeout(5_000) });
    client.close(1000);
    expect(await waiting).toBeNull();
  });

  it("works on the client side too", async () => {
    const { serverSide, client } = await pair();
    await expect(client.wait({ signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: "TimeoutError" });
    serverSide.send("to the client");
    expect(await client.wait()).toBe("to the client");
  });
});

describe("leaving a for await loop early", () => {
  it("break leaves the connection open and the rest of the messages queued, in order", async () => {
    const { serverSide, client } = await pair();
    for (const text of ["a", "b", "c", "d"]) client.send(text);
    const seen: string[] = [];
    for await (const message of serverSide) {
      seen.push(message as string);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(["a", "b"]);
    expect(serverSide.readyState).toBe(1);
    await expect.poll(() => serverSide.countMessages()).toBe(2);
    const rest: string[] = [];
    for await (const message of serverSide) {
      rest.push(message as string);
      if (rest.length === 2) break;
    }
    expect(rest).toEqual(["c", "d"]);
  });

  it("a loop given up through a signal-bounded wait inside it keeps the connection usable", async () => {
    const { serverSide, client } = await pair();
    client.send("first");
    const seen: string[] = [];
    for (;;) {
      try {
        const message = await serverSide.wait({ signal: AbortSignal.timeout(100) });
        if (message === null) break;
        seen.push(message as string);
      } catch (error) {
        expect((error as Error).name).toBe("TimeoutError");
        break;
      }
    }
    expect(seen).toEqual(["first"]);
    client.send("still open");
    expect(await serverSide.wait()).toBe("still open");
  });
});
