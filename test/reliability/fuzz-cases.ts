/**
 * fast-check generators for the connection fuzz test: byte streams a client could send,
 * from valid frame sequences (whose echo is known) to mutated and random bytes, sent
 * after a valid handshake or instead of it, in random chunkings.
 */
import fc from "fast-check";
import { Op, clientFrame, upgradeRequest } from "./helpers.js";

/** The fuzzed server's maxPayload: small, so any announced length is reached quickly. */
export const FUZZ_MAX_PAYLOAD = 512;

/** What a valid stream must produce: its data messages echoed, its pings answered. */
export interface Expected {
  messages: Array<{ opcode: number; payload: Buffer }>;
  pongs: Buffer[];
}

export type FuzzCase =
  | { kind: "valid"; bytes: Buffer; cuts: number[]; expected: Expected }
  | { kind: "mutated" | "random"; bytes: Buffer; cuts: number[] }
  /** Sent instead of the handshake, followed by CRLF CRLF so that a head always ends. */
  | { kind: "handshake"; bytes: Buffer; cuts: number[] };

interface DataItem {
  type: "data";
  opcode: number;
  payload: Buffer;
  /** Where to split the payload into fragments (taken modulo its length). */
  fragments: number[];
  /** Inject a ping between the fragments. */
  pingBetween: boolean;
}
interface ControlItem {
  type: "control";
  opcode: number;
  payload: Buffer;
}
type Item = DataItem | ControlItem;

const bytesArb = (maxLength: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes));

const itemArb: fc.Arbitrary<Item> = fc.oneof(
  fc.record({
    type: fc.constant("data" as const),
    opcode: fc.constant(Op.Text),
    // Up to 100 code points: at most 400 bytes of UTF-8, under FUZZ_MAX_PAYLOAD.
    payload: fc.string({ unit: "binary", maxLength: 100 }).map((text) => Buffer.from(text, "utf8")),
    fragments: fc.array(fc.nat(), { maxLength: 3 }),
    pingBetween: fc.boolean(),
  }),
  fc.record({
    type: fc.constant("data" as const),
    opcode: fc.constant(Op.Binary),
    payload: bytesArb(300),
    fragments: fc.array(fc.nat(), { maxLength: 3 }),
    pingBetween: fc.boolean(),
  }),
  fc.record({ type: fc.constant("control" as const), opcode: fc.constantFrom(Op.Ping, Op.Pong), payload: bytesArb(125) }),
);

/** Encodes items as masked client frames, and says what the server must send back. */
function encodeItems(items: readonly Item[], maskKey: Buffer): { bytes: Buffer; expected: Expected } {
  const frames: Buffer[] = [];
  const expected: Expected = { messages: [], pongs: [] };
  const frame = (opcode: number, payload: Buffer, fin = true): void => {
    frames.push(clientFrame(opcode, payload, { fin, maskKey }));
  };
  for (const item of items) {
    if (item.type === "control") {
      frame(item.opcode, item.payload);
      if (item.opcode === Op.Ping) expected.pongs.push(item.payload);
    } else encodeMessage(item);
  }
  return { bytes: Buffer.concat(frames), expected };

  function encodeMessage(item: DataItem): void {
    const opcode = item.opcode;
    expected.messages.push({ opcode, payload: item.payload });
    // Fragment boundaries at arbitrary bytes: a UTF-8 character may be split (allowed).
    const cuts = [...new Set(item.fragments.map((n) => n % (item.payload.length + 1)))].sort((a, b) => a - b);
    const bounds = [0, ...cuts.filter((c) => c > 0 && c < item.payload.length), item.payload.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      frame(i === 0 ? opcode : Op.Continuation, item.payload.subarray(bounds[i], bounds[i + 1]), i + 2 === bounds.length);
      // RFC 6455 §5.4: control frames may be injected between fragments.
      if (item.pingBetween && i + 2 < bounds.length) {
        frame(Op.Ping, Buffer.from("between"));
        expected.pongs.push(Buffer.from("between"));
      }
    }
  }
}

const validStreamArb = fc
  .tuple(fc.array(itemArb, { minLength: 1, maxLength: 6 }), fc.uint8Array({ minLength: 4, maxLength: 4 }))
  .map(([items, key]) => encodeItems(items, Buffer.from(key)));

type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; value: number }
  | { op: "insert"; at: number; bytes: Buffer }
  | { op: "delete"; at: number; count: number }
  | { op: "truncate"; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: bytesArb(8) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
);

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    if (out.length === 0) break;
    const at = m.at % out.length;
    if (m.op === "flip") out[at] ^= 1 << m.bit;
    else if (m.op === "set") out[at] = m.value;
    else if (m.op === "insert") out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else if (m.op === "delete") out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)]);
    else out = out.subarray(0, at);
  }
  return out;
}

const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 4 });
const cutsArb = fc.array(fc.nat(), { maxLength: 6 });
const HEAD_END = Buffer.from("\r\n\r\n");

export const fuzzCaseArb: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("valid" as const), stream: validStreamArb, cuts: cutsArb }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("mutated" as const),
      bytes: fc.tuple(validStreamArb, mutationsArb).map(([stream, mutations]) => mutate(stream.bytes, mutations)),
      cuts: cutsArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("random" as const), bytes: bytesArb(600), cuts: cutsArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("handshake" as const),
      bytes: fc
        .oneof(
          bytesArb(400),
          mutationsArb.map((mutations) => mutate(upgradeRequest("/echo", { key: "dGhlIHNhbXBsZSBub25jZQ==" }), mutations)),
        )
        .map((bytes) => Buffer.concat([bytes, HEAD_END])),
      cuts: cutsArb,
    }),
  },
).map((c): FuzzCase => ("stream" in c ? { kind: "valid", bytes: c.stream.bytes, cuts: c.cuts, expected: c.stream.expected } : c));

/**
 * Zero bytes that end any frame the server may still be reading (a header, at most
 * FUZZ_MAX_PAYLOAD bytes of payload), then start a frame that is unmasked, which a
 * server must fail (RFC 6455 §5.1): so every stream ends in a close frame.
 */
export const TERMINATOR = Buffer.alloc(FUZZ_MAX_PAYLOAD + 32);

/** RFC 6455 §7.4: codes that may appear on the wire (undefined: a close frame without a body). */
export function isSendableCloseCode(code: number | undefined): boolean {
  if (code === undefined) return true;
  return (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);
}
