/**
 * Autobahn section 13 (WebSocket compression, different parameters), RFC 7692 §7.1: the
 * client offers each combination of (requestNoContextTakeover, requestMaxWindowBits) of
 * Autobahn's DEFLATE_PARAMS, and the multi-offer case, with the JSON data set cut into the
 * 18 message sizes of section 12. The server's answer is checked exactly, and then what
 * it sends is held to it: the client inflates every compressed message with a FRESH
 * inflater when server_no_context_takeover was agreed (§7.1.1.1) and with a window of
 * server_max_window_bits bits (§7.1.2.1), so a server that used more history than agreed
 * sends data that does not inflate.
 *
 * Bounded as section 12: Autobahn's 1000 messages per case are sent up to 128 KiB of
 * payload, fewer above (at least 4); every size and fragment size is kept.
 *
 * Then the negotiation itself (RFC 7692 §5, §7.1): offers the server must decline (and
 * take the next one), offers it must ignore (other extensions), what the answer may and
 * may not contain, the server's policy options, and the per-route option.
 */
import { randomBytes } from "node:crypto";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { echo, echoRoute } from "../../src/apps/echo.js";
import { type PerMessageDeflateOptions, requireWebSocket } from "../../src/server/index.js";
import {
  DEFAULT_THRESHOLD,
  DEFLATE_TAIL,
  type DeflateClient,
  type DeflateServerOptions,
  MSG_SIZES,
  TEST_DATA,
  autobahnOffer,
  boundedCount,
  connectDeflate,
  echoSeries,
  fmtSize,
  itStillServesCompressed,
  paramsObject,
  ringSlices,
  useDeflateServer,
} from "./deflate-harness.js";
import { itStillServes } from "./harness.js";
import { OP } from "../support/index.js";

const BUDGET = 128 * 1024;
const MIN_MESSAGES = 4;
const CASE_TIMEOUT_MS = 20_000;

/** Autobahn's TEST_DATA for section 13: the JSON file, as text. */
const JSON_DATA = TEST_DATA[0];

type Params = Record<string, string | true>;
const SNCT = { server_no_context_takeover: true } as const;
const CNCT = { client_no_context_takeover: true } as const;

/**
 * Autobahn's DEFLATE_PARAMS: the offers as (requestNoContextTakeover, requestMaxWindowBits)
 * pairs; every offer also carries client_no_context_takeover and a valueless
 * client_max_window_bits (autobahn's defaults acceptNoContextTakeover/acceptMaxWindowBits).
 */
const DEFLATE_PARAMS: Array<{ id: string; offers: Array<[boolean, number]> }> = [
  { id: "13.1", offers: [[false, 0]] },
  { id: "13.2", offers: [[true, 0]] },
  { id: "13.3", offers: [[false, 8]] },
  { id: "13.4", offers: [[false, 15]] },
  { id: "13.5", offers: [[true, 8]] },
  { id: "13.6", offers: [[true, 15]] },
  { id: "13.7", offers: [[true, 8], [true, 0], [false, 0]] },
];

/**
 * The answer RFC 7692 §7.1 and the server's policy give to the first offer: the client's
 * client_no_context_takeover is confirmed; server_no_context_takeover when offered or when
 * the policy asks for it; server_max_window_bits confirmed when offered (min of offer and
 * policy); the valueless client_max_window_bits means 15, which is not written back.
 */
function expectedAnswer([noContext, windowBits]: [boolean, number], serverNoContextTakeoverPolicy: boolean): Params {
  return {
    ...(noContext || serverNoContextTakeoverPolicy ? SNCT : {}),
    ...CNCT,
    ...(windowBits !== 0 ? { server_max_window_bits: String(windowBits) } : {}),
  };
}

