/**
 * Shared helpers for the frame codec tests.
 *
 * Everything here is built independently of the encoder under test: `rawFrame` writes
 * frame bytes by hand (through test/support's `buildFrame`) and `readFrames` is a small
 * reference decoder, so the parser is checked against bytes made another way and the
 * encoder against a decoder that is not the parser.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { expect } from "vitest";
import {
  FrameParser,
  Opcode,
  ProtocolError,
  encodeClose,
  encodeFrame,
  encodePing,
  encodePong,
  encodeTextFrame,
  type FrameHandler,
  type FrameParserOptions,
  type Role,
} from "../../src/frame/index.js";
import { buildFrame } from "../support/index.js";

// ---------------------------------------------------------------------------------------
// Events as plain data
// ---------------------------------------------------------------------------------------

/**
 * What a `FrameHandler` saw, as plain data that `toEqual` compares cheaply. Payloads are
 * described by `describeBytes`: hex when short, length + SHA-256 when long.
 */
export type FrameEvent =
  | { type: "message"; binary: boolean; data: string }
  | { type: "ping"; data: string }
  | { type: "pong"; data: string }
  | { type: "close"; code: number; reason: string };

const HEX_LIMIT = 256;

/** Hex for up to 256 bytes (readable diffs), else `<N bytes sha256:…>`. */
export function describeBytes(bytes: Uint8Array): string {
  if (bytes.length <= HEX_LIMIT) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
  const digest = createHash("sha256").update(bytes).digest("hex");
  return `<${bytes.length} bytes sha256:${digest}>`;
}

export const ev = {
  message: (data: Uint8Array | string, binary: boolean): FrameEvent => ({
    type: "message",
    binary,
    data: describeBytes(typeof data === "string" ? Buffer.from(data, "utf8") : data),
  }),
  text: (text: string | Uint8Array): FrameEvent => ev.message(text, false),
  binary: (data: Uint8Array): FrameEvent => ev.message(data, true),
  ping: (data: Uint8Array = new Uint8Array(0)): FrameEvent => ({ type: "ping", data: describeBytes(data) }),
  pong: (data: Uint8Array = new Uint8Array(0)): FrameEvent => ({ type: "pong", data: describeBytes(data) }),
  close: (code: number, reason = ""): FrameEvent => ({ type: "close", code, reason }),
};

/** A `FrameHandler` that records every event as plain data, in order. */
export class Collector implements FrameHandler {
  readonly events: FrameEvent[] = [];
  /** Every payload buffer exactly as the parser handed it out (for aliasing checks). */
  readonly payloads: Buffer[] = [];

  onMessage(payload: Buffer, binary: boolean): void {
    this.payloads.push(payload);
    this.events.push(ev.message(payload, binary));
  }

  onPing(payload: Buffer): void {
    this.payloads.push(payload);
    this.events.push(ev.ping(payload));
  }

  onPong(payload: Buffer): void {
    this.payloads.push(payload);
    this.events.push(ev.pong(payload));
  }

  onClose(code: number, reason: string): void {
    this.events.push(ev.close(code, reason));
  }
}

/**
 * A `Collector` that also takes text decoded (`FrameHandler.onText`), as a WebSocket does:
 * text events are recorded from the string, re-encoded, so they compare with `ev.text`.
 */
export class TextCollector extends Collector {
  /** Each decoded text with the byte length the parser gave for it. */
  readonly texts: Array<{ text: string; byteLength: number }> = [];

  onText(text: string, byteLength: number): void {
    this.texts.push({ text, byteLength });
    this.events.push(ev.text(text));
  }
}

/** What the parser hands text to: `onMessage` as bytes, or `onText` decoded. */
export type TextDelivery = "bytes" | "decoded";

export function newParser(
  options: FrameParserOptions,
  delivery: TextDelivery = "bytes",
): { parser: FrameParser; collector: Collector } {
  const collector = delivery === "decoded" ? new TextCollector() : new Collector();
  return { parser: new FrameParser(collector, options), collector };
}

export interface ParseResult {
  events: FrameEvent[];
  /** The error thrown by `push`, if any (parsing stops there). */
  error?: unknown;
  /** Index of the chunk whose `push` threw, or -1. */
  errorChunk: number;
  collector: Collector;
  parser: FrameParser;
}

