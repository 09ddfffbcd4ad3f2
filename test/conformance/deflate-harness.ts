/**
 * The permessage-deflate harness (RFC 7692): the echo server started in-process with
 * compression on, and a raw TCP client that negotiates the extension with any
 * `Sec-WebSocket-Extensions` offer, compresses what it sends with node:zlib, and inflates
 * what the server sends.
 *
 * It is built on `harness.ts`: the server is its echo server with `perMessageDeflate` set,
 * frames are still written byte by byte with `buildFrame`, and `DeflateClient` is its
 * `RawClient` with what RFC 7692 changes. Its reader checks the framing RFC 7692 adds to
 * RFC 6455's:
 * - RSV1 only on the first frame of a data message (§6.1), never on a continuation or a
 *   control frame (§6.1), and never when the extension was not negotiated (RFC 6455 §5.2);
 * - RSV2/RSV3 never (permessage-deflate defines no meaning for them);
 * - a compressed message is raw DEFLATE with its trailing 00 00 ff ff removed (§7.2.1):
 *   the reader appends them and inflates with node:zlib's InflateRaw, configured exactly
 *   as the negotiated parameters allow: a FRESH inflater for every message when
 *   `server_no_context_takeover` was agreed (§7.1.1.1), and a window of
 *   `server_max_window_bits` bits (§7.1.2.1), so a server that uses more history than
 *   it agreed to produces data that fails to inflate.
 *
 * Nothing here uses the code under test: the extension header is parsed, and negotiated
 * parameters derived, independently of `src/http`.
 */
import type { Socket } from "node:net";
import zlib from "node:zlib";
import { expect, it } from "vitest";
import { type EchoServer, FRAME_TIMEOUT_MS, type Frame, type Message, RawClient, describeBytes, expectSameMessage, expectServerIdle, opcodeName, openConnection } from "./harness.js";
import { type FrameSpec, OP, RSV1, toBytes } from "../support/index.js";

const Z = zlib.constants;

/** What RFC 7692 §7.2.1 strips from the end of every compressed message, and §7.2.2 appends back. */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The server's default `threshold`: shorter messages go out uncompressed. */
export const DEFAULT_THRESHOLD = 1024;

// ---------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------

/**
 * The server is harness.ts's echo server, whose options take `perMessageDeflate` (omitted:
 * not passed at all, the server's default, off) and a section's own routes. It also works
 * with `itStillServes` from harness.ts (which connects without offering any extension).
 */
export { type EchoServerOptions as DeflateServerOptions, useEchoServer as useDeflateServer } from "./harness.js";

/**
 * The last test of a deflate section: a fresh client that offers the extension still gets
 * a compressed echo, no handler threw, and no connection is left once the clients are gone.
 */
export function itStillServesCompressed(getServer: () => EchoServer, offer = "permessage-deflate"): void {
  it("the server still serves compressed echoes after the section, and ends with no open connection", async () => {
    const echo = getServer();
    const client = await connectDeflate(echo.port, { offer });
    expect(client.deflate, "permessage-deflate negotiated").toBeDefined();
    const message = Buffer.from("still alive, and compressed ".repeat(100));
    await client.sendMessage(OP.TEXT, message);
    const echoed = await client.expectEcho(OP.TEXT, message);
    if (client.deflate!.serverMaxWindowBits > 8) expect(echoed.compressed, "echo of 2800 B compressed").toBe(true);
    await client.closeHandshake();
    await expectServerIdle(echo);
  });
}

// ---------------------------------------------------------------------------------------
// Sec-WebSocket-Extensions, parsed independently of src/http
// ---------------------------------------------------------------------------------------

export interface Extension {
  name: string;
  /** Parameters in order; `true` for one without a value. Repeats are kept. */
  params: Array<[string, string | true]>;
}

/**
 * Parses an extension list (RFC 6455 §9.1): `name; p; q=v; r="v", name2`. Quoted values are
 * unquoted. Throws on anything malformed (a server must not send that).
 */
