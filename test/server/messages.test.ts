/**
 * Data messages and ping/pong over real sockets: echo through the `ws` client at every
 * length-encoding boundary up to the 16 MiB default limit, UTF-8, fragmented input from
 * the raw client, and control frames (RFC 6455 §5.4, §5.5.2, §5.5.3).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { encodeMessage } from "../../src/frame/index.js";
import { ConnectionClosedError } from "../../src/index.js";
import {
  KiB,
  MiB,
  Tap,
  echoRoute,
  patternBytes,
  patternText,
  useResources,
  type TestServer,
} from "../support/index.js";

const shared = useResources("all");
const resources = useResources();
let server: TestServer;

beforeAll(async () => {
  server = await shared.server({ "/echo": echoRoute() });
});

describe("echo through the ws client", () => {
  // Each side of every payload-length encoding (7-bit, 16-bit, 64-bit), then large ones.
  const sizes = [0, 1, 125, 126, 65535, 65536, MiB, 16 * MiB];
  const cases = sizes.flatMap((size) => [
    { kind: "binary", size },
    { kind: "text", size },
  ]);

  it.each(cases)("$kind message of $size bytes", async ({ kind, size }) => {
    const peer = await resources.ws(server.url("/echo"));
    const sent = kind === "binary" ? patternBytes(size, size) : patternText(size);
    peer.ws.send(sent);
    const received = await peer.next(20_000);
    if (kind === "binary") {
      expect(Buffer.isBuffer(received)).toBe(true);
      expect((received as Buffer).length).toBe(size);
      expect((received as Buffer).equals(sent as Buffer)).toBe(true);
    } else {
      expect(typeof received).toBe("string");
      expect((received as string).length).toBe(size);
      expect(received === sent).toBe(true);
    }
  });

  it("text with multibyte UTF-8 (2, 3 and 4-byte sequences) comes back unchanged", async () => {
    const peer = await resources.ws(server.url("/echo"));
    const texts = ["héllo wörld", "日本語のテキスト", "emoji 🎉🚀 and 𝄞", "mixed: ñ 中 😀 a"];
    for (const text of texts) peer.ws.send(text);
    for (const text of texts) expect(await peer.next()).toBe(text);
  });

  it("many messages in a burst come back in order", async () => {
    const peer = await resources.ws(server.url("/echo"));
    const count = 2000;
    for (let i = 0; i < count; i++) peer.ws.send(i % 2 === 0 ? `m${i}` : Buffer.from(`b${i}`));
    for (let i = 0; i < count; i++) {
      const message = await peer.next();
      expect(i % 2 === 0 ? message : (message as Buffer).toString()).toBe(i % 2 === 0 ? `m${i}` : `b${i}`);
    }
  });
});

describe("fragmented input from a raw client (RFC 6455 §5.4)", () => {
  it("joins fragments; a ping between them is answered before the message is echoed", async () => {
    const client = await resources.rawWebSocket(server.port, { path: "/echo" });
    const frames = encodeMessage("Hello, fragmented world", { mask: true, fragmentSize: 5 });
    expect(frames.length).toBe(5);
    client.write(frames.slice(0, 2));
    client.ping("between");
    client.write(frames.slice(2));
    expect(await client.nextFrame()).toEqual({ type: "pong", data: Buffer.from("between") });
    expect(await client.nextFrame()).toEqual({ type: "text", data: "Hello, fragmented world" });
  });

  it("fragments sent in separate writes, with the ping as its own write", async () => {
    const client = await resources.rawWebSocket(server.port, { path: "/echo" });
    const payload = patternBytes(3000);
    const frames = encodeMessage(payload, { mask: true, fragmentSize: 1000 });
    client.write(frames[0]);
    client.ping("p1");
    expect(await client.nextFrame()).toEqual({ type: "pong", data: Buffer.from("p1") });
    client.write(frames[1]);
    client.ping("p2");
    expect(await client.nextFrame()).toEqual({ type: "pong", data: Buffer.from("p2") });
    client.write(frames[2]);
    expect(await client.nextFrame()).toEqual({ type: "binary", data: payload });
  });

  it("a multibyte character split across fragments is valid UTF-8", async () => {
    const client = await resources.rawWebSocket(server.port, { path: "/echo" });
    client.sendText("日本🎉", 1); // one byte per fragment: every character is split
    expect(await client.nextFrame()).toEqual({ type: "text", data: "日本🎉" });
  });

  it("a fragmented message of 1 MiB in 64 KiB fragments", async () => {
    const client = await resources.rawWebSocket(server.port, { path: "/echo" });
    const payload = patternBytes(MiB, 3);
    client.sendBinary(payload, 64 * KiB);
    const frame = await client.nextFrame();
    expect(frame.type).toBe("binary");
    expect((frame as { data: Buffer }).data.equals(payload)).toBe(true);
  });
});

describe("ping and pong (RFC 6455 §5.5.2, §5.5.3)", () => {
  it.each([
    ["empty", Buffer.alloc(0)],
    ["text", Buffer.from("are you there?")],
    ["125 bytes", patternBytes(125)],
  ] as const)("answers a %s ping with a pong of the same payload", async (_, payload) => {
    const client = await resources.rawWebSocket(server.port, { path: "/echo" });
    client.ping(payload);
    expect(await client.nextFrame()).toEqual({ type: "pong", data: payload });
  });

  it("answers several pings in order and ignores unsolicited pongs", async () => {
    const client = await resources.rawWebSocket(server.port, { path: "/echo" });
    client.pong("unsolicited");
    for (const data of ["1", "2", "3"]) client.ping(data);
    client.sendText("after");
    for (const data of ["1", "2", "3"]) expect(await client.nextFrame()).toEqual({ type: "pong", data: Buffer.from(data) });
    expect(await client.nextFrame()).toEqual({ type: "text", data: "after" });
  });

  it("ws.ping() from the server reaches the ws client, whose pong the server takes", async () => {
    const tap = new Tap();
    const { url } = await resources.server({ "/tap": tap.route() });
    const peer = await resources.ws(url("/tap"));
    const ws = await tap.next();
    ws.ping("heartbeat");
    expect((await peer.pings.next()).toString()).toBe("heartbeat");
    ws.ping(Uint8Array.from([1, 2, 3]));
    expect(await peer.pings.next()).toEqual(Buffer.from([1, 2, 3]));
    expect(() => ws.ping(Buffer.alloc(126))).toThrow(RangeError);
    // The connection is still fine after the auto-pongs.
    ws.send("still open");
    expect(await peer.next()).toBe("still open");
  });
});

describe("await ws.ping(): the round trip to the peer's pong", () => {
  /** Tracks whether `promise` has settled, and how. */
  function watch<T>(promise: Promise<T>) {
    const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
    promise.then(
      (value) => Object.assign(state, { settled: true, value }),
      (error: unknown) => Object.assign(state, { settled: true, error }),
    );
    return state;
  }
  /** Resolves once the server has read everything the client sent before this call. */
  async function serverCaughtUp(client: { sendText(text: string): void }, ws: { wait(): Promise<unknown> }) {
    client.sendText("marker");
    expect(await ws.wait()).toBe("marker");
  }

  it("resolves with the round trip once the pong comes; without data the ping carries 4 random bytes", async () => {
    const { client, ws } = await resources.rawPair();
    const answered = watch(ws.ping());
    const first = await client.nextFrame();
    expect(first).toMatchObject({ type: "ping" });
    const data = (first as { data: Buffer }).data;
    expect(data.length).toBe(4);
    void ws.ping();
    const second = (await client.nextFrame()) as { data: Buffer };
    expect(second.data.equals(data), "two pings without data carry different bytes").toBe(false);
    await serverCaughtUp(client, ws);
    expect(answered.settled).toBe(false);
    client.pong(data);
    await serverCaughtUp(client, ws);
    expect(answered.settled).toBe(true);
    expect(answered.value).toBeGreaterThanOrEqual(0);
    expect(answered.value).toBeLessThan(10_000);
  });

  it("a pong to a later ping answers the earlier ones too (RFC 6455 §5.5.3); one nobody waits for answers none", async () => {
    const { client, ws } = await resources.rawPair();
    const [a, b, c] = ["a", "b", "c"].map((data) => watch(ws.ping(data)));
    for (const data of ["a", "b", "c"]) expect(await client.nextFrame()).toEqual({ type: "ping", data: Buffer.from(data) });
    client.pong("unsolicited");
    client.pong(""); // as if to a heartbeat's ping
    await serverCaughtUp(client, ws);
    expect([a, b, c].map((p) => p.settled)).toEqual([false, false, false]);
    client.pong("b");
    await serverCaughtUp(client, ws);
    expect([a, b, c].map((p) => p.settled)).toEqual([true, true, false]);
    expect(a.value).toBeGreaterThanOrEqual(b.value!);
    client.pong("c");
    await serverCaughtUp(client, ws);
    expect(c.settled).toBe(true);
    expect(c.error).toBeUndefined();
  });

  it("rejects with ConnectionClosedError when the connection ends first; an unawaited one is no unhandled rejection", async () => {
    const { client, ws } = await resources.rawPair();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): number => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const awaited = ws.ping("awaited");
      void ws.ping("ignored");
      client.sendClose(4001, "bye");
      await expect(awaited).rejects.toThrow(ConnectionClosedError);
      await expect(awaited).rejects.toMatchObject({ code: 4001, reason: "bye" });
      await new Promise((resolve) => setTimeout(resolve, 50)); // unhandled rejections are reported after a turn
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("what send(), ping(), close() and broadcast() take", () => {
  it("any view of bytes, without its neighbours: typed arrays, DataView, ArrayBuffer", async () => {
    const tap = new Tap();
    const { url, server: wsraw } = await resources.server({ "/tap": tap.route() });
    const peer = await resources.ws(url("/tap"));
    const ws = await tap.next();
    const memory = Uint8Array.from([9, 1, 2, 3, 4, 9]).buffer;
    ws.send(new Uint16Array(memory, 2, 1)); // bytes 2 and 3 only
    ws.send(new DataView(memory, 1, 4));
    ws.send(memory.slice(1, 3));
    wsraw.group("all").add(ws).broadcast(new DataView(memory, 4, 1));
    expect(await peer.next()).toEqual(Buffer.from([2, 3]));
    expect(await peer.next()).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(await peer.next()).toEqual(Buffer.from([1, 2]));
    expect(await peer.next()).toEqual(Buffer.from([4]));
  });

  it("anything else is a TypeError that names it, and the connection goes on", async () => {
    const tap = new Tap();
    const { url, server: wsraw } = await resources.server({ "/tap": tap.route() });
    const peer = await resources.ws(url("/tap"));
    const ws = await tap.next();
    const expected = (got: string) =>
      new TypeError(`data must be a string, an ArrayBuffer or a view of one (Buffer, typed array, DataView), got ${got}`);
    for (const [data, got] of [[123, "number"], [null, "null"], [undefined, "undefined"], [{}, "object"]] as const) {
      expect(() => ws.send(data as unknown as string)).toThrow(expected(got));
      expect(() => wsraw.group("g").broadcast(data as unknown as string)).toThrow(expected(got));
    }
    expect(() => ws.ping(7 as unknown as string)).toThrow(expected("number"));
    expect(() => ws.close(1000, 5 as unknown as string)).toThrow(new TypeError("a close reason is a string, got number"));
    ws.send("still open");
    expect(await peer.next()).toBe("still open");
  });
});
