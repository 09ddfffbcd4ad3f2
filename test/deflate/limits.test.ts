/**
 * permessage-deflate at the edges (RFC 7692, RFC 6455): what a hostile or unusual client
 * sends, and what the server must do about it.
 *
 * - Zip bombs: `maxPayload` bounds the INFLATED message (RFC 6455 §10.4: implementations
 *   limit frame and message sizes; DESIGN.md: "a zip bomb ends at maxPayload"). 256 MiB
 *   of zeros deflate to about 255 KiB, well under a 1 MiB maxPayload on the wire: the
 *   server must stop inflating and fail the connection with 1009 (RFC 6455 §7.4.1),
 *   whole or fragmented, on the synchronous path and on the thread pool, without its
 *   memory growing by anything like the bomb.
 * - Corrupt DEFLATE data → 1007 (the message's data is not consistent with its type).
 * - RSV1 where RFC 7692 §6.1 does not allow it (a continuation, a control frame, no
 *   negotiation), and RSV2/RSV3 (RFC 6455 §5.2: no extension defines them) → 1002.
 * - Text that is not UTF-8 once inflated → 1007 (RFC 6455 §8.1).
 * - RFC 7692 §7.2.3's sender variants (fragments, stored blocks, BFINAL, two blocks, empty
 *   messages and fragments, a shared window) → accepted.
 *
 * Throughout, a second client (the witness) on the same server keeps getting its echoes
 * while the first one misbehaves: one bad peer disturbs no other.
 */
import zlib from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type DeflateClient,
  type DeflateServerOptions,
  connectDeflate,
  deflateMessage,
  failsToInflate,
  itStillServesCompressed,
  useDeflateServer,
} from "../conformance/deflate-harness.js";
import { close, cont, itStillServes, ping, pong } from "../conformance/harness.js";
import { type FrameSpec, OP, RSV1, RSV2, RSV3, delay, hex } from "../support/index.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const MAX_PAYLOAD = 1 * MiB;
/** How much the process's RSS may grow while a 256 MiB bomb is refused. */
const RSS_BOUND = 64 * MiB;
const OFFER = "permessage-deflate";
const BOMB_TIMEOUT_MS = 20_000;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** `size` zeros deflated (level 9: about 1/1030), streamed so that this process never holds them. */
async function zerosDeflated(size: number): Promise<Buffer> {
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => out.push(chunk));
  const zeros = Buffer.alloc(Math.min(size, MiB));
  for (let left = size; left > 0; left -= zeros.length) deflate.write(left >= zeros.length ? zeros : zeros.subarray(0, left));
  await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  deflate.close();
  const all = Buffer.concat(out);
  return all.subarray(0, all.length - 4); // 00 00 ff ff (RFC 7692 §7.2.1)
}

/** One compressed message's frames: RSV1 on the first only, cut every `size` bytes (0: whole). */
function compressedFrames(opcode: number, payload: Buffer, size = 0): FrameSpec[] {
  const frames: FrameSpec[] = [];
  const step = size > 0 ? size : Math.max(payload.length, 1);
  for (let at = 0; at === 0 || at < payload.length; at += step) {
    const end = Math.min(at + step, payload.length);
    frames.push({ opcode: at === 0 ? opcode : OP.CONT, rsv: at === 0 ? RSV1 : 0, fin: end >= payload.length, payload: payload.subarray(at, end) });
    if (end >= payload.length) break;
  }
  return frames;
}

/**
 * Runs `attack` while a witness client on the same server sends a compressible message and
 * waits for its echo, over and over: the witness must get every echo, during and after.
 */
async function withWitness<T>(port: number, attack: () => Promise<T>): Promise<T> {
  const witness = await connectDeflate(port, { offer: OFFER });
  expect(witness.deflate).toBeDefined();
  let stop = false;
  let echoes = 0;
  const loop = (async () => {
    for (let i = 0; !stop || echoes === 0; i++) {
      const message = Buffer.from(`witness message ${i}; `.repeat(100));
      await witness.sendMessage(OP.TEXT, message);
      await witness.expectEcho(OP.TEXT, message, { compressed: true, timeoutMs: 10_000 });
      echoes++;
      await delay(1);
    }
  })();
  loop.catch(() => {}); // awaited below
  try {
    return await attack();
  } finally {
    stop = true;
    await loop;
    await witness.closeHandshake();
  }
}