export function parseExtensionList(value: string): Extension[] {
  const out: Extension[] = [];
  let at = 0;
  const ws = (): void => {
    while (value[at] === " " || value[at] === "\t") at++;
  };
  const token = (): string => {
    const match = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(value.slice(at));
    if (match === null) throw new Error(`malformed extension list ${JSON.stringify(value)} at ${at}`);
    at += match[0].length;
    return match[0];
  };
  const quoted = (): string => {
    let text = "";
    for (at++; at < value.length && value[at] !== '"'; at++) {
      if (value[at] === "\\") at++;
      text += value[at];
    }
    if (value[at] !== '"') throw new Error(`unterminated quoted value in ${JSON.stringify(value)}`);
    at++;
    return text;
  };
  for (;;) {
    ws();
    if (at >= value.length) break;
    if (value[at] === ",") {
      at++;
      continue;
    }
    const extension: Extension = { name: token(), params: [] };
    ws();
    while (value[at] === ";") {
      at++;
      ws();
      const name = token();
      ws();
      let paramValue: string | true = true;
      if (value[at] === "=") {
        at++;
        ws();
        paramValue = value[at] === '"' ? quoted() : token();
        ws();
      }
      extension.params.push([name, paramValue]);
    }
    if (at < value.length && value[at] !== ",") throw new Error(`malformed extension list ${JSON.stringify(value)} at ${at}`);
    out.push(extension);
  }
  return out;
}

/** The agreed parameters of a permessage-deflate response (RFC 7692 §7.1). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** 15 when the response named none. */
  serverMaxWindowBits: number;
  /** 15 when the response named none. */
  clientMaxWindowBits: number;
}

/** The response's parameters as a plain object, for `toEqual`: `{ server_no_context_takeover: true, server_max_window_bits: "10" }`. */
export function paramsObject(extension: Extension): Record<string, string | true> {
  return Object.fromEntries(extension.params);
}

const WINDOW_BITS = /^(?:[89]|1[0-5])$/; // RFC 7692 §7.1.2.1: %x38-39 / "1" %x30-35

/**
 * Why `response` is not a valid acceptance of `offer` (RFC 7692 §7.1), or undefined:
 * - every parameter is one of the four, given once, with a valid value (§7.1);
 * - `server_no_context_takeover` is confirmed when offered (§7.1.1.1);
 * - `server_max_window_bits` is confirmed when offered, with a value no larger (§7.1.2.1);
 * - `client_max_window_bits` only when offered, no larger than the offered value (§7.1.2.2).
 */
export function responseViolation(response: Extension, offer: Extension): string | undefined {
  const seen = new Set<string>();
  for (const [name, value] of response.params) {
    if (seen.has(name)) return `${name} is repeated`;
    seen.add(name);
    if (name === "server_no_context_takeover" || name === "client_no_context_takeover") {
      if (value !== true) return `${name} has a value`;
    } else if (name === "server_max_window_bits" || name === "client_max_window_bits") {
      if (value === true || !WINDOW_BITS.test(value)) return `${name} has no valid value (8..15)`;
    } else {
      return `unknown parameter ${name}`;
    }
  }
  const got = paramsObject(response);
  const offered = paramsObject(offer);
  if ("server_no_context_takeover" in offered && !("server_no_context_takeover" in got)) {
    return "server_no_context_takeover offered but not confirmed (§7.1.1.1)";
  }
  const offeredServerBits = offered.server_max_window_bits;
  if (offeredServerBits !== undefined) {
    if (got.server_max_window_bits === undefined) return "server_max_window_bits offered but not confirmed (§7.1.2.1)";
    if (Number(got.server_max_window_bits) > Number(offeredServerBits)) return "server_max_window_bits above the offered value";
  }
  if (got.client_max_window_bits !== undefined) {
    const offeredClientBits = offered.client_max_window_bits;
    if (offeredClientBits === undefined) return "client_max_window_bits in the response but not in the offer (§7.1.2.2)";
    if (offeredClientBits !== true && Number(got.client_max_window_bits) > Number(offeredClientBits)) {
      return "client_max_window_bits above the offered value (§7.1.2.2)";
    }
  }
  return undefined;
}

/** The agreed parameters of a (valid) response. */
export function agreedParams(response: Extension): DeflateParams {
  const got = paramsObject(response);
  return {
    serverNoContextTakeover: "server_no_context_takeover" in got,
    clientNoContextTakeover: "client_no_context_takeover" in got,
    serverMaxWindowBits: got.server_max_window_bits === undefined ? 15 : Number(got.server_max_window_bits),
    clientMaxWindowBits: got.client_max_window_bits === undefined ? 15 : Number(got.client_max_window_bits),
  };
}

/** An offer string in Autobahn's form (autobahn's PerMessageDeflateOffer.get_extension_string). */
export function autobahnOffer(requestNoContextTakeover: boolean, requestMaxWindowBits: number): string {
  let offer = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
  if (requestNoContextTakeover) offer += "; server_no_context_takeover";
  if (requestMaxWindowBits !== 0) offer += `; server_max_window_bits=${requestMaxWindowBits}`;
  return offer;
}

