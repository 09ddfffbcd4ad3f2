/**
 * `ws.sendFragmented(source)`: one message sent as a frame per piece as the pieces come
 * (RFC 6455 §5.4), read back frame by frame from the wire by a raw client: the frames'
 * FIN bits and opcodes, what may go between them (pings and pongs) and what may not
 * (other messages, which wait), and how a broken or closed stream ends; and a property:
 * any mix of fragmented messages, sends and pings arrives whole and in call order.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConnectionClosedError, connect } from "../../src/index.js";
import { OP } from "../support/frames.js";
import { type RawClient, KiB, Tap, echoRoute, useResources, within } from "../support/index.js";
import { checkSendMix, sendSteps } from "../support/send-mix.js";

const resources = useResources();

/** A frame as it went over the wire (a server's: unmasked). */
interface WireFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Collects what the server writes from now on, and cuts it into frames. */
function wireFrames(client: RawClient): () => WireFrame[] {
  const chunks: Buffer[] = [];
  client.socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  return () => {
    const bytes = Buffer.concat(chunks);
    const frames: WireFrame[] = [];
    for (let at = 0; at < bytes.length; ) {
      let length = bytes[at + 1]! & 0x7f;
      let start = at + 2;
      if (length === 126) {
        length = bytes.readUInt16BE(at + 2);
        start = at + 4;
      } else if (length === 127) {
        length = Number(bytes.readBigUInt64BE(at + 2));
        start = at + 10;
      }
      frames.push({ fin: (bytes[at]! & 0x80) !== 0, opcode: bytes[at]! & 0x0f, payload: bytes.subarray(start, start + length) });
      at = start + length;
    }
    return frames;
  };
}

/** Pieces given one by one: `next(piece)` yields one, `end()` ends the source, `fail(e)` makes it throw. */
function controlledSource<T>() {
  const waiting: Array<(result: IteratorResult<T> | Error) => void> = [];
  const ready: Array<IteratorResult<T> | Error> = [];
  const give = (result: IteratorResult<T> | Error): void => {
    const resolve = waiting.shift();
    if (resolve) resolve(result);
    else ready.push(result);
  };
  const source: AsyncIterable<T> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const result = ready.shift() ?? (await new Promise<IteratorResult<T> | Error>((resolve) => waiting.push(resolve)));
        if (result instanceof Error) throw result;
        return result;
      },
    }),
  };
  return {
    source,
    next: (value: T) => give({ value, done: false }),
    end: () => give({ value: undefined, done: true }),
    fail: (error: Error) => give(error),
  };
}

