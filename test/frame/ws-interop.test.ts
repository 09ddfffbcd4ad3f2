/**
 * Differential tests against the `ws` package: its Sender's frames parse to the same
 * messages here, our frames are accepted by its Receiver with the same messages, and on
 * random frame sequences both parsers agree on every event and on the close code.
 *
 * `ws` only exports `./` (its `lib/*.js` files are not importable under its `exports`
 * map), but the ESM entry re-exports `Sender` and `Receiver`; `@types/ws` does not
 * declare them, hence the small interfaces below.
 */
import type { Writable } from "node:stream";
import fc from "fast-check";
import * as wsModule from "ws";
import { describe, expect, it } from "vitest";
import { encodeMessage, type Role } from "../../src/frame/index.js";
import {
  ROLES,
  concat,
  encodedStream,
  ev,
  expectedEvents,
  fragmentsOf,
  parseBytes,
  rawFrame,
  streamArb,
  unicodeStringArb,
  type FrameEvent,
  type StreamItem,
} from "./helpers.js";

interface FakeSocket {
  cork(): void;
  uncork(): void;
  write(chunk: Buffer | string, cb?: (error?: Error) => void): boolean;
}

interface WsSender {
  send(data: Buffer | string, options: { binary: boolean; fin: boolean; mask: boolean; compress: boolean }): void;
  ping(data: Buffer, mask: boolean): void;
  pong(data: Buffer, mask: boolean): void;
  close(code: number | undefined, reason: string | undefined, mask: boolean): void;
}

interface WsInternals {
  Sender: new (socket: FakeSocket, extensions?: object, generateMask?: (mask: Buffer) => void) => WsSender;
  Receiver: new (options: { isServer: boolean; maxPayload?: number }) => Writable;
}

const { Sender, Receiver } = wsModule as unknown as WsInternals;

/** `items` as ws's Sender writes them; `keys` are the masking keys it uses, in turn. */
function wsSenderStream(items: readonly StreamItem[], mask: boolean, keys: readonly Uint8Array[] = []): Buffer {
  const written: Buffer[] = [];
  const socket: FakeSocket = {
    cork() {},
    uncork() {},
    write(chunk, cb) {
      written.push(Buffer.from(chunk)); // a copy: ws may reuse its buffers
      cb?.();
      return true;
    },
  };
  let next = 0;
  const generateMask = keys.length === 0 ? undefined : (target: Buffer) => target.set(keys[next++ % keys.length]);
  const sender = new Sender(socket, {}, generateMask);
  const control = (item: { kind: "ping" | "pong"; data: Uint8Array }) =>
    item.kind === "ping" ? sender.ping(Buffer.from(item.data), mask) : sender.pong(Buffer.from(item.data), mask);
  for (const item of items) {
    if (item.kind === "message") {
      const fragments = fragmentsOf(item);
      fragments.forEach((fragment, i) => {
        const fin = i === fragments.length - 1;
        // An unfragmented text message goes in as a string, exercising ws's string path.
        const data = fragments.length === 1 && item.text !== undefined ? item.text : Buffer.from(fragment);
        sender.send(data, { binary: item.binary, fin, mask, compress: false });
        for (const between of item.between[i] ?? []) control(between);
      });
    } else if (item.kind === "close") {
      sender.close(item.code, item.code === undefined ? undefined : item.reason, mask);
    } else {
      control(item);
    }
  }
  return Buffer.concat(written);
}

interface WsResult {
  events: FrameEvent[];
  /** The close code ws fails the connection with, if it does. */
  errorCode?: number;
}

function statusCodeOf(error: Error): number | undefined {
  const symbol = Object.getOwnPropertySymbols(error).find((s) => s.description === "status-code");
  return symbol === undefined ? undefined : (error as unknown as Record<symbol, number>)[symbol];
}

/** Feeds `bytes` to a ws Receiver and collects what it reports. */
async function wsReceive(bytes: Uint8Array, isServer: boolean, maxPayload = 0): Promise<WsResult> {
  const receiver = new Receiver({ isServer, maxPayload });
  const result: WsResult = { events: [] };
  receiver.on("message", (data: Buffer, isBinary: boolean) => result.events.push(ev.message(data, isBinary)));
  receiver.on("ping", (data: Buffer) => result.events.push(ev.ping(data)));
  receiver.on("pong", (data: Buffer) => result.events.push(ev.pong(data)));
  receiver.on("conclude", (code: number, reason: Buffer) => result.events.push(ev.close(code, reason.toString("utf8"))));
  receiver.on("error", () => {}); // reported through the write callback below
  await new Promise<void>((resolve) => {
    receiver.write(Buffer.from(bytes), (error) => {
      if (error) result.errorCode = statusCodeOf(error);
      resolve();
    });
  });
  return result;
}

