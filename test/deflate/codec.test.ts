/**
 * The permessage-deflate codec on its own, both roles, no sockets: compress, frame, parse
 * (chunked anyhow), inflate, and the message comes back; and what it must refuse.
 */
import zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MessageDeflater, MessageInflater, deflateSettings } from "../../src/deflate/index.js";
import { FrameParser, ProtocolError, type Role, encodeMessage } from "../../src/frame/index.js";
import type { DeflateParams } from "../../src/http/index.js";

const other = (role: Role): Role => (role === "server" ? "client" : "server");

/** Cuts `bytes` into pieces at `cuts` (fractions of the length), as TCP may. */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const offsets = [...new Set(cuts.map((cut) => Math.floor(cut * bytes.length)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const offset of [...offsets, bytes.length]) {
    if (offset > start) pieces.push(Buffer.from(bytes.subarray(start, offset)));
    start = Math.max(start, offset);
  }
  return pieces;
}

interface Received {
  payload: Buffer;
  binary: boolean;
}

/**
 * One direction of a connection: `sender` compresses as `role` does, the peer parses and
 * inflates synchronously. Returns the messages the peer got.
 */
function transmit(
  params: DeflateParams,
  role: Role,
  messages: Array<string | Buffer>,
  options: { fragmentSize?: number; cuts?: number[]; threshold?: number } = {},
): Received[] {
  const settings = deflateSettings({ threshold: options.threshold ?? 0, syncLimit: Infinity });
  const deflater = new MessageDeflater(params, role, settings);
  const inflater = new MessageInflater(params, other(role), settings, 64 << 20);
  const received: Received[] = [];
  const parser = new FrameParser(
    {
      onMessage(payload, binary, compressed) {
        const message = compressed ? inflater.inflateSync(payload, !binary) : Buffer.from(payload);
        received.push({ payload: message, binary });
      },
      onPing() {},
      onPong() {},
      onClose() {},
    },
    { role: other(role), perMessageDeflate: true, maxPayload: 64 << 20 },
  );
  const wire: Buffer[] = [];
  for (const message of messages) {
    const bytes = typeof message === "string" ? Buffer.from(message) : message;
    const compressed = deflater.wants(bytes.length) ? deflater.compressSync(bytes) : undefined;
    const frames = encodeMessage(compressed ?? bytes, {
      mask: role === "client",
      compressed: compressed !== undefined,
      fragmentSize: options.fragmentSize,
    });
    // encodeMessage sends bytes as binary (opcode 2): a text message's first frame is 1.
    if (typeof message === "string") frames[0][0] ^= 0x3;
    wire.push(...frames);
  }
  for (const piece of chunk(Buffer.concat(wire), options.cuts ?? [])) parser.push(piece);
  deflater.close();
  inflater.close();
  return received;
}

const windowBits = fc.integer({ min: 9, max: 15 });
const params: fc.Arbitrary<DeflateParams> = fc.record({
  serverNoContextTakeover: fc.boolean(),
  clientNoContextTakeover: fc.boolean(),
  serverMaxWindowBits: windowBits,
  clientMaxWindowBits: windowBits,
});
/** Compressible and incompressible messages, text and binary, up to 64 KiB (1 MiB below). */
const message: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 2000 }),
  fc.string({ unit: fc.constantFrom("a", "b", "{", '"', ":", "é", "😀"), maxLength: 70_000 }),
  fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes)),
  fc.integer({ min: 0, max: 70_000 }).map((size) => Buffer.alloc(size, size % 7)),
);

function expectSame(received: Received[], sent: Array<string | Buffer>): void {
  expect(received).toHaveLength(sent.length);
  sent.forEach((message, i) => {
    expect(received[i].binary).toBe(typeof message !== "string");
    expect(received[i].payload.equals(typeof message === "string" ? Buffer.from(message) : message)).toBe(true);
  });
}