describe("ws.sendFragmented(): one message, a frame per piece (RFC 6455 §5.4)", () => {
  it("text pieces: a text frame, continuations, an empty final frame; pings and pongs go between, a send() waits", async () => {
    const { client, ws } = await resources.rawPair();
    const frames = wireFrames(client);
    const pieces = controlledSource<string>();
    const sending = ws.sendFragmented(pieces.source);
    pieces.next("Hel");
    expect(ws.send("after the message")).toBe(true); // waits behind it
    pieces.next("lo, ");
    client.ping("between"); // its pong goes between the fragments
    expect(await client.nextFrame()).toEqual({ type: "pong", data: Buffer.from("between") });
    void ws.ping("from the server");
    expect(await client.nextFrame()).toEqual({ type: "ping", data: Buffer.from("from the server") });
    pieces.next("wörld");
    pieces.end();
    await within(sending, 10_000, "sendFragmented() to resolve");
    expect(await client.nextFrame()).toEqual({ type: "text", data: "Hello, wörld" });
    expect(await client.nextFrame()).toEqual({ type: "text", data: "after the message" });

    const sent = frames().map(({ fin, opcode, payload }) => [fin, opcode, payload.toString()]);
    expect(sent).toEqual([
      [false, OP.TEXT, "Hel"],
      [false, OP.CONT, "lo, "],
      [true, OP.PONG, "between"],
      [true, OP.PING, "from the server"],
      [false, OP.CONT, "wörld"],
      [true, OP.CONT, ""],
      [true, OP.TEXT, "after the message"],
    ]);
  });

  it("byte pieces of any view make a binary message; an empty source sends nothing", async () => {
    const { client, ws } = await resources.rawPair();
    const memory = Uint8Array.from([9, 1, 2, 3, 4, 9]).buffer;
    await ws.sendFragmented([Buffer.from([0]), new Uint16Array(memory, 2, 1), new DataView(memory, 4, 1), memory.slice(1, 2)]);
    expect(await client.nextFrame()).toEqual({ type: "binary", data: Buffer.from([0, 2, 3, 4, 1]) });
    await ws.sendFragmented([]);
    ws.send("next");
    expect(await client.nextFrame()).toEqual({ type: "text", data: "next" });
  });

  it("a piece of the other kind is a TypeError and fails the connection with 1011: no broken message passes for whole", async () => {
    const { client, ws } = await resources.rawPair();
    await expect(ws.sendFragmented(["text", Buffer.from("bytes")])).rejects.toThrow(/a text message's pieces are all strings, got binary/);
    expect(await client.nextFrame()).toMatchObject({ type: "close", code: 1011 });
    expect(await within(ws.closed, 10_000, "closed")).toMatchObject({ code: 1011 });
  });

  it("what is not a source of pieces, or a first piece that is not one, only rejects: nothing was sent, the connection goes on", async () => {
    const { client, ws } = await resources.rawPair();
    for (const source of ["text", Buffer.from("bytes"), 42, null]) {
      await expect(ws.sendFragmented(source as unknown as string[])).rejects.toThrow(
        new TypeError("sendFragmented() takes an iterable or async iterable of pieces (strings or bytes); send() sends one string or buffer"),
      );
    }
    await expect(ws.sendFragmented([42 as unknown as string])).rejects.toThrow(/data must be a string, an ArrayBuffer or a view/);
    ws.send("still open");
    expect(await client.nextFrame()).toEqual({ type: "text", data: "still open" });
    await ws.sendFragmented(["and ", "streaming"]);
    expect(await client.nextFrame()).toEqual({ type: "text", data: "and streaming" });
  });

  it("a source that throws: its error, and 1011", async () => {
    const { client, ws } = await resources.rawPair();
    const pieces = controlledSource<Buffer>();
    const sending = ws.sendFragmented(pieces.source);
    pieces.next(Buffer.from("part"));
    pieces.fail(new Error("disk read failed"));
    await expect(sending).rejects.toThrow("disk read failed");
    expect(await client.nextFrame()).toMatchObject({ type: "close", code: 1011, reason: "a fragmented message was broken off" });
  });

  it("close() mid-message: the close frame goes between the fragments, what waited is dropped, and it rejects", async () => {
    const { client, ws } = await resources.rawPair();
    const frames = wireFrames(client);
    const pieces = controlledSource<string>();
    const sending = ws.sendFragmented(pieces.source);
    const rejected = expect(sending).rejects.toBeInstanceOf(ConnectionClosedError);
    pieces.next("unfinished");
    await new Promise((resolve) => setImmediate(resolve)); // the piece is taken and its frame written
    ws.send("would follow the message");
    ws.close(4000, "changed my mind");
    expect(await client.nextFrame()).toEqual({ type: "close", code: 4000, reason: "changed my mind" });
    pieces.next("too late");
    await rejected;
    client.sendClose(4000);
    expect(await within(ws.closed, 10_000, "closed")).toMatchObject({ code: 4000, wasClean: true });
    const sent = frames().map(({ fin, opcode }) => [fin, opcode]);
    expect(sent).toEqual([
      [false, OP.TEXT],
      [true, OP.CLOSE],
    ]);
  });

  it("messages sent while one is in fragments, another fragmented one too, follow it in the order they were sent", async () => {
    const { client, ws } = await resources.rawPair();
    const first = controlledSource<string>();
    const second = controlledSource<Buffer>();
    const sending = [ws.sendFragmented(first.source)];
    first.next("first, ");
    ws.send("a send() after the first");
    sending.push(ws.sendFragmented(second.source));
    second.next(Buffer.from("second, ")); // held behind the first message
    ws.send("a send() after the second");
    sending.push(ws.sendFragmented(["third"]));
    second.next(Buffer.from("done"));
    second.end(); // the second is complete before the first
    first.next("done");
    first.end();
    await within(Promise.all(sending), 10_000, "the three to be sent");
    expect(await client.nextFrame()).toEqual({ type: "text", data: "first, done" });
    expect(await client.nextFrame()).toEqual({ type: "text", data: "a send() after the first" });
    expect(await client.nextFrame()).toEqual({ type: "binary", data: Buffer.from("second, done") });
    expect(await client.nextFrame()).toEqual({ type: "text", data: "a send() after the second" });
    expect(await client.nextFrame()).toEqual({ type: "text", data: "third" });
  });

  it("waits while the peer does not read, and completes once it does", async () => {
    const { client, ws } = await resources.rawPair();
    client.socket.pause();
    let pulled = 0;
    const piece = Buffer.alloc(64 * KiB, 7);
    const total = 512; // 32 MiB, far more than the socket buffers and the high-water mark take
    const sending = ws.sendFragmented(
      (function* () {
        for (; pulled < total; pulled++) yield piece;
      })(),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stalledAt = pulled;
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Stalled: the kernel's buffers and the 1 MiB high-water mark hold some of it, not 32 MiB.
    expect(pulled, "pieces taken from the source while the peer reads nothing").toBe(stalledAt);
    expect(pulled).toBeLessThan(total);
    expect(ws.bufferedAmount).toBeLessThan(2 * 1024 * KiB);
    client.socket.resume();
    await within(sending, 20_000, "sendFragmented() to finish once the peer reads");
    const message = await client.nextFrame(20_000);
    expect(message.type).toBe("binary");
    expect((message as { data: Buffer }).data.length).toBe(total * piece.length);
  });

  it("property: any mix of fragmented messages (pieces given at once or over time), send() and ping() arrives whole, in call order", async () => {
    const tap = new Tap();
    const { url } = await resources.server({ "/tap": tap.route() }, { sendHighWaterMark: 4 * KiB });
    await fc.assert(
      fc.asyncProperty(sendSteps(fc.string({ maxLength: 3000 }), { maxPieces: 5, maxSteps: 8, pings: true }), async (steps) => {
        const client = await connect(url("/tap"));
        await checkSendMix(await tap.next(), client, steps);
      }),
      { numRuns: 40 },
    );
  });

  it("from the client too: masked fragments, which the server joins into one message", async () => {
    const { url } = await resources.server({ "/echo": echoRoute() });
    const ws = await connect(url("/echo"));
    await ws.sendFragmented(["a", "b", "c".repeat(70_000)]);
    expect(await within(ws.wait(), 10_000, "the echo")).toBe(`ab${"c".repeat(70_000)}`);
    ws.close();
    await ws.closed;
  });
});
