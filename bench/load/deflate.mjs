/**
 * The load generator's side of permessage-deflate (RFC 7692), for the deflate-* scenarios.
 *
 * It offers the extension exactly as Chromium does, reads the server's answer, and obeys
 * it: messages are compressed with raw DEFLATE, flushed with Z_SYNC_FLUSH and sent without
 * the final 00 00 ff ff (§7.2.1), with RSV1 set on the first frame (§6), masked, within
 * the window the server allows (`client_max_window_bits`). Each message is compressed from
 * a fresh context: that is what `client_no_context_takeover` requires, and what a client
 * may always do (§7.1.1.2: the server's inflater never needs back-references the client did
 * not make), so the same compressed bytes can be made once and written again and again.
 *
 * Replies are inflated on sampled connections only (the others just count frames): with
 * `server_no_context_takeover` every reply stands alone; without it (ws's default) a reply
 * may refer to earlier ones, so a sampled connection inflates every reply it gets, in
 * order, each with the window of those before it (see ReplyInflater).
 */
import zlib from "node:zlib";
import { maskedFrame } from "./frames.mjs";

/** What Chromium sends (and Firefox, Safari): the offer the scenarios make. */
export const CHROMIUM_OFFER = "permessage-deflate; client_max_window_bits";

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * The agreed parameters from a 101's `Sec-WebSocket-Extensions` value (undefined or "":
 * no extension, the connection is uncompressed). Throws on an answer a client must fail
 * the connection for (§7.1: unknown or repeated parameters, bad values, other extensions).
 */
export function parseDeflateResponse(value) {
  if (value === undefined || value.trim() === "") return undefined;
  const extensions = value.split(",");
  if (extensions.length !== 1) throw new Error(`extensions: more than one accepted: ${value}`);
  const [name, ...parts] = extensions[0].split(";").map((s) => s.trim());
  if (name.toLowerCase() !== "permessage-deflate") throw new Error(`extensions: not offered: ${name}`);
  const params = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const seen = new Set();
  for (const part of parts) {
    const [key, raw] = part.split("=").map((s) => s.trim());
    const val = raw === undefined ? undefined : raw.replace(/^"(.*)"$/, "$1");
    if (seen.has(key)) throw new Error(`extensions: ${key} twice`);
    seen.add(key);
    const bits = () => {
      if (val === undefined || !/^(?:[89]|1[0-5])$/.test(val)) throw new Error(`extensions: bad ${key}=${val}`);
      return Number(val);
    };
    if (key === "server_no_context_takeover" && val === undefined) params.serverNoContextTakeover = true;
    else if (key === "client_no_context_takeover" && val === undefined) params.clientNoContextTakeover = true;
    else if (key === "server_max_window_bits") params.serverMaxWindowBits = bits();
    else if (key === "client_max_window_bits") params.clientMaxWindowBits = bits();
    else throw new Error(`extensions: unexpected parameter ${part}`);
  }
  return params;
}

/**
 * `payload` as one compressed message body: raw DEFLATE from a fresh context with at most
 * `windowBits`, Z_SYNC_FLUSH, the trailing 00 00 ff ff removed (§7.2.1).
 */