/** The next frames are a close with `code` (after no echo at all), then the end of TCP. */
async function sendExpectingClose(client: DeflateClient, frames: Array<FrameSpec | Uint8Array>, code: number, timeoutMs = 10_000): Promise<void> {
  // The server may fail the connection before it has read everything: send alongside.
  const sending = client.send(frames).catch(() => {});
  await client.expectClose(code, timeoutMs);
  await sending;
}

/**
 * The largest growth of this process's RSS while `fn` runs: sampled every 2 ms, and the
 * kernel's high-water mark (maxRSS) when it rose during `fn`.
 */
async function rssGrowth(fn: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().rss;
  const maxBefore = process.resourceUsage().maxRSS * 1024;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  const maxAfter = process.resourceUsage().maxRSS * 1024;
  if (maxAfter > maxBefore) peak = Math.max(peak, maxAfter);
  return peak - before;
}

// ---------------------------------------------------------------------------------------
// Zip bombs
// ---------------------------------------------------------------------------------------

let bomb256: Buffer; // 256 MiB of zeros, about 255 KiB deflated
let bomb16: Buffer; // 16 MiB of zeros, about 16 KiB deflated (under the default syncLimit)
let exactly: Buffer; // maxPayload zeros
let overByOne: Buffer; // maxPayload + 1 zeros
let halfPlus: Buffer; // 600 KiB of zeros: two of them are over the limit

beforeAll(async () => {
  bomb256 = await zerosDeflated(256 * MiB);
  bomb16 = await zerosDeflated(16 * MiB);
  exactly = await zerosDeflated(MAX_PAYLOAD);
  overByOne = await zerosDeflated(MAX_PAYLOAD + 1);
  halfPlus = await zerosDeflated(600 * KiB);
  expect(bomb256.length).toBeLessThan(MAX_PAYLOAD / 2); // the bomb passes the frame-size check
});

/** The servers the bombs are thrown at: the default thread-pool cut, all on the pool, all synchronous. */
const BOMB_SERVERS: Array<[string, DeflateServerOptions]> = [
  ["default syncLimit (64 KiB)", { perMessageDeflate: true, maxPayload: MAX_PAYLOAD }],
  ["syncLimit 0 (all on the thread pool)", { perMessageDeflate: { syncLimit: 0 }, maxPayload: MAX_PAYLOAD }],
  ["syncLimit 1 GiB (all synchronous)", { perMessageDeflate: { syncLimit: 1024 * MiB }, maxPayload: MAX_PAYLOAD }],
];