// ---------------------------------------------------------------------------------------
// Compression, both ways
// ---------------------------------------------------------------------------------------

/** Runs `data` through a zlib stream up to a sync flush, collecting the output. */
function flushThrough(stream: zlib.DeflateRaw | zlib.InflateRaw, data: Uint8Array): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
    };
    const onError = (error: Error): void => {
      stream.off("data", onData);
      reject(error);
    };
    stream.on("data", onData);
    stream.once("error", onError);
    stream.write(data);
    stream.flush(Z.Z_SYNC_FLUSH, () => {
      stream.off("data", onData);
      stream.off("error", onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Strips the 00 00 ff ff a sync flush ends with (RFC 7692 §7.2.1). */
function stripTail(compressed: Buffer): Buffer {
  if (!compressed.subarray(-4).equals(DEFLATE_TAIL)) throw new Error("deflate output does not end with 00 00 ff ff");
  return compressed.subarray(0, compressed.length - 4);
}

/**
 * The client's compressor (RFC 7692 §7.2.1). With `contextTakeover` one DeflateRaw stream
 * serves every message (§7.1.1.2 allows it unless client_no_context_takeover was agreed);
 * otherwise every message is compressed on its own.
 *
 * A window of 8 bits cannot be asked of zlib (raw deflate turns 8 into 9), so for 8 the
 * compressor emits Huffman-coded literals only (Z_HUFFMAN_ONLY): no back-reference at
 * all, which is within any window.
 */
export class ClientDeflater {
  private stream: zlib.DeflateRaw | undefined;
  private readonly options: zlib.ZlibOptions;

  constructor(
    windowBits: number,
    private readonly contextTakeover: boolean,
    level = 6,
  ) {
    this.options = windowBits <= 8 ? { level, windowBits: 9, strategy: Z.Z_HUFFMAN_ONLY } : { level, windowBits };
  }

  async compress(payload: Uint8Array): Promise<Buffer> {
    if (!this.contextTakeover) {
      return stripTail(zlib.deflateRawSync(payload, { ...this.options, finishFlush: Z.Z_SYNC_FLUSH }));
    }
    this.stream ??= zlib.createDeflateRaw(this.options);
    return stripTail(await flushThrough(this.stream, payload));
  }

  close(): void {
    this.stream?.close();
  }
}

/**
 * zlib's inflate does not enforce its window by itself: a back-reference is refused only
 * when it reaches before both the window and the output already in the current output
 * buffer. With 64-byte output buffers (node:zlib's smallest chunkSize) a reference is
 * refused ("invalid distance too far back") as soon as it reaches more than 2^windowBits
 * + 64 bytes back, or before the start of the message for a fresh inflater.
 */
const STRICT_CHUNK = 64;

/**
 * The client's decompressor for the server's messages (RFC 7692 §7.2.2): appends
 * 00 00 ff ff and inflates with a window of `windowBits` bits (the agreed
 * server_max_window_bits); a fresh inflater per message when the server agreed to
 * server_no_context_takeover, so a message that refers to an earlier one fails.
 */
export class ServerInflater {
  private stream: zlib.InflateRaw | undefined;

  constructor(
    readonly windowBits: number,
    readonly fresh: boolean,
  ) {}

  async inflate(payload: Uint8Array): Promise<Buffer> {
    const input = Buffer.concat([payload, DEFLATE_TAIL]);
    try {
      if (this.fresh) {
        return zlib.inflateRawSync(input, { windowBits: this.windowBits, chunkSize: STRICT_CHUNK, finishFlush: Z.Z_SYNC_FLUSH });
      }
      this.stream ??= zlib.createInflateRaw({ windowBits: this.windowBits, chunkSize: STRICT_CHUNK });
      return await flushThrough(this.stream, input);
    } catch (error) {
      throw new Error(
        `a compressed server message does not inflate with ${this.fresh ? "a fresh" : "the connection's"} ` +
          `inflater of windowBits ${this.windowBits}: ${(error as Error).message} (payload ${describeBytes(payload)})`,
      );
    }
  }

  close(): void {
    this.stream?.close();
  }
}

/** A compressed payload as one-shot raw DEFLATE, tail stripped: what a fresh sender with a 15-bit window sends. */
export function deflateMessage(payload: Uint8Array | string, options: zlib.ZlibOptions = {}): Buffer {
  return stripTail(zlib.deflateRawSync(toBytes(payload), { ...options, finishFlush: Z.Z_SYNC_FLUSH }));
}

/**
 * Whether the server must compress its echo of `payload` (RSV1), must not, or may do
 * either. RFC 7692 §6 lets a sender leave any message uncompressed; this server's
 * documented policy is: below `threshold` never compressed; otherwise compressed, except
 * that without context takeover a message that would not shrink goes out as it is. So
 * "yes" only for messages that clearly shrink at the server's level-1 setting (by 5% or
 * more, measured with node:zlib here), "either" for the ones in between. With an 8-bit
 * window (2^8 = 256 bytes) the server sends its messages uncompressed: zlib cannot deflate
 * within 256 bytes.
 */
export function compressionExpected(payload: Uint8Array, threshold: number, windowBits = 15): "yes" | "no" | "either" {
  if (payload.length < threshold || windowBits <= 8) return "no";
  const compressed = zlib.deflateRawSync(payload, { level: 1, windowBits, finishFlush: Z.Z_SYNC_FLUSH }).length - 4;
  return compressed < payload.length * 0.95 ? "yes" : "either";
}

/** Throws when an echo's RSV1 contradicts `compressionExpected`. */
function checkCompression(client: DeflateClient, index: number, message: Buffer, compressed: boolean, threshold: number | undefined): void {
  if (threshold === undefined) return;
  const expected = compressionExpected(message, threshold, client.deflate?.serverMaxWindowBits ?? 8);
  if (expected === "either" || (expected === "yes") === compressed) return;
  throw new Error(
    `message ${index + 1} (${message.length} B): echo ${compressed ? "" : "not "}compressed, ` +
      (expected === "no" ? `but it is below the threshold ${threshold} or the window is 8 bits` : "but it is at or above the threshold and compresses well"),
  );
}

/** Whether `compressed` (tail stripped) is corrupt for a fresh 15-bit inflater: a precondition of the 1007 cases. */
export function failsToInflate(compressed: Uint8Array): boolean {
  try {
    zlib.inflateRawSync(Buffer.concat([compressed, DEFLATE_TAIL]), { finishFlush: Z.Z_SYNC_FLUSH });
    return false;
  } catch {
    return true;
  }
}

// ---------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------

/** A data message as received: harness.ts's `Message`, inflated when it was compressed. */
export interface ReceivedMessage extends Message {
  /** RSV1 was set on its first frame. */
  compressed: boolean;
  /** Bytes on the wire (all fragments' payloads). */
  wireLength: number;
  frames: number;
}

export interface ConnectOptions {
  /**
   * The Sec-WebSocket-Extensions offer, sent as it is; an array sends one header line per
   * element (RFC 6455 §9.1 lets the header appear more than once). Omitted: no offer.
   */
  offer?: string | string[];
  path?: string;
  /** Compress with context takeover; default: yes unless client_no_context_takeover was agreed. */
  clientContextTakeover?: boolean;
  /** zlib level of the client's compressor; default 6. */
  level?: number;
  /** Check the response against the offer (RFC 7692 §7.1); default true. */
  checkResponse?: boolean;
}

/**
 * harness.ts's raw client with permessage-deflate: it allows RSV1 where RFC 7692 does,
 * inflates the server's compressed messages, and compresses the messages it is asked to.
 */
export class DeflateClient extends RawClient {
  private readonly deflater: ClientDeflater | undefined;
  private readonly inflater: ServerInflater | undefined;

  constructor(
    socket: Socket,
    /** The whole Sec-WebSocket-Extensions value of the 101, or undefined. */
    readonly extensionsHeader: string | undefined,
    /** The agreed parameters, or undefined when permessage-deflate was not negotiated. */
    readonly deflate: DeflateParams | undefined,
    options: ConnectOptions = {},
  ) {
    super(socket);
    if (deflate !== undefined) {
      // Context takeover against an agreed client_no_context_takeover is a protocol
      // violation a test may commit on purpose (the server's inflater then fails).
      const takeover = options.clientContextTakeover ?? !deflate.clientNoContextTakeover;
      this.deflater = new ClientDeflater(deflate.clientMaxWindowBits, takeover, options.level);
      this.inflater = new ServerInflater(deflate.serverMaxWindowBits, deflate.serverNoContextTakeover);
    }
  }

  /** The response's extension list, parsed. */
  get extensions(): Extension[] {
    return this.extensionsHeader === undefined ? [] : parseExtensionList(this.extensionsHeader);
  }

  /** The permessage-deflate element of the response's list. */
  get deflateResponse(): Extension | undefined {
    return this.extensions.find((e) => e.name === "permessage-deflate");
  }

  /**
   * RSV1 marks a compressed message (RFC 7692 §6): only once deflate was negotiated, and
   * only on the first frame of a data message (§6.1). RSV2/RSV3 stay reserved.
   */
  protected override rsvViolation(frame: Frame): string | undefined {
    if ((frame.rsv & 0b011) !== 0) return `server frame has RSV2/RSV3 (${frame.rsv}): no extension defines them`;
    if ((frame.rsv & RSV1) === 0) return undefined;
    if (this.deflate === undefined) return "server frame has RSV1 without permessage-deflate (RFC 6455 §5.2)";
    if (frame.opcode >= 0x8) return `server ${opcodeName(frame.opcode)} frame has RSV1 (RFC 7692 §6.1: control frames never)`;
    if (frame.opcode === OP.CONT) return "server continuation frame has RSV1 (RFC 7692 §6.1: first frame only)";
    return undefined;
  }

  // ---- Sending ----

  /** The payload compressed as this client compresses (RFC 7692 §7.2.1), tail stripped. */
  compress(payload: Uint8Array | string): Promise<Buffer> {
    if (this.deflater === undefined) throw new Error("permessage-deflate was not negotiated");
    return this.deflater.compress(toBytes(payload));
  }

  /**
   * The frames of one message: compressed when `compress` (default: whenever deflate was
   * negotiated), cut into frames of `fragmentSize` payload bytes (0: one frame), RSV1 on
   * the first frame only (RFC 7692 §6.1).
   */
  async messageFrames(opcode: number, payload: Uint8Array | string, options: { compress?: boolean; fragmentSize?: number } = {}): Promise<FrameSpec[]> {
    const compress = options.compress ?? this.deflate !== undefined;
    const body = compress ? await this.compress(payload) : toBytes(payload);
    const size = options.fragmentSize ?? 0;
    const frames: FrameSpec[] = [];
    for (let at = 0; at === 0 || at < body.length; at += size > 0 ? size : body.length) {
      const end = size > 0 ? Math.min(at + size, body.length) : body.length;
      frames.push({
        opcode: at === 0 ? opcode : OP.CONT,
        rsv: at === 0 && compress ? RSV1 : 0,
        fin: end >= body.length,
        payload: body.subarray(at, end),
      });
      if (end >= body.length) break;
    }
    return frames;
  }

  /** Compresses (see `messageFrames`) and sends one message. */
  async sendMessage(opcode: number, payload: Uint8Array | string, options: { compress?: boolean; fragmentSize?: number } = {}): Promise<void> {
    await this.send(await this.messageFrames(opcode, payload, options));
  }

  // ---- Receiving ----

  /** The next data message, reassembled and inflated (§7.2.2); a control frame in between fails. */
  override async nextMessage(timeoutMs = FRAME_TIMEOUT_MS): Promise<ReceivedMessage> {
    const frames = await this.nextMessageFrames(timeoutMs);
    const wire = Buffer.concat(frames.map((frame) => frame.payload));
    const compressed = (frames[0].rsv & RSV1) !== 0;
    const payload = compressed ? await this.inflater!.inflate(wire) : wire;
    return { opcode: frames[0].opcode, payload, compressed, wireLength: wire.length, frames: frames.length };
  }

  /**
   * The next message is the echo of `payload`: same opcode, same bytes once inflated.
   * `compressed`, when given, is whether the server must have compressed it. A bare
   * number is the timeout, as in harness.ts.
   */
  override async expectEcho(
    opcode: number,
    payload: Uint8Array | string,
    options: { compressed?: boolean; timeoutMs?: number } | number = {},
  ): Promise<ReceivedMessage> {
    const { compressed, timeoutMs } = typeof options === "number" ? { compressed: undefined, timeoutMs: options } : options;
    const message = await this.nextMessage(timeoutMs);
    expectSameMessage(message, opcode, payload);
    if (compressed !== undefined) {
      expect(message.compressed, `echo of ${message.payload.length} B ${compressed ? "" : "not "}compressed`).toBe(compressed);
    }
    return message;
  }

  override destroy(): void {
    this.deflater?.close();
    this.inflater?.close();
    super.destroy();
  }
}

/**
 * Opens a connection with the given extension offer and checks the 101: the accept key,
 * and that the Sec-WebSocket-Extensions answer is valid for the offer (RFC 6455 §9.1: only
 * offered extensions; RFC 7692 §7.1: a valid acceptance of one of the permessage-deflate
 * offers). The client then compresses and inflates as the answer says.
 */
export function connectDeflate(port: number, options: ConnectOptions = {}): Promise<DeflateClient> {
  const offerLines = options.offer === undefined ? [] : [options.offer].flat();
  const extraHeaders = offerLines.map((line) => `Sec-WebSocket-Extensions: ${line}`);
  return openConnection(port, options.path ?? "/", extraHeaders, (socket, headers) => {
    const header = headers.get("sec-websocket-extensions");
    const deflate = header === undefined ? undefined : negotiatedDeflate(header, offerLines, options.checkResponse ?? true);
    return new DeflateClient(socket, header, deflate, options);
  });
}

/**
 * The parameters agreed by the 101's Sec-WebSocket-Extensions `header`, or undefined when
 * it does not accept permessage-deflate. It may only name offered extensions (RFC 6455
 * §9.1), permessage-deflate at most once, and (when `check`) as a valid acceptance of one
 * of the offers (RFC 7692 §7.1).
 */
function negotiatedDeflate(header: string, offerLines: string[], check: boolean): DeflateParams | undefined {
  const answered = parseExtensionList(header);
  const offered = offerLines.length === 0 ? [] : parseExtensionList(offerLines.join(", "));
  for (const extension of answered) {
    expect(offered.map((o) => o.name), `the response names ${extension.name}, which was not offered (RFC 6455 §9.1)`).toContain(extension.name);
  }
  const deflates = answered.filter((e) => e.name === "permessage-deflate");
  expect(deflates.length, "permessage-deflate answered at most once").toBeLessThanOrEqual(1);
  if (deflates.length === 0) return undefined;
  if (check) {
    const candidates = offered.filter((o) => o.name === "permessage-deflate");
    const violations = candidates.map((o) => responseViolation(deflates[0], o));
    expect(violations.some((v) => v === undefined), `"${header}" accepts none of the offers: ${violations.join("; ")}`).toBe(true);
  }
  return agreedParams(deflates[0]);
}

/**
 * Autobahn's loop (case12_x_x.py): send one message, wait for its echo, compare, send the
 * next. `threshold`: the server's, to check each echo's RSV1 (see `compressionExpected`);
 * undefined: not checked.
 */
export async function echoSeries(
  client: DeflateClient,
  opcode: number,
  messages: Iterable<Buffer>,
  options: { fragmentSize?: number; threshold?: number; timeoutMs?: number } = {},
): Promise<{ count: number; sentWire: number; receivedWire: number; receivedCompressed: number }> {
  let count = 0;
  let sentWire = 0;
  let receivedWire = 0;
  let receivedCompressed = 0;
  for (const message of messages) {
    const frames = await client.messageFrames(opcode, message, { fragmentSize: options.fragmentSize });
    sentWire += frames.reduce((sum, f) => sum + toBytes(f.payload ?? "").length, 0);
    await client.send(frames);
    const echoed = await client.nextMessage(options.timeoutMs);
    if (echoed.opcode !== opcode || !echoed.payload.equals(message)) {
      throw new Error(
        `message ${count + 1}: echo differs: sent ${opcodeName(opcode)} ${describeBytes(message)}, ` +
          `got ${opcodeName(echoed.opcode)} ${describeBytes(echoed.payload)}`,
      );
    }
    checkCompression(client, count, message, echoed.compressed, options.threshold);
    if (echoed.compressed) receivedCompressed++;
    receivedWire += echoed.wireLength;
    count++;
  }
  return { count, sentWire, receivedWire, receivedCompressed };
}

/**
 * Pipelined: every message is sent before any echo is read (a burst the server must keep
 * in order, whatever it compresses synchronously and whatever on the thread pool), then
 * the echoes are checked in order. `threshold` as in `echoSeries`.
 */
export async function echoPipelined(
  client: DeflateClient,
  opcode: number,
  messages: Buffer[],
  options: { fragmentSize?: number; threshold?: number; timeoutMs?: number } = {},
): Promise<void> {
  const reading = (async () => {
    for (let i = 0; i < messages.length; i++) {
      const echoed = await client.nextMessage(options.timeoutMs);
      if (echoed.opcode !== opcode || !echoed.payload.equals(messages[i])) {
        throw new Error(
          `message ${i + 1} of ${messages.length}: echo differs (out of order?): sent ${opcodeName(opcode)} ` +
            `${describeBytes(messages[i])}, got ${opcodeName(echoed.opcode)} ${describeBytes(echoed.payload)}`,
        );
      }
      checkCompression(client, i, messages[i], echoed.compressed, options.threshold);
    }
  })();
  reading.catch(() => {}); // awaited below; a failure while still sending must not go unhandled
  for (const message of messages) await client.send(await client.messageFrames(opcode, message, { fragmentSize: options.fragmentSize }));
  await reading;
}

// ---------------------------------------------------------------------------------------
// Autobahn's test data, synthesised
// ---------------------------------------------------------------------------------------

/** A small deterministic PRNG (mulberry32): the same data on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna " +
  "aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat duis aute " +
  "irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non " +
  "proident sunt culpa qui officia deserunt mollit anim id est laborum websocket frame message deflate window"
).split(" ");

const GERMAN = (
  "Habe nun ach Philosophie Juristerei und Medizin und leider auch Theologie durchaus studiert mit heißem Bemühn " +
  "Da steh ich nun ich armer Tor und bin so klug als wie zuvor Heiße Magister heiße Doktor gar und ziehe schon an die " +
  "zehen Jahr herauf herab und quer und krumm meine Schüler an der Nase herum Und sehe daß wir nichts wissen können " +
  "Das will mir schier das Herz verbrennen Zwar bin ich gescheiter als all die Laffen Doktoren Magister Schreiber und " +
  "Pfaffen Mich plagen keine Skrupel noch Zweifel Fürchte mich weder vor Hölle noch Teufel Dafür ist mir auch alle " +
  "Freud entrissen Bilde mir nicht ein was Rechts zu wissen Gretchen Mephistopheles Wagner Marthe Straße Kerker Nacht"
).split(" ");

function fill(size: number, next: () => string): Buffer {
  const parts: string[] = [];
  let length = 0;
  while (length < size + 64) {
    const part = next();
    parts.push(part);
    length += Buffer.byteLength(part);
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

function jsonData(size: number): Buffer {
  const rnd = prng(1);
  const word = (): string => WORDS[Math.floor(rnd() * WORDS.length)];
  let id = 0;
  return fill(size, () =>
    `${id === 0 ? "[" : ","}{"id":${id++},"guid":"${randomHex(rnd, 8)}-${randomHex(rnd, 4)}","isActive":${rnd() < 0.5},` +
    `"balance":${(rnd() * 10000).toFixed(2)},"name":"${word()} ${word()}","tags":["${word()}","${word()}","${word()}"],` +
    `"about":"${Array.from({ length: 8 + Math.floor(rnd() * 16) }, word).join(" ")}"}\n`,
  );
}

function htmlData(size: number): Buffer {
  const rnd = prng(2);
  const word = (): string => WORDS[Math.floor(rnd() * WORDS.length)];
  let row = 0;
  return fill(size, () =>
    (row++ === 0 ? "<!DOCTYPE html>\n<html><head><title>data</title></head><body>\n" : "") +
    `<div class="row r${row % 7}"><a href="/${word()}/${row}.html">${word()} ${word()}</a>` +
    `<table><tr><td>${row}</td><td>${word()}</td><td>${(rnd() * 100).toFixed(3)}</td></tr></table>` +
    `<p>${Array.from({ length: 5 + Math.floor(rnd() * 20) }, word).join(" ")}</p></div>\n`,
  );
}

function germanText(size: number): Buffer {
  const rnd = prng(3);
  const word = (): string => GERMAN[Math.floor(rnd() * GERMAN.length)];
  return fill(size, () => `${Array.from({ length: 3 + Math.floor(rnd() * 7) }, word).join(" ")}${rnd() < 0.2 ? ".\n\n" : ",\n"}`);
}

/** A 512x512 8-bit greyscale BMP: 1078 bytes of header and palette, then smooth pixels with noise. */
function bitmap(): Buffer {
  const rnd = prng(4);
  const header = Buffer.alloc(1078);
  header.write("BM", 0, "latin1");
  header.writeUInt32LE(1078 + 512 * 512, 2);
  header.writeUInt32LE(1078, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(512, 18);
  header.writeInt32LE(512, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(8, 28);
  header.writeUInt32LE(512 * 512, 34);
  for (let i = 0; i < 256; i++) header.writeUInt32LE(i * 0x010101, 54 + 4 * i);
  const pixels = Buffer.alloc(512 * 512);
  for (let y = 0; y < 512; y++) {
    for (let x = 0; x < 512; x++) {
      const smooth = 128 + 60 * Math.sin(x / 37) * Math.cos(y / 23) + 40 * Math.sin((x + y) / 91);
      pixels[y * 512 + x] = Math.max(0, Math.min(255, Math.round(smooth + (rnd() - 0.5) * 24)));
    }
  }
  return Buffer.concat([header, pixels]);
}

/** A PDF-like file: object syntax in ASCII around streams of incompressible bytes. */
function pdfData(size: number): Buffer {
  const rnd = prng(5);
  const parts: Buffer[] = [Buffer.from("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "latin1")];
  let length = parts[0].length;
  for (let n = 1; length < size; n++) {
    const streamLength = 512 + Math.floor(rnd() * 8192);
    const stream = Buffer.alloc(streamLength);
    for (let i = 0; i < streamLength; i++) stream[i] = Math.floor(rnd() * 256);
    const head = Buffer.from(`${n} 0 obj\n<< /Length ${streamLength} /Filter /FlateDecode /Type /XObject /Subtype /Image >>\nstream\n`);
    const tail = Buffer.from(`\nendstream\nendobj\n${n + 1} 0 obj\n<< /Type /Page /Parent 3 0 R /Resources << /Font << /F1 ${n} 0 R >> >> >>\nendobj\n`);
    parts.push(head, stream, tail);
    length += head.length + stream.length + tail.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

function randomHex(rnd: () => number, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) out += "0123456789abcdef"[Math.floor(rnd() * 16)];
  return out;
}

export interface TestData {
  /** Autobahn's subcategory: 12.1 ... 12.5. */
  id: string;
  /** Autobahn's description, and the size of its file. */
  desc: string;
  size: number;
  /** Sent as binary (Autobahn's `binary` flag) or as text. */
  binary: boolean;
  /** The synthetic stand-in for Autobahn's file (same size, kind and compressibility class). */
  bytes: () => Buffer;
}

function lazy(make: () => Buffer): () => Buffer {
  let cached: Buffer | undefined;
  return () => (cached ??= make());
}

/**
 * Autobahn's WS_COMPRESSION_TESTDATA in the order its reports list them (12.1-12.5). The
 * files are not shipped here; each is replaced by deterministic data of the same size and
 * kind. The text ones are pure ASCII, so any slice of them is valid UTF-8, as Autobahn's
 * are (it cuts them at any byte and sends them as text).
 */
export const TEST_DATA: TestData[] = [
  { id: "12.1", desc: "Large JSON data file", size: 194_056, binary: false, bytes: lazy(() => jsonData(194_056)) },
  { id: "12.2", desc: "Lena Picture, Bitmap 512x512 bw", size: 263_222, binary: true, bytes: lazy(bitmap) },
  { id: "12.3", desc: "Human readable text, Goethe's Faust I (German)", size: 222_218, binary: true, bytes: lazy(() => germanText(222_218)) },
  { id: "12.4", desc: "Large HTML file", size: 83_564, binary: false, bytes: lazy(() => htmlData(83_564)) },
  { id: "12.5", desc: "A larger PDF", size: 1_042_328, binary: true, bytes: lazy(() => pdfData(1_042_328)) },
];

/**
 * Autobahn's sendOne: consecutive `length`-byte slices of `data`, wrapping around at its
 * end. `length` may vary: a function of the message's index.
 */
export function* ringSlices(data: Buffer, length: number | ((index: number) => number), count: number): Generator<Buffer> {
  let at = 0;
  for (let i = 0; i < count; i++) {
    const to = (at + (typeof length === "number" ? length : length(i))) % data.length;
    yield to > at ? data.subarray(at, to) : Buffer.concat([data.subarray(at), data.subarray(0, to)]);
    at = to;
  }
}

/** Autobahn's MSG_SIZES: (payload length, message count, case timeout in s, auto-fragment size). */
export const MSG_SIZES: Array<[length: number, count: number, timeoutS: number, fragment: number]> = [
  [16, 1000, 60, 0],
  [64, 1000, 60, 0],
  [256, 1000, 120, 0],
  [1024, 1000, 240, 0],
  [4096, 1000, 480, 0],
  [8192, 1000, 480, 0],
  [16384, 1000, 480, 0],
  [32768, 1000, 480, 0],
  [65536, 1000, 480, 0],
  [131072, 1000, 480, 0],
  [8192, 1000, 480, 256],
  [16384, 1000, 480, 256],
  [32768, 1000, 480, 256],
  [65536, 1000, 480, 256],
  [131072, 1000, 480, 256],
  [131072, 1000, 480, 1024],
  [131072, 1000, 480, 4096],
  [131072, 1000, 480, 32768],
];

/**
 * How many of Autobahn's 1000 messages a case sends here: all of them up to `budget`
 * bytes of payload, fewer for the large sizes (never fewer than `minimum`), so a whole
 * section runs in seconds. Every size and fragment size is kept.
 */
export function boundedCount(length: number, count: number, budget: number, minimum = 8): number {
  return Math.min(count, Math.max(minimum, Math.floor(budget / length)));
}

export const fmtSize = (n: number): string => (n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);
