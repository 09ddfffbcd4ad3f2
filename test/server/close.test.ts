/**
 * How connections end: the closing handshake in both directions (RFC 6455 §7.1.2, §7.1.5,
 * §5.5.1), failing the connection on protocol errors with the right code (§7.1.7, §7.4.1),
 * and what a handler's end or exception does to its connection.
 */
import { describe, expect, it, vi } from "vitest";
import { ConnectionClosedError, type UpgradedRequest, type WsRequest, requireWebSocket } from "../../src/index.js";
import {
  Opcode,
  Tap,
  echo,
  echoRoute,
  expectEchoes,
  handmadeFrame,
  isSettled,
  turn,
  useResources,
  within,
} from "../support/index.js";

const resources = useResources();

/** A server with a tapped route, so the test holds the server side of each connection. */
async function tapped(options: Parameters<typeof resources.server>[1] = {}, body?: (req: UpgradedRequest) => Promise<unknown>) {
  const tap = new Tap(body);
  const { port, server } = await resources.server({ "/t": tap.route(), "/echo": echoRoute() }, options);
  const open = async () => {
    const client = await resources.rawWebSocket(port, { path: "/t" });
    return { client, ws: await tap.next() };
  };
  return { port, server, open };
}

describe("closing handshake started by the client", () => {
  it.each([
    { code: 1000, reason: "done" },
    { code: 4000, reason: "app-specific ✓" },
    { code: 1001, reason: "" },
  ])("close $code: the server echoes the code, closes TCP, and closed is clean", async ({ code, reason }) => {
    const { open } = await tapped();
    const { client, ws } = await open();
    client.sendClose(code, reason);
    expect(await client.nextFrame()).toEqual({ type: "close", code, reason: "" });
    // The server closes the TCP connection first (RFC 6455 §7.1.1): FIN without ours.
    await within(client.ended, 10_000, "the server's FIN");
    expect(await within(ws.closed, 10_000, "closed")).toEqual({ code, reason, wasClean: true });
    expect(ws.readyState).toBe(3);
    await client.waitClosed();
  });

  it("once both close frames are exchanged, the server does not wait for the client's FIN", async () => {
    const tap = new Tap();
    const { port } = await resources.server({ "/t": tap.route() }, { closeTimeoutMs: 30_000 });
    // This client never ends its side: the server's FIN does not end it.
    const client = await resources.raw(port, true);
    await client.handshake({ path: "/t" });
    const ws = await tap.next();
    client.sendClose(1000);
    expect(await client.nextFrame()).toEqual({ type: "close", code: 1000, reason: "" });
    await within(client.ended, 10_000, "the server's FIN");
    // Done at once and cleanly, not after closeTimeoutMs with 1006.
    expect(await within(ws.closed, 2_000, "closed")).toEqual({ code: 1000, reason: "", wasClean: true });
  });

  it.each([256 * 1024, 1024 * 1024, 4 * 1024 * 1024])(
    "a %i B echo and the close frame reach a slow reader that sends a frame after its close",
    async (size) => {
      const { port } = await tapped();
      const client = await resources.rawWebSocket(port, { path: "/echo" });
      // The client reads nothing for a while, so the echo waits in the kernel's buffers when
      // the server has handed it all over; then it sends a ping after its close frame. Were
      // the server's descriptor closed by then, the ping would be answered with a RST, and a
      // RST drops what the kernel has not yet delivered: the tail of the echo, the close.
      client.socket.pause();
      const message = Buffer.alloc(size, 0x61).toString("latin1");
      client.sendText(message);
      client.sendClose(1000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      client.ping("after close");
      await new Promise((resolve) => setTimeout(resolve, 100));
      client.socket.resume();
      expect(await client.nextFrame()).toEqual({ type: "text", data: message });
      expect(await client.nextFrame()).toEqual({ type: "close", code: 1000, reason: "" });
      await client.waitClosed();
    },
  );

  it("an empty close frame is answered with an empty close frame; closed reports 1005", async () => {
    const { open } = await tapped();
    const { client, ws } = await open();
    client.sendClose();
    // The client-side parser reports 1005 exactly when the close frame has no body.
    expect(await client.nextFrame()).toEqual({ type: "close", code: 1005, reason: "" });
    expect(await within(ws.closed, 10_000, "closed")).toEqual({ code: 1005, reason: "", wasClean: true });
    await client.waitClosed();
  });

  it("data after the client's close frame is ignored", async () => {
    const { port } = await tapped();
    const client = await resources.rawWebSocket(port, { path: "/echo" });
    client.sendClose(1000);
    client.sendText("too late");
    expect(await client.nextFrame()).toEqual({ type: "close", code: 1000, reason: "" });
    await client.waitClosed();
    expect(client.frames.drain()).toEqual([]);
  });
});

describe("closing handshake started by the server", () => {
  it("close(4001, 'bye'): the client gets code and reason, replies, closed is clean", async () => {
    const { open } = await tapped();
    const { client, ws } = await open();
    ws.close(4001, "bye");
    expect(ws.readyState).toBe(2);
    expect(await client.nextFrame()).toEqual({ type: "close", code: 4001, reason: "bye" });
    client.sendClose(4001);
    await within(client.ended, 10_000, "the server's FIN");
    expect(await within(ws.closed, 10_000, "closed")).toEqual({ code: 4001, reason: "", wasClean: true });
    await client.waitClosed();
  });

  it("the ws client sees the server's code and reason", async () => {
    const tap = new Tap();
    const { url } = await resources.server({ "/t": tap.route() });
    const peer = await resources.ws(url("/t"));
    const ws = await tap.next();
    ws.close(4002, "see you");
    expect(await peer.closed()).toEqual({ code: 4002, reason: "see you" });
    // `ws` answers with the code and reason it received; closed reports the peer's frame.
    expect(await within(ws.closed, 10_000, "closed")).toEqual({ code: 4002, reason: "see you", wasClean: true });
  });

  it("a client that never answers is cut off after closeTimeoutMs: closed is 1006, not clean", async () => {
    const { open } = await tapped({ closeTimeoutMs: 300 });
    const { client, ws } = await open();
    const started = performance.now();
    ws.close(1000, "please answer");
    expect(await client.nextFrame()).toEqual({ type: "close", code: 1000, reason: "please answer" });
    await client.waitClosed();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(8_000);
    const info = await within(ws.closed, 10_000, "closed");
    expect(info).toMatchObject({ code: 1006, wasClean: false });
  });

  it("close() twice sends one close frame; close() with an invalid code throws", async () => {
    const { open } = await tapped();
    const { client, ws } = await open();
    expect(() => ws.close(1005)).toThrow(RangeError);
    expect(() => ws.close(1000, "x".repeat(124))).toThrow(RangeError);
    expect(ws.readyState).toBe(1);
    ws.close(1000);
    ws.close(4000, "again");
    client.sendClose(1000);
    expect(await client.nextFrame()).toEqual({ type: "close", code: 1000, reason: "" });
    await client.waitClosed();
    expect(client.frames.drain()).toEqual([]);
  });

  it("terminate() drops TCP without a close frame: closed is 1006", async () => {
    const { open } = await tapped();
    const { client, ws } = await open();
    ws.terminate();
    await client.waitClosed();
    expect(client.frames.drain()).toEqual([]);
    expect(await within(ws.closed, 10_000, "closed")).toMatchObject({ code: 1006, wasClean: false });
  });

  it("a client that vanishes without a close frame: closed is 1006", async () => {
    const { open } = await tapped();
    const { client, ws } = await open();
    client.destroy();
    expect(await within(ws.closed, 10_000, "closed")).toEqual({ code: 1006, reason: "", wasClean: false });
  });
});

describe("protocol errors fail the connection (RFC 6455 §7.1.7)", () => {
  const text = (payload: string | Buffer, more: Partial<Parameters<typeof handmadeFrame>[0]> = {}) =>
    handmadeFrame({ opcode: Opcode.Text, payload, ...more });
  const cases: Array<{ name: string; bytes: () => Buffer; code: number }> = [
    { name: "unmasked frame", bytes: () => text("hi", { masked: false }), code: 1002 },
    { name: "RSV1 without an extension", bytes: () => text("hi", { rsv: 0b100 }), code: 1002 },
    { name: "RSV3 set", bytes: () => text("hi", { rsv: 0b001 }), code: 1002 },
    { name: "reserved data opcode 0x3", bytes: () => handmadeFrame({ opcode: 0x3, payload: "x" }), code: 1002 },
    { name: "reserved control opcode 0xB", bytes: () => handmadeFrame({ opcode: 0xb }), code: 1002 },
    { name: "continuation with nothing to continue", bytes: () => handmadeFrame({ opcode: Opcode.Continuation, payload: "x" }), code: 1002 },
    { name: "fragmented ping", bytes: () => handmadeFrame({ opcode: Opcode.Ping, fin: false }), code: 1002 },
    { name: "ping of 126 bytes", bytes: () => handmadeFrame({ opcode: Opcode.Ping, payload: Buffer.alloc(126) }), code: 1002 },
    {
      name: "close code 1005 on the wire",
      bytes: () => handmadeFrame({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xed]) }),
      code: 1002,
    },
    { name: "invalid UTF-8 in a text message", bytes: () => text(Buffer.from([0x68, 0xff, 0x69])), code: 1007 },
    {
      name: "text ending inside a UTF-8 sequence",
      bytes: () => text(Buffer.from("日").subarray(0, 2)),
      code: 1007,
    },
    { name: "binary message over maxPayload", bytes: () => handmadeFrame({ opcode: Opcode.Binary, payload: Buffer.alloc(2000) }), code: 1009 },
    {
      name: "fragmented message over maxPayload",
      bytes: () =>
        Buffer.concat([
          handmadeFrame({ opcode: Opcode.Binary, payload: Buffer.alloc(600), fin: false }),
          handmadeFrame({ opcode: Opcode.Continuation, payload: Buffer.alloc(600) }),
        ]),
      code: 1009,
    },
  ];

  it.each(cases)("$name → $code, then TCP closed; other connections unaffected", async ({ bytes, code }) => {
    const { open, port } = await tapped({ maxPayload: 1024 });
    const bystander = await resources.rawWebSocket(port, { path: "/echo" });
    const { client, ws } = await open();
    client.write(bytes());
    const frame = await client.nextFrame();
    expect(frame).toMatchObject({ type: "close", code });
    expect((frame as { reason: string }).reason.length).toBeGreaterThan(0);
    await client.waitClosed();
    expect(await within(ws.closed, 10_000, "closed")).toMatchObject({ code, wasClean: false });
    bystander.sendText("unaffected");
    expect(await bystander.nextFrame()).toEqual({ type: "text", data: "unaffected" });
  });

  it("a message of exactly maxPayload bytes is accepted", async () => {
    const { port } = await tapped({ maxPayload: 1024 });
    const client = await resources.rawWebSocket(port, { path: "/echo" });
    client.sendBinary(Buffer.alloc(1024, 9));
    expect(await client.nextFrame()).toEqual({ type: "binary", data: Buffer.alloc(1024, 9) });
  });

  it("wait() returns null once the connection failed", async () => {
    const { open } = await tapped();
    const { client, ws } = await open();
    const waiting = ws.wait();
    client.write(handmadeFrame({ opcode: Opcode.Text, payload: "x", masked: false }));
    expect(await within(waiting, 10_000, "wait()")).toBeNull();
  });
});