describe("round trip: compress, frame, parse, inflate (RFC 7692 §7.2)", () => {
  it("property: any messages, any parameters, either role, any fragmentation and chunking", () => {
    fc.assert(
      fc.property(
        params,
        fc.constantFrom<Role>("server", "client"),
        fc.array(message, { minLength: 1, maxLength: 6 }),
        fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        (agreed, role, messages, fragmentSize, cuts) => {
          expectSame(transmit(agreed, role, messages, { fragmentSize, cuts }), messages);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("1 MiB text and binary, with context takeover both ways and small windows", () => {
    const text = JSON.stringify(Array.from({ length: 30_000 }, (_, i) => ({ id: i, name: `user${i % 97}` }))).slice(0, 1 << 20);
    const binary = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 31) % 253));
    for (const bits of [9, 12, 15]) {
      const agreed = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: bits, clientMaxWindowBits: bits };
      for (const role of ["server", "client"] as const) {
        expectSame(transmit(agreed, role, [text, binary, text], { fragmentSize: 100_000, cuts: [0.1, 0.5, 0.51] }), [text, binary, text]);
      }
    }
  });

  it("empty messages, one after another, with context takeover: each is an empty stored block (§7.2.3.6)", () => {
    const agreed = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
    const messages = ["", Buffer.alloc(0), "", "after", Buffer.alloc(0), "after"];
    expectSame(transmit(agreed, "server", messages), messages);
    expectSame(transmit(agreed, "client", messages), messages);
  });

  it("a message below the threshold goes out uncompressed, and so does one that would not shrink", () => {
    const settings = deflateSettings({ threshold: 100 });
    const deflater = new MessageDeflater(
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      "server",
      settings,
    );
    expect(deflater.wants(99)).toBe(false);
    expect(deflater.wants(100)).toBe(true);
    const random = Buffer.from(Array.from({ length: 5000 }, () => Math.floor(Math.random() * 256)));
    expect(deflater.compressSync(random)).toBeUndefined();
    expect(deflater.compressSync(Buffer.alloc(5000))!.length).toBeLessThan(100);
  });

  it("with context takeover a fragmented message holds the window: what comes after waits, and once closed nothing makes a new engine", async () => {
    const deflater = new MessageDeflater(
      { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      "server",
      deflateSettings({ threshold: 0 }),
    );
    const engine = () => (deflater as unknown as { engine: unknown }).engine;
    const fragments = deflater.fragments()!;
    const first = await fragments.compress(Buffer.from("first piece"));
    expect(first.subarray(-4)).toEqual(Buffer.from([0, 0, 0xff, 0xff]));
    expect(deflater.isSync(10), "the window is the fragmented message's").toBe(false);
    const after: Array<Buffer | undefined> = [];
    deflater.compress(Buffer.from("sent meanwhile"), (compressed) => after.push(compressed));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(after, "waits for the fragmented message to end").toEqual([]);
    deflater.close();
    expect(engine()).toBeUndefined();
    fragments.end();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(after, "ends without compressing").toEqual([undefined]);
    expect(engine(), "no engine made after close()").toBeUndefined();
    await expect(deflater.fragments()!.compress(Buffer.from("late"))).rejects.toThrow(/closed/);
  });

  it("a 2^8 window is never compressed with (zlib cannot): plain messages only", () => {
    const deflater = new MessageDeflater(
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 8, clientMaxWindowBits: 15 },
      "server",
      deflateSettings({ threshold: 0 }),
    );
    expect(deflater.wants(10_000)).toBe(false);
  });
});

describe("what a deflater sends honours the agreed parameters (Autobahn 13.x)", () => {
  /** Data whose repeats lie far apart: a compressor with a larger window would reach them. */
  function farRepeats(distance: number): Buffer {
    const block = Buffer.from(Array.from({ length: distance + 100 }, (_, i) => (i * 7919) % 251));
    return Buffer.concat([block, block, block]);
  }

  it.each([9, 10, 12, 15])("server_max_window_bits=%i: each message inflates with a fresh inflater of that window", (bits) => {
    const deflater = new MessageDeflater(
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: bits, clientMaxWindowBits: 15 },
      "server",
      deflateSettings({ threshold: 0 }),
    );
    const data = farRepeats(1 << bits);
    for (let i = 0; i < 3; i++) {
      const compressed = deflater.compressSync(data)!;
      const inflated = zlib.inflateRawSync(Buffer.concat([compressed, Buffer.from([0, 0, 0xff, 0xff])]), {
        windowBits: bits,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      expect(inflated.equals(data)).toBe(true);
    }
  });

  it("with context takeover the second message refers back to the first (it is smaller)", () => {
    const deflater = new MessageDeflater(
      { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      "server",
      deflateSettings({ threshold: 0 }),
    );
    const data = Buffer.from(JSON.stringify({ user: "alice", text: "a message that repeats itself across messages" }));
    const first = deflater.compressSync(data)!;
    const second = deflater.compressSync(data)!;
    expect(second.length).toBeLessThan(first.length / 2);
    deflater.close();
  });
});

describe("inflation limits", () => {
  const agreed: DeflateParams = {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const bomb = zlib.deflateRawSync(Buffer.alloc(64 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH });

  function inflater(maxPayload: number, syncLimit = Infinity): MessageInflater {
    return new MessageInflater(agreed, "server", deflateSettings({ syncLimit }), maxPayload);
  }

  function expectProtocolError(run: () => unknown, code: number, message: RegExp): void {
    let error: unknown;
    try {
      run();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).closeCode).toBe(code);
    expect((error as ProtocolError).message).toMatch(message);
  }

  it("a zip bomb ends in 1009 once the output passes maxPayload, synchronously", () => {
    const started = performance.now();
    expectProtocolError(() => inflater(1 << 20).inflateSync(bomb, false), 1009, /limit of 1048576 bytes once inflated/);
    // 64 MiB would take far longer to inflate than the first 1 MiB does.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("a zip bomb ends in 1009 on the thread pool too", async () => {
    const error = await new Promise<ProtocolError | undefined>((resolve) =>
      inflater(1 << 20, 0).inflate(bomb, false, (failure) => resolve(failure)),
    );
    expect(error?.closeCode).toBe(1009);
  });

  it("corrupt data is 1007, synchronously and on the thread pool", async () => {
    const corrupt = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    expectProtocolError(() => inflater(1 << 20).inflateSync(corrupt, false), 1007, /invalid compressed data/);
    const error = await new Promise<ProtocolError | undefined>((resolve) =>
      inflater(1 << 20, 0).inflate(corrupt, false, (failure) => resolve(failure)),
    );
    expect(error?.closeCode).toBe(1007);
  });

  it("inflated text that is not UTF-8 is 1007, as is text cut inside a character", () => {
    const compress = (bytes: number[]): Buffer => {
      const out = zlib.deflateRawSync(Buffer.from(bytes), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      return out.subarray(0, out.length - 4);
    };
    expectProtocolError(() => inflater(1 << 20).inflateSync(compress([0x48, 0xc3, 0x28]), true), 1007, /not valid UTF-8/);
    expectProtocolError(() => inflater(1 << 20).inflateSync(compress([0x48, 0xe2, 0x82]), true), 1007, /inside a UTF-8/);
    // The same bytes as binary are fine.
    expect(inflater(1 << 20).inflateSync(compress([0x48, 0xc3, 0x28]), false)).toEqual(Buffer.from([0x48, 0xc3, 0x28]));
  });

  it("accepts what RFC 7692 §7.2.3 lets a sender do: stored blocks, BFINAL, empty payloads", () => {
    const inflate = (bytes: number[]): string => inflater(1 << 20).inflateSync(Buffer.from(bytes), true).toString();
    expect(inflate([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])).toBe("Hello"); // §7.2.3.1
    expect(inflate([0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00])).toBe("Hello"); // §7.2.3.4
    expect(inflate([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])).toBe("Hello"); // §7.2.3.3, BFINAL
    expect(inflate([0x00])).toBe(""); // §7.2.3.6, an empty message
    expect(inflate([])).toBe("");
  });

  it("context takeover goes on across a message that ended its DEFLATE stream (BFINAL)", () => {
    const takeover = { ...agreed, clientNoContextTakeover: false };
    const receiver = new MessageInflater(takeover, "server", deflateSettings({}), 1 << 20);
    // "Hello" with BFINAL, then "Hello" again as a back-reference to it (distance 5).
    expect(receiver.inflateSync(Buffer.from([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), true).toString()).toBe("Hello");
    expect(receiver.inflateSync(Buffer.from([0xf2, 0x00, 0x11, 0x00, 0x00]), true).toString()).toBe("Hello");
    receiver.close();
  });
});