/** Pushes `chunks` in order until one throws. The chunks are handed over as they are. */
export function parseChunks(chunks: readonly Buffer[], options: FrameParserOptions, delivery: TextDelivery = "bytes"): ParseResult {
  const { parser, collector } = newParser(options, delivery);
  for (let i = 0; i < chunks.length; i++) {
    try {
      parser.push(chunks[i]);
    } catch (error) {
      return { events: collector.events, error, errorChunk: i, collector, parser };
    }
  }
  return { events: collector.events, errorChunk: -1, collector, parser };
}

/**
 * Parses a fresh copy of `bytes` split at `cuts` (the parser unmasks in place, so the
 * caller's bytes are never handed over).
 */
export function parseBytes(bytes: Uint8Array, options: FrameParserOptions, cuts: readonly number[] = []): ParseResult {
  return parseChunks(splitAt(bytes, cuts), options);
}

/** Asserts that `error` is a `ProtocolError` with `closeCode` and a message matching `reason`. */
export function expectProtocolError(error: unknown, closeCode: number, reason?: RegExp): asserts error is ProtocolError {
  expect(error).toBeInstanceOf(ProtocolError);
  const protocolError = error as ProtocolError;
  expect(protocolError.closeCode).toBe(closeCode);
  if (reason !== undefined) expect(protocolError.message).toMatch(reason);
  // The reason must fit into a close frame.
  expect(Buffer.byteLength(protocolError.message)).toBeLessThanOrEqual(123);
}

/** Calls `fn`, which must throw a `ProtocolError` with `closeCode`; returns it. */
export function expectThrowsProtocolError(fn: () => void, closeCode: number, reason?: RegExp): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected a ProtocolError to be thrown").toBeDefined();
  expectProtocolError(caught, closeCode, reason);
  return caught;
}

// ---------------------------------------------------------------------------------------
// Byte helpers and chunking
// ---------------------------------------------------------------------------------------

export function concat(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part))));
}

export function bytesOf(data: ArrayLike<number> | string | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  if (typeof data === "string") return Buffer.from(data, "utf8");
  return Buffer.from(Array.from(data));
}

/**
 * Copies `bytes` and returns views of the copy split at `cuts` (any numbers: they are
 * reduced modulo `length + 1` and sorted; duplicates give empty chunks, which the parser
 * must accept too).
 */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const copy = Buffer.from(bytes);
  const points = cuts.map((cut) => cut % (copy.length + 1)).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(copy.subarray(start, point));
    start = point;
  }
  chunks.push(copy.subarray(start));
  return chunks;
}

/** Views of a fresh copy of `bytes`, `size` bytes each (1: byte by byte). */
export function chunksOf(bytes: Uint8Array, size: number): Buffer[] {
  const copy = Buffer.from(bytes);
  const chunks: Buffer[] = [];
  for (let start = 0; start < copy.length; start += size) chunks.push(copy.subarray(start, start + size));
  return chunks;
}

/** Cut points for `splitAt`: up to `maxCuts` arbitrary naturals. */
export const cutsArb = (maxCuts = 12): fc.Arbitrary<number[]> => fc.array(fc.nat(), { maxLength: maxCuts });

// ---------------------------------------------------------------------------------------
// Hand-built frames and a reference decoder
// ---------------------------------------------------------------------------------------

/** The masking key of the RFC 6455 §5.7 examples. */
export const RFC_KEY = [0x37, 0xfa, 0x21, 0x3d] as const;

export interface RawFrameSpec {
  fin?: boolean;
  /** RSV1-3 as a 3-bit number (RSV1 = 4, RSV2 = 2, RSV3 = 1). */
  rsv?: number;
  opcode: number;
  mask?: boolean;
  key?: ArrayLike<number>;
  payload?: ArrayLike<number> | string;
  /** Which length field to use; default the shortest (7, 16 or 64 bits). */
  lengthEncoding?: 7 | 16 | 64;
  /** The length to announce, when it should differ from the payload given (header-only frames). */
  length?: number | bigint;
}