/** Runs the 7 × 18 Autobahn cases against the server of `getServer`. */
function autobahnSection13(getServer: () => { port: number }, serverNoContextTakeoverPolicy: boolean, sizes = MSG_SIZES): void {
  for (const { id, offers } of DEFLATE_PARAMS) {
    const offer = offers.map(([noContext, bits]) => autobahnOffer(noContext, bits)).join(", ");
    const answer = expectedAnswer(offers[0], serverNoContextTakeoverPolicy);
    const windowBits = offers[0][1] === 0 ? 15 : offers[0][1];
    describe(`${id} offers ${JSON.stringify(offers)} → ${JSON.stringify(answer)}`, () => {
      sizes.forEach(([length, count, , fragment]) => {
        const index = MSG_SIZES.findIndex(([l, , , f]) => l === length && f === fragment) + 1;
        const n = boundedCount(length, count, BUDGET, MIN_MESSAGES);
        it(
          `${id}.${index} ${n}${n < count ? ` (of ${count})` : ""} messages of ${fmtSize(length)}, ` +
            `auto-fragment ${fragment === 0 ? "off" : `to ${fmtSize(fragment)}`} → answer as expected, echoes inflate as agreed`,
          async () => {
            const client = await connectDeflate(getServer().port, { offer });
            expect(paramsObject(client.deflateResponse!)).toEqual(answer);
            const result = await echoSeries(client, OP.TEXT, ringSlices(JSON_DATA.bytes(), length, n), {
              fragmentSize: fragment,
              threshold: DEFAULT_THRESHOLD,
            });
            // With an 8-bit window the server sends its messages uncompressed (zlib cannot
            // deflate within 256 bytes); RSV1 = 0 is always allowed (RFC 7692 §6).
            if (windowBits === 8) expect(result.receivedCompressed, "compressed echoes with an 8-bit window").toBe(0);
            await client.closeHandshake();
          },
          CASE_TIMEOUT_MS,
        );
      });
    });
  }
}

// ---------------------------------------------------------------------------------------

describe("13.1-13.7 against the default server (perMessageDeflate: true)", () => {
  const server = useDeflateServer({ perMessageDeflate: true });
  autobahnSection13(server, true);
  itStillServesCompressed(server);
  itStillServes(server);
});

describe("13.1-13.7 against a context-takeover server (server/clientNoContextTakeover: false)", () => {
  const server = useDeflateServer({ perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false } });
  // Fewer sizes here: one of each kind (small, at the threshold, large, fragmented).
  const sizes = MSG_SIZES.filter(
    ([length, , , fragment]) =>
      (fragment === 0 && [16, 1024, 65536].includes(length)) ||
      (length === 8192 && fragment === 256) ||
      (length === 131072 && fragment === 4096),
  );
  autobahnSection13(server, false, sizes);

  it("13.x.t both sides keep their context (offer: client_max_window_bits only) → answer {}, echoes inflate with one inflater", async () => {
    const client = await connectDeflate(server().port, { offer: "permessage-deflate; client_max_window_bits" });
    expect(paramsObject(client.deflateResponse!)).toEqual({});
    const result = await echoSeries(client, OP.TEXT, ringSlices(JSON_DATA.bytes(), 4096, 64), { threshold: DEFAULT_THRESHOLD });
    expect(result.receivedCompressed).toBe(64);
    // With context takeover the later messages reference the earlier ones: the ratio improves.
    expect(result.receivedWire, "context takeover shrinks the stream").toBeLessThan(zlibAlone(JSON_DATA.bytes(), 4096, 64));
    await client.closeHandshake();
  });

  itStillServesCompressed(server);
});

/** Bytes the 64 messages take when each is compressed alone at level 1 (no context takeover). */
function zlibAlone(data: Buffer, length: number, count: number): number {
  let total = 0;
  for (const message of ringSlices(data, length, count)) {
    total += zlib.deflateRawSync(message, { level: 1, finishFlush: zlib.constants.Z_SYNC_FLUSH }).length - 4;
  }
  return total;
}

// ---------------------------------------------------------------------------------------
// Do the server's messages honour what it agreed to?
// ---------------------------------------------------------------------------------------

/**
 * A message that a compressor with a window of 2^bits bytes compresses well (S S: the
 * repeat is 2^(bits-2) back, within zlib's reach of 2^bits - 262), but in which a wider
 * window finds matches further back than 2^bits + 64 (the S S at the end repeats the one
 * at the start): the output of a compressor that used a wider window than agreed fails to
 * inflate with `bits`. 2^(bits+1) bytes: 1024 (the threshold) for 9 bits.
 */
function windowProbe(bits: number): Buffer {
  const s = randomBytes(2 ** (bits - 2));
  const r = randomBytes(2 ** bits);
  return Buffer.concat([s, s, r, s, s]);
}

