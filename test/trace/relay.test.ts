/**
 * The relay over real sockets on 127.0.0.1: it forwards byte for byte whatever either side
 * sends (a fast-check property over valid and invalid frame sequences chunked at random),
 * describes what it sees, and survives targets and clients that do not speak WebSocket.
 */
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { connect } from "../../src/client/connect.js";
import type { FrameEvent, ResponseEvent, TraceEvent } from "../../src/trace/events.js";
import { echoRoute } from "../../src/apps/echo.js";
import { HOST, acceptFor, newKey, upgradeRequest, useResources, within } from "../support/index.js";
import { RawTarget, rawClient, startRelay, until } from "./helpers.js";

const resources = useResources();

/** One frame as fast-check makes it: any header bits, masked or not, any length form. */
const frameArbitrary = fc
  .record({
    fin: fc.boolean(),
    rsv: fc.integer({ min: 0, max: 7 }),
    opcode: fc.oneof(fc.constantFrom(0, 1, 2, 8, 9, 10), fc.integer({ min: 0, max: 15 })),
    key: fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined }),
    payload: fc.uint8Array({ maxLength: 300 }),
    lengthForm: fc.constantFrom("minimal", "16-bit", "64-bit"),
  })
  .map(({ fin, rsv, opcode, key, payload, lengthForm }) => {
    const length = payload.length;
    const form = lengthForm === "minimal" ? (length < 126 ? "7-bit" : "16-bit") : lengthForm;
    const header = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
    const maskBit = key === undefined ? 0 : 0x80;
    if (form === "7-bit") header.push(maskBit | length);
    else if (form === "16-bit") header.push(maskBit | 126, length >> 8, length & 0xff);
    else header.push(maskBit | 127, 0, 0, 0, 0, 0, 0, length >> 8, length & 0xff);
    const body = Buffer.from(payload);
    if (key !== undefined) for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4]!;
    return Buffer.concat([Buffer.from(header), key === undefined ? Buffer.alloc(0) : Buffer.from(key), body]);
  });

/** A direction's bytes: frames, now and then raw garbage. */
const streamArbitrary = fc
  .array(fc.oneof({ weight: 5, arbitrary: frameArbitrary }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map(Buffer.from) }), {
    maxLength: 12,
  })
  .map((parts) => Buffer.concat(parts));