/** A frame written byte by byte, without the encoder under test. */
export function rawFrame(spec: RawFrameSpec): Buffer {
  return buildFrame({
    fin: spec.fin,
    rsv: spec.rsv,
    opcode: spec.opcode,
    payload: bytesOf(spec.payload),
    mask: (spec.mask ?? false) ? Buffer.from(Array.from(spec.key ?? RFC_KEY)) : null,
    length: spec.length,
    lengthEncoding: spec.lengthEncoding === undefined ? undefined : (String(spec.lengthEncoding) as "7" | "16" | "64"),
  });
}

/** `rawFrame` masked as the sender of `role`'s input must: clients mask, servers don't. */
export function frameFor(role: Role, spec: Omit<RawFrameSpec, "mask">): Buffer {
  return rawFrame({ ...spec, mask: role === "server" });
}

export interface DecodedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  key: Buffer | null;
  /** Bytes of header before the payload. */
  headerSize: number;
  /** The payload, unmasked (a copy). */
  payload: Buffer;
}

/** A minimal reference decoder (no validation): splits `bytes` into frames. */
export function readFrames(bytes: Uint8Array): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const b0 = bytes[pos];
    const b1 = bytes[pos + 1];
    let at = pos + 2;
    let length = BigInt(b1 & 0x7f);
    if (length === 126n) {
      length = BigInt((bytes[at] << 8) | bytes[at + 1]);
      at += 2;
    } else if (length === 127n) {
      length = 0n;
      for (let i = 0; i < 8; i++) length = (length << 8n) | BigInt(bytes[at + i]);
      at += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? Buffer.from(bytes.subarray(at, at + 4)) : null;
    if (masked) at += 4;
    const end = at + Number(length);
    if (end > bytes.length) throw new Error(`truncated frame at ${pos}`);
    const payload = Buffer.from(bytes.subarray(at, end));
    if (key !== null) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i % 4];
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, key, headerSize: at - pos, payload });
    pos = end;
  }
  return frames;
}

/** Unicode scalar values (no surrogates), spread over the 1-, 2-, 3- and 4-byte UTF-8 forms. */
export const codePointArb: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0x7ff }),
  fc.integer({ min: 0x800, max: 0xffff }).filter((cp) => cp < 0xd800 || cp > 0xdfff),
  fc.integer({ min: 0x10000, max: 0x10ffff }),
  fc.constantFrom(0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfeff, 0xfffd, 0xffff, 0x10000, 0x10ffff),
);

/**
 * Strings of up to `maxLength` code points. (Not `fc.string({ unit: "binary" })`: its
 * first use costs a second building tables, in every test worker.)
 */
export function unicodeStringArb(maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: codePointArb.map((cp) => String.fromCodePoint(cp)), maxLength, size: "max" });
}

// ---------------------------------------------------------------------------------------
// A model of a valid stream: messages (fragmented, with control frames between fragments),
// lone control frames, a closing close frame.
// ---------------------------------------------------------------------------------------

export interface ControlItem {
  kind: "ping" | "pong";
  data: Uint8Array;
}

export interface MessageItem {
  kind: "message";
  binary: boolean;
  /** Text messages keep their string, for `encodeTextFrame`. */
  text?: string;
  data: Uint8Array;
  /** Fragment boundaries (offsets into `data`, sorted; may repeat: empty fragments). */
  cuts: number[];
  /** Control frames sent after fragment i (only for i < number of fragments - 1). */
  between: ControlItem[][];
}

export interface CloseItem {
  kind: "close";
  code?: number;
  reason: string;
}

export type StreamItem = MessageItem | ControlItem | CloseItem;

export function fragmentsOf(message: MessageItem): Uint8Array[] {
  const fragments: Uint8Array[] = [];
  let start = 0;
  for (const cut of message.cuts) {
    fragments.push(message.data.subarray(start, cut));
    start = cut;
  }
  fragments.push(message.data.subarray(start));
  return fragments;
}

export const controlArb: fc.Arbitrary<ControlItem> = fc.record({
  kind: fc.constantFrom("ping" as const, "pong" as const),
  data: fc.uint8Array({ maxLength: 125, size: "max" }),
});