/** As the harness inflates: strictly within the window (see STRICT_CHUNK in deflate-harness.ts). */
function inflatesWith(compressed: Buffer, windowBits: number): boolean {
  try {
    zlib.inflateRawSync(Buffer.concat([compressed, DEFLATE_TAIL]), { windowBits, chunkSize: 64, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    return true;
  } catch {
    return false;
  }
}

describe("13.h the server's messages honour the agreed parameters", () => {
  const server = useDeflateServer({ perMessageDeflate: true });

  for (let bits = 9; bits <= 15; bits++) {
    it(`server_max_window_bits=${bits}: a probe message comes back compressed, inflating with a ${2 ** bits}-byte window (§7.1.2.1)`, async () => {
      const probe = windowProbe(bits);
      // The probe discriminates: what a 15-bit compressor makes of it needs the wider window.
      const wide = zlib.deflateRawSync(probe, { level: 1, finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
      if (bits < 15) expect(inflatesWith(wide, bits), "the probe needs a wide window when compressed with one").toBe(false);
      const client = await connectDeflate(server().port, { offer: `permessage-deflate; server_max_window_bits=${bits}` });
      expect(client.deflate!.serverMaxWindowBits).toBe(bits);
      // The client's inflater has windowBits = bits: a wider-window message fails in it.
      await client.sendMessage(OP.BINARY, probe);
      await client.expectEcho(OP.BINARY, probe, { compressed: true });
      await client.closeHandshake();
    });
  }

  it("server_max_window_bits=8: messages come back uncompressed (zlib cannot deflate with a 256-byte window), RSV1 = 0 (§6)", async () => {
    const client = await connectDeflate(server().port, { offer: "permessage-deflate; server_max_window_bits=8" });
    expect(client.deflate!.serverMaxWindowBits).toBe(8);
    for (const size of [1024, 4096, 65536]) {
      const message = Buffer.from("abcdefgh".repeat(size / 8));
      await client.sendMessage(OP.TEXT, message);
      await client.expectEcho(OP.TEXT, message, { compressed: false });
    }
    await client.closeHandshake();
  });

  for (const offer of ["permessage-deflate; server_no_context_takeover", "permessage-deflate"]) {
    it(`server_no_context_takeover (${offer.includes("server_no") ? "offered" : "the default policy"}): the same message twice → each inflates alone, neither refers to the other (§7.1.1.1)`, async () => {
      const half = randomBytes(2048);
      const message = Buffer.concat([half, half]); // compresses to about half on its own
      const client = await connectDeflate(server().port, { offer });
      expect(client.deflate!.serverNoContextTakeover).toBe(true);
      await client.sendMessage(OP.BINARY, message);
      const first = await client.expectEcho(OP.BINARY, message, { compressed: true });
      await client.sendMessage(OP.BINARY, message);
      // Inflated with a fresh inflater (the harness does); a server that kept its context
      // would have sent little more than one back-reference to the first message.
      const second = await client.expectEcho(OP.BINARY, message, { compressed: true });
      expect(second.wireLength).toBeGreaterThan(first.wireLength / 2);
      await client.closeHandshake();
    });
  }

  it("client_max_window_bits=9 agreed: the client compresses with a 512-byte window and the server inflates it", async () => {
    const client = await connectDeflate(server().port, { offer: "permessage-deflate; client_max_window_bits=9" });
    expect(client.deflate!.clientMaxWindowBits).toBe(9);
    const message = windowProbe(9);
    await client.sendMessage(OP.BINARY, message);
    await client.expectEcho(OP.BINARY, message);
    await client.closeHandshake();
  });

  it("client_max_window_bits=8 agreed: the client sends Huffman-only DEFLATE (no back-references) and the server inflates it", async () => {
    const client = await connectDeflate(server().port, { offer: "permessage-deflate; client_max_window_bits=8" });
    expect(client.deflate!.clientMaxWindowBits).toBe(8);
    const message = Buffer.from("eeeeeeeeaaaaaaaaoooooooo".repeat(100));
    await client.sendMessage(OP.TEXT, message);
    await client.expectEcho(OP.TEXT, message);
    await client.closeHandshake();
  });

  itStillServesCompressed(server);
});

// ---------------------------------------------------------------------------------------
// Negotiation (RFC 7692 §5, §7.1)
// ---------------------------------------------------------------------------------------

/** What the default server answers to a bare, valid offer. */
const DEFAULT_ANSWER: Params = { ...SNCT, ...CNCT };

interface NegotiationCase {
  title: string;
  offer: string | string[];
  /** The answer's parameters, or null: no Sec-WebSocket-Extensions in the 101. */
  answer: Params | null;
}

const declined = (param: string): NegotiationCase => ({
  title: `${param} → declined, the next offer (server_max_window_bits=10) taken`,
  offer: `permessage-deflate; ${param}, permessage-deflate; server_max_window_bits=10`,
  answer: { ...DEFAULT_ANSWER, server_max_window_bits: "10" },
});

const NEGOTIATION: Array<{ group: string; cases: NegotiationCase[] }> = [
  {
    group: "valid offers",
    cases: [
      { title: "bare permessage-deflate → the policy's no-context-takeover pair", offer: "permessage-deflate", answer: DEFAULT_ANSWER },
      { title: "client_max_window_bits without a value → not written back (it would be 15)", offer: "permessage-deflate; client_max_window_bits", answer: DEFAULT_ANSWER },
      { title: "client_max_window_bits=10 → confirmed as 10 (§7.1.2.2)", offer: "permessage-deflate; client_max_window_bits=10", answer: { ...DEFAULT_ANSWER, client_max_window_bits: "10" } },
      { title: "client_max_window_bits=15 (with a value) → confirmed as 15", offer: "permessage-deflate; client_max_window_bits=15", answer: { ...DEFAULT_ANSWER, client_max_window_bits: "15" } },
      ...[8, 9, 12, 15].map((bits) => ({
        title: `server_max_window_bits=${bits} → confirmed as ${bits} (§7.1.2.1)`,
        offer: `permessage-deflate; server_max_window_bits=${bits}`,
        answer: { ...DEFAULT_ANSWER, server_max_window_bits: String(bits) },
      })),
      {
        title: "all four parameters → all confirmed",
        offer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12",
        answer: { ...DEFAULT_ANSWER, server_max_window_bits: "11", client_max_window_bits: "12" },
      },
      {
        title: 'a quoted value, server_max_window_bits="10" → 10 (RFC 6455 §9.1: a quoted value is its unquoted token)',
        offer: 'permessage-deflate; server_max_window_bits="10"',
        answer: { ...DEFAULT_ANSWER, server_max_window_bits: "10" },
      },
      { title: "whitespace around ; and = → accepted", offer: "permessage-deflate ;server_max_window_bits = 10 ;  client_max_window_bits", answer: { ...DEFAULT_ANSWER, server_max_window_bits: "10" } },
      { title: "two valid offers → the first one taken", offer: "permessage-deflate; server_max_window_bits=9, permessage-deflate; server_max_window_bits=10", answer: { ...DEFAULT_ANSWER, server_max_window_bits: "9" } },
      { title: "offers in two header lines → one list, the first valid taken", offer: ["permessage-deflate; foo", "permessage-deflate; server_max_window_bits=11"], answer: { ...DEFAULT_ANSWER, server_max_window_bits: "11" } },
    ],
  },
  {
    group: "invalid offers are declined and the next one considered (§5, §7.1)",
    cases: [
      declined("foo"),
      declined("foo=1"),
      declined("client_max_window"),
      declined("server_max_window_bits=9; server_max_window_bits=9"),
      declined("server_no_context_takeover; server_no_context_takeover"),
      declined("client_max_window_bits; client_max_window_bits=9"),
      declined("server_max_window_bits"),
      ...["7", "16", "08", "0", "abc", "9.0", "+9", "-9", "1e1", "015"].map((v) => declined(`server_max_window_bits=${v}`)),
      ...["7", "16", "08", "abc"].map((v) => declined(`client_max_window_bits=${v}`)),
      declined("client_no_context_takeover=1"),
      declined("server_no_context_takeover=true"),
      // (An empty quoted value, `=""`, is not a token: the header itself is malformed
      // (RFC 6455 §9.1) and the handshake fails with 400; that is test/http's business.)
    ],
  },
  {
    group: "only invalid offers → no extension (the 101 has no Sec-WebSocket-Extensions)",
    cases: [
      { title: "unknown parameter", offer: "permessage-deflate; foo", answer: null },
      { title: "server_max_window_bits=16", offer: "permessage-deflate; server_max_window_bits=16", answer: null },
      { title: "server_max_window_bits without a value", offer: "permessage-deflate; server_max_window_bits", answer: null },
      { title: "three invalid offers", offer: "permessage-deflate; a, permessage-deflate; client_max_window_bits=7, permessage-deflate; client_no_context_takeover=x", answer: null },
    ],
  },
  {
    group: "other extensions are ignored (RFC 6455 §9.1: the server answers only what it supports)",
    cases: [
      { title: "x-webkit-deflate-frame alone → none", offer: "x-webkit-deflate-frame", answer: null },
      { title: "deflate-frame; max_window_bits=10 alone → none", offer: "deflate-frame; max_window_bits=10", answer: null },
      { title: "x-webkit-deflate-frame, then permessage-deflate → permessage-deflate only", offer: "x-webkit-deflate-frame, permessage-deflate", answer: DEFAULT_ANSWER },
      { title: "an unknown extension with parameters, then permessage-deflate", offer: "foo; bar=1; baz, permessage-deflate; client_max_window_bits", answer: DEFAULT_ANSWER },
      { title: "permessage-deflate, then an unknown extension → permessage-deflate only", offer: "permessage-deflate; server_max_window_bits=12, x-foo", answer: { ...DEFAULT_ANSWER, server_max_window_bits: "12" } },
    ],
  },
];

/**
 * After the handshake, the connection works as negotiated: a 2 KiB message compressed
 * (or plain when nothing was agreed) is echoed, compressed when it was agreed with a
 * window over 8 bits, and the closing handshake completes.
 */
async function roundTrip(client: DeflateClient): Promise<void> {
  const message = Buffer.from("negotiated and compressible; ".repeat(72));
  await client.sendMessage(OP.TEXT, message);
  const agreed = client.deflate !== undefined && client.deflate.serverMaxWindowBits > 8;
  await client.expectEcho(OP.TEXT, message, { compressed: agreed });
  await client.closeHandshake();
}

describe("13.n negotiation (RFC 7692 §5, §7.1) against the default server", () => {
  const server = useDeflateServer({ perMessageDeflate: true });
  for (const { group, cases } of NEGOTIATION) {
    describe(group, () => {
      for (const c of cases) {
        it(`${c.title}  [${[c.offer].flat().join(" | ")}]`, async () => {
          const client = await connectDeflate(server().port, { offer: c.offer });
          if (c.answer === null) {
            expect(client.extensionsHeader).toBeUndefined();
          } else {
            expect(client.extensions.map((e) => e.name), "only permessage-deflate answered").toEqual(["permessage-deflate"]);
            expect(paramsObject(client.deflateResponse!)).toEqual(c.answer);
          }
          await roundTrip(client);
        });
      }
    });
  }
  itStillServes(server);
});

describe("13.p the server's policy options shape the answer", () => {
  const cases: Array<{ policy: PerMessageDeflateOptions; offer: string; answer: Params }> = [
    { policy: { serverNoContextTakeover: false, clientNoContextTakeover: false }, offer: "permessage-deflate", answer: {} },
    { policy: { serverNoContextTakeover: false, clientNoContextTakeover: false }, offer: "permessage-deflate; client_max_window_bits", answer: {} },
    { policy: { serverNoContextTakeover: false, clientNoContextTakeover: false }, offer: "permessage-deflate; server_no_context_takeover", answer: SNCT },
    { policy: { serverNoContextTakeover: false, clientNoContextTakeover: false }, offer: "permessage-deflate; client_no_context_takeover", answer: CNCT },
    { policy: { serverNoContextTakeover: false }, offer: "permessage-deflate", answer: CNCT },
    { policy: { clientNoContextTakeover: false }, offer: "permessage-deflate", answer: SNCT },
    {
      policy: { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      offer: "permessage-deflate; server_max_window_bits=12; client_max_window_bits",
      answer: { ...DEFAULT_ANSWER, server_max_window_bits: "10", client_max_window_bits: "9" },
    },
    {
      policy: { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      offer: "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12",
      answer: { ...DEFAULT_ANSWER, server_max_window_bits: "9", client_max_window_bits: "9" },
    },
    {
      policy: { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      offer: "permessage-deflate; client_max_window_bits=8",
      answer: { ...DEFAULT_ANSWER, client_max_window_bits: "8" },
    },
    // §7.1.2.2: no client_max_window_bits in the offer, none in the answer, whatever the policy.
    { policy: { serverMaxWindowBits: 10, clientMaxWindowBits: 9 }, offer: "permessage-deflate", answer: DEFAULT_ANSWER },
    { policy: { serverMaxWindowBits: 8 }, offer: "permessage-deflate; server_max_window_bits=15", answer: { ...DEFAULT_ANSWER, server_max_window_bits: "8" } },
  ];
  // One server per distinct policy.
  const policies = [...new Set(cases.map((c) => JSON.stringify(c.policy)))];
  for (const policyJson of policies) {
    describe(`perMessageDeflate: ${policyJson}`, () => {
      const server = useDeflateServer({ perMessageDeflate: JSON.parse(policyJson) as PerMessageDeflateOptions });
      for (const c of cases.filter((c) => JSON.stringify(c.policy) === policyJson)) {
        it(`[${c.offer}] → ${JSON.stringify(c.answer)}, and messages flow both ways as agreed`, async () => {
          const client = await connectDeflate(server().port, { offer: c.offer });
          expect(paramsObject(client.deflateResponse!)).toEqual(c.answer);
          // Several messages, so that a context kept (or wrongly kept) across them shows.
          const messages = [...ringSlices(JSON_DATA.bytes(), 3000, 6)];
          await echoSeries(client, OP.TEXT, messages, { threshold: DEFAULT_THRESHOLD });
          await client.closeHandshake();
        });
      }
    });
  }
});

describe("13.r perMessageDeflate per server and per route", () => {
  const OFFER = "permessage-deflate; server_max_window_bits=12";
  const echoWith = (perMessageDeflate: boolean | PerMessageDeflateOptions) =>
    requireWebSocket(({ websocket }) => echo(websocket), { perMessageDeflate });

  describe("server default (option omitted): off", () => {
    const server = useDeflateServer({});
    it("an offer gets no extension; plain messages echo", async () => {
      const client = await connectDeflate(server().port, { offer: OFFER });
      expect(client.extensionsHeader).toBeUndefined();
      await roundTrip(client);
    });
  });

  const routes: DeflateServerOptions["routes"] = (s) => {
    s.route("/on", echoWith(true))
      .route("/narrow", echoWith({ serverMaxWindowBits: 9 }))
      .route("/off", echoWith(false))
      .route("*", echoRoute());
  };

  describe("server off, routes on", () => {
    const server = useDeflateServer({ perMessageDeflate: false, routes });
    const table: Array<[string, Params | null]> = [
      ["/", null],
      ["/off", null],
      ["/on", { ...DEFAULT_ANSWER, server_max_window_bits: "12" }],
      ["/narrow", { ...DEFAULT_ANSWER, server_max_window_bits: "9" }],
    ];
    for (const [path, answer] of table) {
      it(`${path} → ${answer === null ? "no extension" : JSON.stringify(answer)}`, async () => {
        const client = await connectDeflate(server().port, { offer: OFFER, path });
        if (answer === null) expect(client.extensionsHeader).toBeUndefined();
        else expect(paramsObject(client.deflateResponse!)).toEqual(answer);
        await roundTrip(client);
      });
    }
  });

  describe("server on, a route off", () => {
    const server = useDeflateServer({ perMessageDeflate: true, routes });
    const table: Array<[string, Params | null]> = [
      ["/", { ...DEFAULT_ANSWER, server_max_window_bits: "12" }],
      ["/off", null],
    ];
    for (const [path, answer] of table) {
      it(`${path} → ${answer === null ? "no extension" : JSON.stringify(answer)}`, async () => {
        const client = await connectDeflate(server().port, { offer: OFFER, path });
        if (answer === null) expect(client.extensionsHeader).toBeUndefined();
        else expect(paramsObject(client.deflateResponse!)).toEqual(answer);
        await roundTrip(client);
      });
    }
  });
});