/** Cuts `bytes` into chunks of the given sizes (cycling). */
function chunk(bytes: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

async function writeChunks(socket: import("node:net").Socket, chunks: Buffer[]): Promise<void> {
  for (const piece of chunks) {
    socket.write(piece);
    // Now and then a pause, so that chunks reach the relay as separate reads.
    if (piece.length % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("byte-identical forwarding", () => {
  it("random valid and invalid frame sequences, chunked at random, reach both ends exactly as sent", async () => {
    const target = await RawTarget.start(resources);
    const { port, events } = await startRelay(resources, target.port);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        streamArbitrary,
        streamArbitrary,
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
        async (handshake, clientFrames, serverFrames, clientSizes, serverSizes) => {
          const index = run++;
          const key = newKey();
          const fromClient = handshake ? Buffer.concat([upgradeRequest({ key, path: "/x" }), clientFrames]) : clientFrames;
          const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
          const fromServer = handshake ? Buffer.concat([Buffer.from(response, "latin1"), serverFrames]) : serverFrames;
          const client = await rawClient(resources, port);
          await until(() => target.sockets.length > index, "the relay to reach the target");
          const server = target.sockets[index]!;
          await Promise.all([writeChunks(client.socket, chunk(fromClient, clientSizes)), writeChunks(server, chunk(fromServer, serverSizes))]);
          await until(
            () => target.bytes(index).length >= fromClient.length && client.bytes().length >= fromServer.length,
            "every byte to cross the relay",
          );
          expect(target.bytes(index).equals(fromClient)).toBe(true);
          expect(client.bytes().equals(fromServer)).toBe(true);
          client.socket.destroy();
        },
      ),
      { numRuns: 60 },
    );
    expect(events.filter((e) => e.type === "transport" && e.what === "error" && /trace stopped/.test(e.message))).toEqual([]);
    expect(events.some((e) => e.type === "frame" && e.violations.length > 0)).toBe(true);
    expect(events.some((e) => e.type === "request")).toBe(true);
    expect(events.some((e) => e.type === "bytes")).toBe(true);
  });

  it("a half-close is passed on, and the trace says so", async () => {
    const target = await RawTarget.start(resources);
    const { port, events } = await startRelay(resources, target.port);
    const client = await rawClient(resources, port);
    await until(() => target.sockets.length === 1, "the relay to reach the target");
    client.socket.end(Buffer.from("bye"));
    await within(new Promise((resolve) => target.sockets[0]!.once("end", resolve)), 10_000, "the FIN at the target");
    expect(target.bytes(0).toString()).toBe("bye");
    target.sockets[0]!.end(Buffer.from("ok"));
    await until(() => client.closed(), "the client to close");
    expect(client.bytes().toString()).toBe("ok");
    await until(() => events.some((e) => e.type === "transport" && e.what === "closed"), "the closed event");
    expect(events.find((e) => e.type === "transport" && e.what === "closed")).toMatchObject({
      message: "closed: 3 bytes from the client, 2 from the server, forwarded",
    });
  });
});

describe("bad input is reported, forwarded, and never crashes the relay", () => {
  it("a target that refuses the connection", async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, HOST, resolve));
    const refusing = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const { port, events } = await startRelay(resources, refusing);
    for (let i = 0; i < 2; i++) {
      const client = await rawClient(resources, port);
      client.socket.write(upgradeRequest());
      await until(() => client.closed(), "the relay to close the client");
    }
    const errors = events.filter((e) => e.type === "transport" && e.what === "error");
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ side: "server", message: expect.stringContaining("ECONNREFUSED") });
  });

  it("a target that is an HTTP server, not WebSocket: the refusal and its body", async () => {
    const http = createHttpServer((_, res) => res.writeHead(404, { "Content-Type": "text/plain", "Content-Length": "12" }).end("no such page"));
    await new Promise<void>((resolve) => http.listen(0, HOST, resolve));
    resources.defer(() => new Promise((resolve) => http.close(resolve)));
    const { port, events } = await startRelay(resources, (http.address() as { port: number }).port);
    const client = await rawClient(resources, port);
    client.socket.write(upgradeRequest({ headers: { Connection: "Upgrade, close" } }));
    await until(() => client.closed(), "the HTTP server to close");
    expect(client.bytes().toString()).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[^]*no such page$/);
    const response = events.find((e): e is ResponseEvent => e.type === "response")!;
    expect(response).toMatchObject({ status: 404, accept: null, violations: [] });
    const body = events.find((e) => e.type === "bytes");
    expect(body).toMatchObject({ direction: "server", why: expect.stringMatching(/body of a 404/), payload: { shown: "no such page" } });
  });

  it("garbage from the client and from a target that is not HTTP", async () => {
    const target = await RawTarget.start(resources);
    const { port, events } = await startRelay(resources, target.port);
    const client = await rawClient(resources, port);
    const garbage = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]);
    client.socket.write(garbage);
    await until(() => target.bytes(0).length === garbage.length, "the garbage at the target");
    target.sockets[0]!.write("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    await until(() => client.bytes().length > 0, "the target's garbage at the client");
    expect(target.bytes(0)).toEqual(garbage);
    expect(client.bytes().toString()).toBe("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    const raw = events.filter((e) => e.type === "bytes");
    expect(raw.map((e) => [e.direction, e.why.replace(/:.*/, "")])).toEqual([
      ["client", "not an HTTP request"],
      ["server", "not an HTTP response"],
    ]);
  });

  it("a server that breaks the rules after a valid 101: each frame's violation, all forwarded", async () => {
    const target = await RawTarget.start(resources);
    const { port, events } = await startRelay(resources, target.port);
    const client = await rawClient(resources, port);
    const key = newKey();
    client.socket.write(upgradeRequest({ key }));
    await until(() => target.sockets.length === 1 && target.bytes(0).length > 0, "the request at the target");
    const reply = Buffer.concat([
      Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`),
      Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0x49, 0x67, 0x6f, 0x68, 0x6e]), // masked by a server
      Buffer.from([0xc1, 0x01, 0x61]), // RSV1 without deflate
    ]);
    target.sockets[0]!.write(reply);
    await until(() => client.bytes().length === reply.length, "the frames at the client");
    expect(client.bytes()).toEqual(reply);
    await until(() => events.filter((e) => e.type === "frame").length === 2, "two frame events");
    const frames = events.filter((e): e is FrameEvent => e.type === "frame");
    expect(frames.map((f) => f.violations.map((v) => v.rule))).toEqual([["RFC 6455 §5.1"], ["RFC 6455 §5.2"]]);
    expect(frames[0]!.payload.shown).toBe("Hello");
    const response = events.find((e): e is ResponseEvent => e.type === "response")!;
    expect(response.accept).toMatchObject({ matches: true, expected: acceptFor(key) });
  });
});

describe("permessage-deflate through the relay", () => {
  it("shows the agreed parameters, and each compressed message inflated beside its compressed size", async () => {
    const { port: echoPort } = await resources.server({ "/echo": echoRoute() }, { perMessageDeflate: true });
    const { port, events } = await startRelay(resources, echoPort);
    const ws = await connect(`ws://${HOST}:${port}/echo`, { perMessageDeflate: true });
    const text = "compress me, ".repeat(200);
    ws.send(text);
    expect(await within(ws.wait(), 10_000, "the echo")).toBe(text);
    ws.close(1000);
    await within(ws.closed, 10_000, "the close");
    const response = events.find((e): e is ResponseEvent => e.type === "response")!;
    expect(response.deflate).toMatchObject({ serverNoContextTakeover: true, clientNoContextTakeover: true });
    const data = events.filter((e): e is FrameEvent => e.type === "frame" && e.opcodeName === "text");
    expect(data.map((f) => f.direction)).toEqual(["client", "server"]);
    for (const frame of data) {
      expect(frame.rsv1).toBe(true);
      expect(frame.violations).toEqual([]);
      expect(frame.message).toMatchObject({ compressed: true, inflated: { size: text.length, payload: { kind: "text", shown: text.slice(0, 64) } } });
      expect(frame.message!.size).toBeLessThan(text.length / 4);
    }
    const all: TraceEvent[] = events;
    expect(all.every((e) => !("violations" in e) || e.violations.length === 0)).toBe(true);
  });
});