for (const [name, options] of BOMB_SERVERS) {
  describe(`zip bombs against maxPayload 1 MiB, ${name} → 1009, memory bounded`, () => {
    const server = useDeflateServer(options);

    const bombs: Array<{ title: string; frames: () => FrameSpec[]; measure?: boolean }> = [
      { title: "256 MiB of zeros in one binary frame (≈255 KiB on the wire)", frames: () => compressedFrames(OP.BINARY, bomb256), measure: true },
      { title: "256 MiB of zeros in 4 KiB fragments", frames: () => compressedFrames(OP.BINARY, bomb256, 4 * KiB), measure: true },
      { title: "256 MiB of zeros as text in 64 KiB fragments", frames: () => compressedFrames(OP.TEXT, bomb256, 64 * KiB), measure: true },
      { title: "16 MiB of zeros in one frame (≈16 KiB on the wire)", frames: () => compressedFrames(OP.BINARY, bomb16) },
      { title: "16 MiB of zeros in 1 KiB fragments", frames: () => compressedFrames(OP.BINARY, bomb16, KiB) },
      { title: "maxPayload + 1 zeros in one frame", frames: () => compressedFrames(OP.BINARY, overByOne) },
      { title: "maxPayload + 1 zeros in 100-byte fragments", frames: () => compressedFrames(OP.BINARY, overByOne, 100) },
      {
        title: "two compressed fragments of 600 KiB each (each under the limit, the message over)",
        frames: () => [
          // One deflate stream can be cut anywhere; here: two sync-flushed halves (§7.2.3.5).
          { opcode: OP.BINARY, rsv: RSV1, fin: false, payload: Buffer.concat([halfPlus, hex("0000ffff")]) },
          cont(halfPlus),
        ],
      },
    ];

    for (const bomb of bombs) {
      it(`${bomb.title} → 1009; the witness keeps its echoes${bomb.measure ? `; RSS grows < ${RSS_BOUND / MiB} MiB` : ""}`, async () => {
        const port = server().port;
        await withWitness(port, async () => {
          const client = await connectDeflate(port, { offer: OFFER });
          const frames = bomb.frames();
          const growth = await rssGrowth(() => sendExpectingClose(client, frames, 1009, BOMB_TIMEOUT_MS));
          if (bomb.measure) expect(growth, `RSS growth ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_BOUND);
        });
      }, 2 * BOMB_TIMEOUT_MS);
    }

    it("the same bomb four times in a row → 1009 each time, and RSS does not keep growing", async () => {
      const port = server().port;
      const growth = await rssGrowth(async () => {
        for (let i = 0; i < 4; i++) {
          const client = await connectDeflate(port, { offer: OFFER });
          await sendExpectingClose(client, compressedFrames(OP.BINARY, bomb256), 1009, BOMB_TIMEOUT_MS);
          client.destroy();
        }
      });
      expect(growth, `RSS growth ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_BOUND);
    }, 4 * BOMB_TIMEOUT_MS);

    it("exactly maxPayload inflated (1 MiB of zeros) → echoed, compressed", async () => {
      const port = server().port;
      await withWitness(port, async () => {
        const client = await connectDeflate(port, { offer: OFFER });
        await client.send(compressedFrames(OP.BINARY, exactly));
        await client.expectEcho(OP.BINARY, Buffer.alloc(MAX_PAYLOAD), { compressed: true, timeoutMs: 10_000 });
        // And again on the same connection: the limit is per message.
        await client.send(compressedFrames(OP.BINARY, exactly, 100));
        await client.expectEcho(OP.BINARY, Buffer.alloc(MAX_PAYLOAD), { compressed: true, timeoutMs: 10_000 });
        await client.closeHandshake();
      });
    });

    itStillServesCompressed(server);
  });
}

// ---------------------------------------------------------------------------------------
// Cases: frames in, expectations out
// ---------------------------------------------------------------------------------------

type Expectation = { echo: Uint8Array | string; opcode?: number } | { pong: string } | { close: number };

interface Case {
  title: string;
  frames: Array<FrameSpec | Uint8Array>;
  expect: Expectation[];
  /** The offer (default "permessage-deflate"); null: none. */
  offer?: string | null;
}

/** Runs a case on a fresh connection, with a witness alongside; ends with a closing handshake when it does not expect a close. */
async function runCase(port: number, c: Case): Promise<void> {
  await withWitness(port, async () => {
    const client = await connectDeflate(port, c.offer === null ? {} : { offer: c.offer ?? OFFER });
    const sending = client.send(c.frames).catch(() => {});
    for (const e of c.expect) {
      if ("echo" in e) await client.expectEcho(e.opcode ?? (typeof e.echo === "string" ? OP.TEXT : OP.BINARY), e.echo);
      else if ("pong" in e) await client.expectPong(e.pong);
      else await client.expectClose(e.close);
    }
    await sending;
    if (!c.expect.some((e) => "close" in e)) await client.closeHandshake();
  });
}

function itCases(getPort: () => number, cases: Case[]): void {
  for (const c of cases) it(c.title, () => runCase(getPort(), c));
}

const HELLO = hex("f2 48 cd c9 c9 07 00"); // "Hello" compressed (RFC 7692 §7.2.3.1)
const echoText = (payload: Uint8Array | string): Expectation => ({ echo: payload, opcode: OP.TEXT });
const echoBinary = (payload: Uint8Array | string): Expectation => ({ echo: payload, opcode: OP.BINARY });
const fails = (code: number): Expectation => ({ close: code });
const ctext = (payload: Uint8Array, extra: Partial<FrameSpec> = {}): FrameSpec => ({ opcode: OP.TEXT, rsv: RSV1, payload, ...extra });
const cbinary = (payload: Uint8Array, extra: Partial<FrameSpec> = {}): FrameSpec => ({ opcode: OP.BINARY, rsv: RSV1, payload, ...extra });

describe("on a server with permessage-deflate (maxPayload 1 MiB)", () => {
  const server = useDeflateServer({ perMessageDeflate: true, maxPayload: MAX_PAYLOAD });
  const port = (): number => server().port;

  // -------------------------------------------------------------------------------------
  describe("corrupt compressed data → 1007", () => {
    const longText = Buffer.from("the quick brown fox jumps over the lazy dog; ".repeat(200));
    const longDeflated = deflateMessage(longText);
    const corrupt: Array<[string, Buffer]> = [
      ["a block of the reserved type 3 (07)", hex("07")],
      ["a stored block whose LEN and NLEN disagree (00 05 00 00 00 ...)", hex("00 05 00 00 00 48 65 6c 6c 6f")],
      ["a back-reference before the start of the message (RFC 7692 §7.2.3.2's second message, alone)", hex("f2 00 11 00 00")],
      ["a dynamic block with an invalid code lengths set (04)", hex("04")],
      ["too many length or distance symbols (fc ff ff)", hex("fc ff ff")],
      ["a valid half message, then 32 bytes of ff", Buffer.concat([longDeflated.subarray(0, longDeflated.length >> 1), Buffer.alloc(32, 0xff)])],
    ];

    it("precondition: every corrupt payload really fails to inflate", () => {
      for (const [title, payload] of corrupt) expect(failsToInflate(payload), title).toBe(true);
    });

    const cases: Case[] = corrupt.flatMap(([title, payload]): Case[] => [
      { title: `text: ${title} → 1007`, frames: [ctext(payload)], expect: [fails(1007)] },
      { title: `binary: ${title} → 1007`, frames: [cbinary(payload)], expect: [fails(1007)] },
      {
        title: `after a good message, fragmented: ${title} → echo, then 1007`,
        frames: [ctext(HELLO), ...compressedFrames(OP.BINARY, payload, 2)],
        expect: [echoText("Hello"), fails(1007)],
      },
    ]);
    // A large corrupt message, over the syncLimit (inflated on the thread pool).
    const big = deflateMessage(Buffer.from(Array.from({ length: 200 * KiB }, (_, i) => (i * 7919) % 251)));
    const bigCorrupt = Buffer.concat([big.subarray(0, 100 * KiB), Buffer.alloc(64, 0xff)]);
    cases.push({ title: "a 100 KiB valid prefix, then garbage (thread-pool path) → 1007", frames: [cbinary(bigCorrupt)], expect: [fails(1007)] });
    itCases(port, cases);
  });

  // -------------------------------------------------------------------------------------
  describe("RSV bits where RFC 7692 §6.1 forbids them → 1002", () => {
    const cases: Case[] = [
      {
        title: "RSV1 on the first frame and on the continuation → 1002",
        frames: [ctext(hex("f2 48 cd"), { fin: false }), cont(hex("c9 c9 07 00"), { rsv: RSV1 })],
        expect: [fails(1002)],
      },
      {
        title: "an uncompressed first frame, RSV1 on the continuation → 1002",
        frames: [{ opcode: OP.TEXT, fin: false, payload: "Hel" }, cont("lo", { rsv: RSV1 })],
        expect: [fails(1002)],
      },
      { title: "a continuation with RSV1 and no message to continue → 1002", frames: [cont(HELLO, { rsv: RSV1 })], expect: [fails(1002)] },
      { title: "ping with RSV1 → 1002", frames: [ping("x", { rsv: RSV1 })], expect: [fails(1002)] },
      { title: "pong with RSV1 → 1002", frames: [pong("x", { rsv: RSV1 })], expect: [fails(1002)] },
      { title: "close (1000) with RSV1 → 1002", frames: [{ ...close(1000), rsv: RSV1 }], expect: [fails(1002)] },
      {
        title: "ping with RSV1 in the middle of a compressed fragmented message → 1002",
        frames: [ctext(hex("f2 48 cd"), { fin: false }), ping("x", { rsv: RSV1 }), cont(hex("c9 c9 07 00"))],
        expect: [fails(1002)],
      },
      ...([["RSV2", RSV2], ["RSV3", RSV3], ["RSV1+RSV2", RSV1 | RSV2], ["RSV1+RSV3", RSV1 | RSV3], ["RSV1+RSV2+RSV3", RSV1 | RSV2 | RSV3]] as const).flatMap(
        ([name, rsv]): Case[] => [
          { title: `text with ${name} → 1002`, frames: [{ opcode: OP.TEXT, rsv, payload: HELLO }], expect: [fails(1002)] },
          { title: `binary with ${name} → 1002`, frames: [{ opcode: OP.BINARY, rsv, payload: HELLO }], expect: [fails(1002)] },
          {
            title: `a continuation with ${name} → 1002`,
            frames: [ctext(hex("f2 48 cd"), { fin: false }), cont(hex("c9 c9 07 00"), { rsv })],
            expect: [fails(1002)],
          },
        ],
      ),
      {
        title: "after a good compressed message, a ping with RSV1 → echo, then 1002, and a ping after it is not answered",
        frames: [ctext(HELLO), ping("x", { rsv: RSV1 }), ping("too late")],
        expect: [echoText("Hello"), fails(1002)],
      },
      // RFC 6455 §5.2: without a negotiated extension, RSV1 is a protocol error.
      { title: "no offer: a text frame with RSV1 → 1002", offer: null, frames: [ctext(HELLO)], expect: [fails(1002)] },
      { title: "no offer: a binary frame with RSV1 → 1002", offer: null, frames: [cbinary(HELLO)], expect: [fails(1002)] },
      { title: "no offer: plain messages still echo", offer: null, frames: [{ opcode: OP.TEXT, payload: "plain" }], expect: [echoText("plain")] },
      { title: "only an invalid offer (declined): RSV1 → 1002", offer: "permessage-deflate; foo", frames: [ctext(HELLO)], expect: [fails(1002)] },
      { title: "x-webkit-deflate-frame offered (ignored): RSV1 → 1002", offer: "x-webkit-deflate-frame", frames: [ctext(HELLO)], expect: [fails(1002)] },
    ];
    itCases(port, cases);
  });

  // -------------------------------------------------------------------------------------
  describe("text that is not UTF-8 once inflated → 1007 (RFC 6455 §8.1)", () => {
    const INVALID: Array<[string, Buffer]> = [
      ["ff fe", hex("ff fe")],
      ["an overlong '/' (c0 af)", Buffer.concat([Buffer.from("valid prefix "), hex("c0 af")])],
      ["a surrogate (ed a0 80) after κόσμε", Buffer.concat([Buffer.from("κόσμε"), hex("ed a0 80"), Buffer.from("edited")])],
      ["a truncated sequence at the end (e2 82)", Buffer.concat([Buffer.from("euro: "), hex("e2 82")])],
      ["a code point above U+10FFFF (f4 90 80 80)", hex("f4 90 80 80")],
    ];
    const cases: Case[] = INVALID.flatMap(([title, bytes]): Case[] => [
      { title: `${title}, one frame → 1007`, frames: [ctext(deflateMessage(bytes))], expect: [fails(1007)] },
      { title: `${title}, compressed in 1-byte fragments → 1007`, frames: compressedFrames(OP.TEXT, deflateMessage(bytes), 1), expect: [fails(1007)] },
      { title: `${title} as binary → echoed (binary is not validated)`, frames: [cbinary(deflateMessage(bytes))], expect: [echoBinary(bytes)] },
    ]);
    // Large: the invalid byte at the very end of 64 KiB and of 256 KiB (the thread-pool path).
    for (const size of [64 * KiB, 256 * KiB]) {
      const bytes = Buffer.concat([Buffer.from("κόσμε ".repeat(size / 12)), hex("ff")]);
      cases.push({ title: `${bytes.length} B of valid text and a final ff → 1007`, frames: [ctext(deflateMessage(bytes))], expect: [fails(1007)] });
    }
    // Valid: multi-byte characters cut anywhere by the compressed fragments.
    const kosme = Buffer.from("κόσμε € 𝄞 ".repeat(300));
    cases.push(
      { title: "valid multi-byte text in 1-byte compressed fragments → echoed", frames: compressedFrames(OP.TEXT, deflateMessage(kosme), 1), expect: [echoText(kosme)] },
      { title: "valid multi-byte text in 7-byte compressed fragments → echoed", frames: compressedFrames(OP.TEXT, deflateMessage(kosme), 7), expect: [echoText(kosme)] },
    );
    itCases(port, cases);
  });

  // -------------------------------------------------------------------------------------
  describe("RFC 7692 §7.2.3 sender variants → accepted", () => {
    const hello = Buffer.from("Hello");
    const cases: Case[] = [
      { title: "§7.2.3.1 'Hello' in one frame (f2 48 cd c9 c9 07 00)", frames: [ctext(HELLO)], expect: [echoText(hello)] },
      {
        title: "§7.2.3.1 'Hello' in two fragments (f2 48 cd | c9 c9 07 00), RSV1 on the first only",
        frames: [ctext(hex("f2 48 cd"), { fin: false }), cont(hex("c9 c9 07 00"))],
        expect: [echoText(hello)],
      },
      { title: "§7.2.3.3 a stored block (00 05 00 fa ff 48 65 6c 6c 6f 00)", frames: [ctext(hex("00 05 00 fa ff 48 65 6c 6c 6f 00"))], expect: [echoText(hello)] },
      { title: "§7.2.3.4 a block with BFINAL set (f3 48 cd c9 c9 07 00)", frames: [ctext(hex("f3 48 cd c9 c9 07 00"))], expect: [echoText(hello)] },
      {
        title: "§7.2.3.5 two DEFLATE blocks in one message (f2 48 05 00 00 00 ff ff ca c9 c9 07 00)",
        frames: [ctext(hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"))],
        expect: [echoText(hello)],
      },
      { title: "§7.2.3.6 an empty message as 00", frames: [ctext(hex("00"))], expect: [echoText("")] },
      { title: "an empty message with an empty payload (RSV1, no bytes)", frames: [ctext(Buffer.alloc(0))], expect: [echoText("")] },
      { title: "an empty binary message as 00", frames: [cbinary(hex("00"))], expect: [echoBinary(Buffer.alloc(0))] },
      {
        title: "§7.2.3.6 empty fragments: an empty first frame, the data, an empty last frame",
        frames: [ctext(Buffer.alloc(0), { fin: false }), cont(HELLO, { fin: false }), cont(Buffer.alloc(0))],
        expect: [echoText(hello)],
      },
      {
        title: "RFC 6455 §5.4: a ping between the fragments of a compressed message → pong, then the message",
        frames: [ctext(hex("f2 48 cd"), { fin: false }), ping("between"), cont(hex("c9 c9 07 00"))],
        expect: [{ pong: "between" }, echoText(hello)],
      },
      {
        title: "three messages compressed each alone, back to back → three echoes in order",
        frames: [ctext(HELLO), cbinary(deflateMessage("second")), ctext(deflateMessage("third"))],
        expect: [echoText(hello), echoBinary("second"), echoText("third")],
      },
    ];
    // A large message in 1-byte compressed fragments (every boundary falls somewhere new).
    const large = Buffer.from("RFC 7692 message compression over many tiny fragments. ".repeat(180));
    cases.push({ title: `${large.length} B compressed and cut into 1-byte fragments → echoed`, frames: compressedFrames(OP.TEXT, deflateMessage(large), 1), expect: [echoText(large)] });
    // A message compressed at every level and strategy zlib has.
    for (const [name, options] of [
      ["level 0 (stored blocks only)", { level: 0 }],
      ["level 9", { level: 9 }],
      ["Z_HUFFMAN_ONLY", { strategy: zlib.constants.Z_HUFFMAN_ONLY }],
      ["Z_RLE", { strategy: zlib.constants.Z_RLE }],
      ["Z_FIXED (fixed Huffman codes)", { strategy: zlib.constants.Z_FIXED }],
      ["windowBits 9", { windowBits: 9 }],
    ] as const) {
      cases.push({ title: `a 4 KiB message deflated with ${name} → echoed`, frames: [cbinary(deflateMessage(large.subarray(0, 4096), options))], expect: [echoBinary(large.subarray(0, 4096))] });
    }
    itCases(port, cases);
  });

  itStillServesCompressed(server);
  itStillServes(server);
});

describe("§7.2.3.2 a shared sliding window, on a server that lets the client keep its context", () => {
  // clientNoContextTakeover: false, and no client_no_context_takeover in the offer: the
  // client may refer to its earlier messages (RFC 7692 §7.1.1.2).
  const server = useDeflateServer({ perMessageDeflate: { clientNoContextTakeover: false }, maxPayload: MAX_PAYLOAD });

  it("'Hello' then 'Hello' as f2 00 11 00 00 (a back-reference into the first message) → two echoes", async () => {
    await withWitness(server().port, async () => {
      const client = await connectDeflate(server().port, { offer: OFFER });
      expect(client.deflate!.clientNoContextTakeover).toBe(false);
      await client.send([ctext(HELLO), ctext(hex("f2 00 11 00 00"))]);
      await client.expectEcho(OP.TEXT, "Hello");
      await client.expectEcho(OP.TEXT, "Hello");
      await client.closeHandshake();
    });
  });

  it("100 messages from one context-takeover compressor (each referring to the ones before) → echoed in order", async () => {
    const client = await connectDeflate(server().port, { offer: OFFER, clientContextTakeover: true });
    for (let i = 0; i < 100; i++) {
      const message = Buffer.from(`{"seq":${i},"text":"the same words again and again, message after message"}`.repeat(1 + (i % 40)));
      await client.sendMessage(OP.TEXT, message);
      await client.expectEcho(OP.TEXT, message);
    }
    await client.closeHandshake();
  });

  it("a zip bomb spread over messages that share the window: each under the limit → all echoed", async () => {
    const client = await connectDeflate(server().port, { offer: OFFER, clientContextTakeover: true });
    const message = Buffer.alloc(900 * KiB, 0x61);
    for (let i = 0; i < 3; i++) {
      await client.sendMessage(OP.BINARY, message);
      await client.expectEcho(OP.BINARY, message, { timeoutMs: 10_000 });
    }
    await client.closeHandshake();
  });

  itStillServesCompressed(server);
});

describe("large compressed echoes (a send() over sendHighWaterMark waits for drained())", () => {
  const server = useDeflateServer({ perMessageDeflate: true });
  for (const size of [512 * KiB, 1 * MiB, 2 * MiB]) {
    it(`three ${size / KiB} KiB compressible messages on one connection → three compressed echoes`, async () => {
      const client = await connectDeflate(server().port, { offer: OFFER });
      for (let i = 0; i < 3; i++) {
        const message = Buffer.alloc(size, 0x30 + i);
        await client.sendMessage(OP.BINARY, message);
        await client.expectEcho(OP.BINARY, message, { compressed: true, timeoutMs: 5_000 });
      }
      await client.closeHandshake();
    });
  }
});

describe("a server with permessage-deflate off", () => {
  const server = useDeflateServer({ perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
  it("an offer gets no extension, and RSV1 then fails the connection with 1002", async () => {
    const client = await connectDeflate(server().port, { offer: OFFER });
    expect(client.extensionsHeader).toBeUndefined();
    await client.send([{ opcode: OP.TEXT, payload: "plain" }]);
    await client.expectEcho(OP.TEXT, "plain");
    await sendExpectingClose(client, [ctext(HELLO)], 1002);
  });
  itStillServes(server);
});