describe("the handler's end", () => {
  it("an exception closes with 1011, is reported to onError, and other connections go on", async () => {
    const onError = vi.fn();
    const boom = new Error("handler failed");
    const { port } = await resources.server(
      {
        "/echo": echoRoute(),
        "/throws": requireWebSocket(async ({ websocket }) => {
          if ((await websocket.wait()) === "boom") throw boom;
        }),
      },
      { onError },
    );
    const bystander = await resources.rawWebSocket(port, { path: "/echo" });
    const client = await resources.rawWebSocket(port, { path: "/throws" });
    client.sendText("boom");
    expect(await client.nextFrame()).toMatchObject({ type: "close", code: 1011 });
    client.sendClose(1011);
    await client.waitClosed();
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0][0]).toBe(boom);
    expect((onError.mock.calls[0][1] as WsRequest).path).toBe("/throws");
    bystander.sendText("unaffected");
    expect(await bystander.nextFrame()).toEqual({ type: "text", data: "unaffected" });
    await expectEchoes(resources, port);
  });

  it("a synchronous throw is handled the same way", async () => {
    const onError = vi.fn();
    const { port } = await resources.server(
      {
        "/throws": requireWebSocket(() => {
          throw new TypeError("sync bug");
        }),
      },
      { onError },
    );
    const client = await resources.rawWebSocket(port, { path: "/throws" });
    expect(await client.nextFrame()).toMatchObject({ type: "close", code: 1011 });
    expect(onError).toHaveBeenCalledWith(expect.any(TypeError), expect.anything());
  });

  it("returning closes with 1000", async () => {
    const { open } = await tapped({}, async (req) => {
      await req.websocket.wait();
    });
    const { client, ws } = await open();
    client.sendText("one message and done");
    expect(await client.nextFrame()).toEqual({ type: "close", code: 1000, reason: "" });
    client.sendClose(1000);
    expect(await within(ws.closed, 10_000, "closed")).toEqual({ code: 1000, reason: "", wasClean: true });
    await client.waitClosed();
  });

  it("the outcome is the promise's, not the value's: an Error returned closes with 1000, a rejection with undefined with 1011", async () => {
    const onError = vi.fn();
    const { port } = await resources.server(
      {
        "/returns-error": requireWebSocket(async ({ websocket }) => {
          await websocket.wait();
          return new Error("a value, not a failure");
        }),
        "/rejects-undefined": requireWebSocket(async ({ websocket }) => {
          await websocket.wait();
          return Promise.reject(undefined);
        }),
      },
      { onError },
    );
    const returning = await resources.rawWebSocket(port, { path: "/returns-error" });
    returning.sendText("go");
    expect(await returning.nextFrame()).toEqual({ type: "close", code: 1000, reason: "" });
    expect(onError).not.toHaveBeenCalled();
    const rejecting = await resources.rawWebSocket(port, { path: "/rejects-undefined" });
    rejecting.sendText("go");
    expect(await rejecting.nextFrame()).toMatchObject({ type: "close", code: 1011 });
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0][0]).toBeUndefined();
    expect((onError.mock.calls[0][1] as WsRequest).path).toBe("/rejects-undefined");
  });

  it("a ConnectionClosedError escaping the handler (send after close) is not reported", async () => {
    const onError = vi.fn();
    const thrown = vi.fn();
    const { open } = await tapped({ onError }, async ({ websocket }) => {
      await echo(websocket); // ends when the client closes
      try {
        websocket.send("too late");
      } catch (error) {
        thrown(error);
        throw error;
      }
    });
    const { client, ws } = await open();
    client.sendClose(1000);
    await within(ws.closed, 10_000, "closed");
    await vi.waitFor(() => expect(thrown).toHaveBeenCalledTimes(1), { timeout: 5_000 });
    expect(thrown.mock.calls[0][0]).toBeInstanceOf(ConnectionClosedError);
    expect(thrown.mock.calls[0][0]).toMatchObject({ code: 1000 });
    await turn(); // the server's rejection handler runs in the same turn
    expect(onError).not.toHaveBeenCalled();
  });

  it("a handler still running when the peer closes does not keep the connection open", async () => {
    const never = new Promise<void>(() => {});
    const { open } = await tapped({}, () => never);
    const { client, ws } = await open();
    client.sendClose(1000);
    expect(await within(ws.closed, 10_000, "closed")).toMatchObject({ code: 1000, wasClean: true });
    expect(await isSettled(never)).toBe(false);
  });
});