export function compress(payload, windowBits) {
  // zlib refuses an 8-bit window for raw deflate (it would silently use 9), and a client
  // limited to 8 must not send with 9: no server here asks for it.
  if (windowBits < 9) throw new Error(`client_max_window_bits=${windowBits} is not supported by the load generator`);
  // zlib's default level and memLevel 8, as Chromium's WebSocketDeflater uses.
  const out = zlib.deflateRawSync(payload, {
    level: zlib.constants.Z_DEFAULT_COMPRESSION,
    memLevel: 8,
    windowBits,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  if (!out.subarray(-4).equals(TRAILER)) throw new Error("deflate output does not end with 00 00 ff ff");
  return out.subarray(0, out.length - 4);
}

/** One masked client frame carrying `payload`, compressed (RSV1) when `params` says so. */
export function clientMessageFrame(opcode, payload, params) {
  if (params === undefined) return maskedFrame(opcode, payload);
  const frame = maskedFrame(opcode, compress(payload, params.clientMaxWindowBits));
  frame[0] |= 0x40;
  return frame;
}

/**
 * Frames of `messages[0..]` back to back, `extra` more than one cycle, with the offset of
 * each: frames i .. i+n-1 (n ≤ extra, i < messages.length) are `bytes.subarray(offsets[i],
 * offsets[i + n])`, each frame message `(i + j) % messages.length`.
 */
export function frameRing(messages, extra, makeFrame) {
  const frames = messages.map(makeFrame);
  const order = [];
  for (let i = 0; i < messages.length + extra; i++) order.push(frames[i % frames.length]);
  const offsets = [0];
  for (const f of order) offsets.push(offsets[offsets.length - 1] + f.length);
  const bytes = Buffer.concat(order);
  const wire = frames.reduce((sum, f) => sum + f.length, 0);
  return { bytes, offsets, frameBytes: wire / frames.length };
}

// ---- Messages ----

const WORDS = (
  "alpha beta gamma delta status active pending shipped user order item price total " +
  "quantity created updated region europe america asia warehouse blue green red small " +
  "large medium express standard priority note customer account balance currency eur usd"
).split(" ");

/** A small deterministic PRNG (mulberry32): the same messages in every process and run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A JSON document of exactly `size` bytes (ASCII) like an API or chat server sends:
 * records with repeated keys, ids, prices, timestamps and words, the rest of the size in a
 * final "note". Different seeds give different documents that share the vocabulary.
 */
export function jsonMessage(size, seed) {
  const random = prng(seed * 7919 + size);
  const pick = () => WORDS[Math.floor(random() * WORDS.length)];
  const head = `{"seq":${seed},"type":"orders.update","items":[`;
  const tail = (note) => `],"note":"${note}"}`;
  let body = "";
  for (;;) {
    const item =
      `{"id":${100000 + Math.floor(random() * 900000)},"user":"${pick()}_${Math.floor(random() * 1000)}",` +
      `"status":"${pick()}","price":${(random() * 500).toFixed(2)},"qty":${1 + Math.floor(random() * 20)},` +
      `"created":"2026-${String(1 + Math.floor(random() * 12)).padStart(2, "0")}-${String(1 + Math.floor(random() * 28)).padStart(2, "0")}T${String(Math.floor(random() * 24)).padStart(2, "0")}:${String(Math.floor(random() * 60)).padStart(2, "0")}:00Z",` +
      `"tags":["${pick()}","${pick()}"]}`;
    const next = body === "" ? item : `${body},${item}`;
    if (head.length + next.length + tail("").length + 16 > size) break;
    body = next;
  }
  let note = "";
  while (head.length + body.length + tail(note).length < size) note += `${pick()} `;
  const text = head + body + tail(note.slice(0, size - head.length - body.length - tail("").length));
  const bytes = Buffer.from(text, "latin1");
  if (bytes.length !== size) throw new Error(`jsonMessage: ${bytes.length} bytes, wanted ${size}`);
  return bytes;
}

/**
 * `count` distinct messages of `size` bytes. With context takeover (ws's default) a
 * server's compressor finds a message it sent within its last 32 KiB again, and sends a
 * back-reference instead: to measure compression, not that, the cycle spans at least
 * twice the largest window.
 */
export function distinctMessages(size, minCount = 8) {
  const count = Math.max(minCount, Math.ceil((2 * 32768) / size));
  return Array.from({ length: count }, (_, i) => jsonMessage(size, i + 1));
}

// ---- Reading replies in full ----

/**
 * Reassembles whole messages from the server's unmasked frames:
 * `onMessage(payload, compressed, opcode)` for data messages (fragments joined),
 * `onControl(opcode, payload)` for control frames.
 */
export class MessageReader {
  constructor(onMessage, onControl = () => {}) {
    this.onMessage = onMessage;
    this.onControl = onControl;
    this.buffer = Buffer.alloc(0);
    this.fragments = [];
    this.compressed = false;
    this.opcode = 0;
  }

  push(chunk) {
    let buf = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let pos = 0;
    for (;;) {
      if (buf.length - pos < 2) break;
      const b0 = buf[pos];
      const b1 = buf[pos + 1];
      const len7 = b1 & 0x7f;
      const masked = (b1 & 0x80) !== 0;
      const header = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
      if (buf.length - pos < header) break;
      const length =
        len7 < 126 ? len7 : len7 === 126 ? buf.readUInt16BE(pos + 2) : buf.readUInt32BE(pos + 2) * 2 ** 32 + buf.readUInt32BE(pos + 6);
      if (buf.length - pos < header + length) break;
      let payload = buf.subarray(pos + header, pos + header + length);
      if (masked) {
        const key = buf.subarray(pos + header - 4, pos + header);
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      }
      pos += header + length;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode >= 8) {
        this.onControl(opcode, payload);
        continue;
      }
      if (opcode !== 0) {
        this.opcode = opcode;
        this.compressed = (b0 & 0x40) !== 0;
        this.fragments = [];
      }
      if (fin && this.fragments.length === 0) this.onMessage(payload, this.compressed, this.opcode);
      else {
        this.fragments.push(Buffer.from(payload));
        if (fin) {
          this.onMessage(Buffer.concat(this.fragments), this.compressed, this.opcode);
          this.fragments = [];
        }
      }
    }
    this.buffer = pos === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
  }
}

/** The largest LZ77 window (window bits 15): how far back a server's reply may refer. */
const WINDOW = 32 * 1024;

/**
 * Inflates one connection's compressed replies, in order, synchronously: `inflate(body)`
 * returns the message. Without server context takeover each body stands alone; with it
 * (ws's default) a reply may refer back into the replies before it, so the last 32 KiB
 * of what this connection received are given to zlib as the preset dictionary: for raw
 * DEFLATE that is exactly the sliding window a persistent inflate stream would hold. (A
 * persistent asynchronous stream would cost a thread-pool round trip per reply, and
 * Node has no synchronous one.)
 */
export class ReplyInflater {
  constructor(params) {
    this.takeover = !params.serverNoContextTakeover;
    this.history = Buffer.alloc(0);
  }

  inflate(body) {
    const input = Buffer.concat([body, TRAILER]);
    const options = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
    if (!this.takeover) return zlib.inflateRawSync(input, options);
    const out = zlib.inflateRawSync(input, this.history.length > 0 ? { ...options, dictionary: this.history } : options);
    const joined = Buffer.concat([this.history, out]);
    this.history = Buffer.from(joined.subarray(Math.max(0, joined.length - WINDOW)));
    return out;
  }

  close() {
    this.history = Buffer.alloc(0);
  }
}