/** A data message of at most `maxBytes` bytes, in up to 4 fragments. */
export function messageArb(maxBytes = 600): fc.Arbitrary<MessageItem> {
  const payload = fc.oneof(
    fc.uint8Array({ maxLength: maxBytes, size: "max" }).map((data) => ({ binary: true, text: undefined, data })),
    unicodeStringArb(Math.floor(maxBytes / 4)).map((text) => ({ binary: false, text, data: new Uint8Array(Buffer.from(text, "utf8")) })),
  );
  return fc
    .tuple(payload, fc.array(fc.nat(), { maxLength: 3 }), fc.array(fc.array(controlArb, { maxLength: 2 }), { maxLength: 3 }))
    .map(([{ binary, text, data }, seeds, between]) => {
      const cuts = seeds.map((seed) => seed % (data.length + 1)).sort((a, b) => a - b);
      const message: MessageItem = { kind: "message", binary, data, cuts, between: between.slice(0, cuts.length) };
      if (text !== undefined) message.text = text;
      return message;
    });
}

const closeCodeArb = fc.oneof(
  fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
  fc.integer({ min: 3000, max: 4999 }),
);

export const closeArb: fc.Arbitrary<CloseItem> = fc.oneof(
  fc.constant<CloseItem>({ kind: "close", reason: "" }),
  fc.record({
    kind: fc.constant("close" as const),
    code: closeCodeArb,
    // At most 30 code points: at most 120 bytes of UTF-8, within the 123-byte limit.
    reason: unicodeStringArb(30),
  }),
);

/** Several messages and control frames, sometimes ended by a close frame. */
export function streamArb(maxMessageBytes = 600, maxItems = 6): fc.Arbitrary<StreamItem[]> {
  return fc
    .tuple(
      fc.array(fc.oneof({ arbitrary: messageArb(maxMessageBytes), weight: 3 }, { arbitrary: controlArb, weight: 1 }), {
        maxLength: maxItems,
      }),
      fc.option(closeArb, { nil: undefined }),
    )
    .map(([items, close]) => (close === undefined ? items : [...items, close]));
}

function controlEvent(control: ControlItem): FrameEvent {
  return control.kind === "ping" ? ev.ping(control.data) : ev.pong(control.data);
}

/** The events a correct parser reports for `items`: nothing after a close frame. */
export function expectedEvents(items: readonly StreamItem[]): FrameEvent[] {
  const events: FrameEvent[] = [];
  for (const item of items) {
    if (item.kind === "message") {
      for (const controls of item.between) events.push(...controls.map(controlEvent));
      events.push(ev.message(item.data, item.binary));
    } else if (item.kind === "close") {
      events.push(ev.close(item.code ?? 1005, item.reason));
      break;
    } else {
      events.push(controlEvent(item));
    }
  }
  return events;
}

function closeBody(item: CloseItem): Buffer {
  if (item.code === undefined) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([item.code >> 8, item.code & 0xff]), Buffer.from(item.reason, "utf8")]);
}

/** The stream of `items` as `role`'s parser receives it, built with `rawFrame`. */
export function rawStream(items: readonly StreamItem[], role: Role): Buffer {
  const frames: Buffer[] = [];
  const control = (item: ControlItem) =>
    frameFor(role, { opcode: item.kind === "ping" ? Opcode.Ping : Opcode.Pong, payload: item.data });
  for (const item of items) {
    if (item.kind === "message") {
      const fragments = fragmentsOf(item);
      fragments.forEach((fragment, i) => {
        const opcode = i > 0 ? Opcode.Continuation : item.binary ? Opcode.Binary : Opcode.Text;
        frames.push(frameFor(role, { opcode, fin: i === fragments.length - 1, payload: fragment }));
        for (const between of item.between[i] ?? []) frames.push(control(between));
      });
    } else if (item.kind === "close") {
      frames.push(frameFor(role, { opcode: Opcode.Close, payload: closeBody(item) }));
    } else {
      frames.push(control(item));
    }
  }
  return Buffer.concat(frames);
}