/** ws's Receiver role for frames that `role`'s parser would read. */
const isServer = (role: Role) => role === "server";

const keyArb = fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.constant(new Uint8Array(4)));

describe.each(ROLES)("ws interop, role %s", (role) => {
  const mask = role === "server";

  it("ws Sender → our parser: random streams give the modelled events", () => {
    fc.assert(
      fc.property(streamArb(), fc.array(keyArb, { maxLength: 3 }), (items, keys) => {
        const result = parseBytes(wsSenderStream(items, mask, keys), { role });
        expect(result.error).toBeUndefined();
        expect(result.events).toEqual(expectedEvents(items));
      }),
      { numRuns: 120 },
    );
  });

  it("our encoder → ws Receiver: random streams give the modelled events", async () => {
    await fc.assert(
      fc.asyncProperty(streamArb(), async (items) => {
        const result = await wsReceive(encodedStream(items, role), isServer(role));
        expect(result.errorCode).toBeUndefined();
        expect(result.events).toEqual(expectedEvents(items));
      }),
      { numRuns: 120 },
    );
  });

  it("large messages both ways (64-bit lengths, fragmented)", async () => {
    const data = Buffer.alloc(1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const text = "ünïcödé ✓ 😀 ".repeat(5000);
    const items: StreamItem[] = [
      { kind: "message", binary: true, data, cuts: [], between: [] },
      { kind: "message", binary: false, data: Buffer.from(text), cuts: [70_000, 100_000], between: [[{ kind: "ping", data: Buffer.from("x") }]] },
    ];
    const expected = expectedEvents(items);
    expect(parseBytes(wsSenderStream(items, mask), { role }).events).toEqual(expected);
    expect((await wsReceive(encodedStream(items, role), isServer(role))).events).toEqual(expected);
    const fragmented = concat(encodeMessage(data, { mask, fragmentSize: 100_000 }));
    expect((await wsReceive(fragmented, isServer(role))).events).toEqual([ev.binary(data)]);
  });
});

describe("ws interop: random frame sequences, valid or not", () => {
  const MAX_PAYLOAD = 300;

  /**
   * Frames with random header bits. Data payloads are valid UTF-8: ws checks UTF-8 only
   * when a message ends while this parser fails fast, so invalid text would make them
   * disagree on *when* (not whether) to fail. Control payloads are arbitrary.
   */
  const frameArb = fc
    .record({
      fin: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
      rsv: fc.oneof({ arbitrary: fc.constant(0), weight: 10 }, { arbitrary: fc.integer({ min: 1, max: 7 }), weight: 1 }),
      opcode: fc.oneof(
        { arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10), weight: 10 },
        { arbitrary: fc.integer({ min: 0, max: 15 }), weight: 1 },
      ),
      mask: fc.oneof({ arbitrary: fc.constant(true), weight: 10 }, { arbitrary: fc.constant(false), weight: 1 }),
      key: fc.uint8Array({ minLength: 4, maxLength: 4 }),
      text: unicodeStringArb(60),
      bytes: fc.uint8Array({ maxLength: 130, size: "max" }),
      closeCode: fc.oneof(fc.integer({ min: 0, max: 5100 }), fc.constantFrom(1000, 1005, 1015, 3000, 4999)),
    })
    .map(({ fin, rsv, opcode, mask, key, text, bytes, closeCode }) => {
      let payload: Uint8Array = Buffer.from(text);
      if (opcode === 8 && bytes.length % 3 !== 0) payload = concat([Uint8Array.of(closeCode >> 8, closeCode & 0xff), payload]);
      else if (opcode >= 8) payload = bytes;
      return { fin, rsv, opcode, mask, key, payload };
    });

  it.each(ROLES)("role %s: same events and same close code as ws's Receiver", async (role) => {
    await fc.assert(
      fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 8 }), async (specs) => {
        // Flip the mask expectation so that the common case is the valid one for the role.
        const frames = specs.map((spec) => rawFrame({ ...spec, mask: role === "server" ? spec.mask : !spec.mask }));
        const stream = concat(frames);
        const ours = parseBytes(stream, { role, maxPayload: MAX_PAYLOAD });
        const theirs = await wsReceive(stream, isServer(role), MAX_PAYLOAD);
        expect(ours.events).toEqual(theirs.events);
        const ourCode = ours.error === undefined ? undefined : (ours.error as { closeCode: number }).closeCode;
        expect(ourCode).toBe(theirs.errorCode);
      }),
      { numRuns: 200 },
    );
  });
});