/** The stream of `items` as `role`'s parser receives it, built with the encoder under test. */
export function encodedStream(items: readonly StreamItem[], role: Role): Buffer {
  const mask = role === "server";
  const buffers: Buffer[] = [];
  const control = (item: ControlItem) =>
    item.kind === "ping" ? encodePing(item.data, { mask }) : encodePong(item.data, { mask });
  for (const item of items) {
    if (item.kind === "message") {
      const fragments = fragmentsOf(item);
      if (fragments.length === 1 && item.text !== undefined) {
        buffers.push(encodeTextFrame(item.text, { mask }));
        continue;
      }
      fragments.forEach((fragment, i) => {
        const opcode = i > 0 ? Opcode.Continuation : item.binary ? Opcode.Binary : Opcode.Text;
        buffers.push(...encodeFrame(opcode, fragment, { mask, fin: i === fragments.length - 1 }));
        for (const between of item.between[i] ?? []) buffers.push(control(between));
      });
    } else if (item.kind === "close") {
      buffers.push(encodeClose(item.code, item.code === undefined ? "" : item.reason, { mask }));
    } else {
      buffers.push(control(item));
    }
  }
  return Buffer.concat(buffers);
}

export const roleArb: fc.Arbitrary<Role> = fc.constantFrom("server" as const, "client" as const);
export const ROLES: readonly Role[] = ["server", "client"];

// ---------------------------------------------------------------------------------------
// UTF-8-ish byte strings and the reference verdict
// ---------------------------------------------------------------------------------------

/** Sequences that are invalid, or valid only as a prefix. */
export const BAD_UTF8_PIECES: readonly (readonly number[])[] = [
  [0xed, 0xa0, 0x80], // surrogate U+D800
  [0xed, 0xbf, 0xbf], // surrogate U+DFFF
  [0xc0, 0x80], // overlong NUL
  [0xc1, 0xbf], // overlong
  [0xe0, 0x80, 0x80], // overlong
  [0xe0, 0x9f, 0xbf], // overlong
  [0xf0, 0x80, 0x80, 0x80], // overlong
  [0xf0, 0x8f, 0xbf, 0xbf], // overlong
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xf5, 0x80, 0x80, 0x80], // lead byte never valid
  [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
  [0xff],
  [0xfe],
  [0xe0, 0x80], // cannot be continued
  [0xe2, 0x82], // truncated U+20AC
  [0xf0, 0x9f, 0x98], // truncated U+1F600
  [0xc3], // truncated
];

const validPieceArb = codePointArb.map((cp) => [...Buffer.from(String.fromCodePoint(cp), "utf8")]);

const badPieceArb = fc.oneof(
  fc.integer({ min: 0x80, max: 0xff }).map((byte) => [byte]),
  fc.constantFrom(...BAD_UTF8_PIECES).map((piece) => [...piece]),
  // A valid multi-byte encoding cut short.
  fc
    .integer({ min: 0x80, max: 0x10ffff })
    .filter((cp) => cp < 0xd800 || cp > 0xdfff)
    .map((cp) => {
      const encoded = [...Buffer.from(String.fromCodePoint(cp), "utf8")];
      return encoded.slice(0, encoded.length - 1);
    }),
);

/**
 * Byte strings biased toward UTF-8: mostly valid encodings of random code points, with
 * stray bytes, surrogates, overlongs, out-of-range and truncated sequences mixed in.
 * About half of them are valid; lengths run from 0 to ~150 bytes (either side of the
 * 32-byte threshold where the validator switches to `buffer.isUtf8`).
 */
export const utf8ishArb: fc.Arbitrary<Uint8Array> = fc
  .oneof(
    fc.array(validPieceArb, { maxLength: 50, size: "max" }),
    fc.array(fc.oneof({ arbitrary: validPieceArb, weight: 8 }, { arbitrary: badPieceArb, weight: 1 }), {
      maxLength: 50,
      size: "max",
    }),
  )
  .map((pieces) => new Uint8Array(pieces.flat()));

export function isValidUtf8Reference(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where a fail-fast validator must give up: the index of the first byte at which a
 * streaming `TextDecoder` (fatal) reports an error, `bytes.length` when the bytes are
 * only cut short (the error shows at the end), or -1 when they are valid.
 */
export function firstUtf8ErrorIndex(bytes: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  try {
    decoder.decode();
    return -1;
  } catch {
    return bytes.length;
  }
}
