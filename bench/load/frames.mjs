/**
 * The load generator's side of the protocol, built to cost as little as possible per
 * message: frames are masked once, up front, and the same bytes are written again and
 * again (never modified after the first write, so reusing them is safe); what comes back
 * is only counted: headers are read, payloads are skipped without being copied.
 */
import { createHash, randomBytes } from "node:crypto";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One fixed handshake key per process: the servers accept any valid key. */
export const KEY = randomBytes(16).toString("base64");
export const EXPECTED_ACCEPT = createHash("sha1").update(KEY + GUID).digest("base64");

/**
 * The opening handshake request of RFC 6455 §4.1 (what a browser sends, minus cookies);
 * `extensions`, when given, is sent as Sec-WebSocket-Extensions.
 */
export function upgradeRequest(port, path, extensions) {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${port}\r\n` +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${KEY}\r\n` +
      "Sec-WebSocket-Version: 13\r\n" +
      (extensions === undefined ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
      "\r\n",
    "latin1",
  );
}

export const Opcode = { Text: 1, Binary: 2, Close: 8 };

/** One masked client frame (RFC 6455 §5.2, §5.3) with a random key. */
export function maskedFrame(opcode, payload) {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + length);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) frame[1] = 0x80 | length;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const keyAt = 2 + lengthBytes;
  const key = randomBytes(4);
  key.copy(frame, keyAt);
  for (let i = 0; i < length; i++) frame[keyAt + 4 + i] = payload[i] ^ key[i & 3];
  return frame;
}

/** `count` copies of `frame` back to back: write `subarray(0, k * frame.length)` for k frames. */
export function repeated(frame, count) {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

/** A payload of `size` bytes: printable ASCII, so it is valid UTF-8 for text frames too. */
export function payloadOf(size) {
  const payload = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) payload[i] = 0x61 + (i % 26);
  return payload;
}

/** A masked close frame with status 1000 (RFC 6455 §5.5.1). */
export const CLOSE_FRAME = maskedFrame(Opcode.Close, Buffer.from([0x03, 0xe8]));

const MAX_HEADER = 14;

/**
 * Counts the frames of an incoming byte stream from their headers alone. Payloads are
 * skipped, even when they span many chunks; only a header cut by a chunk boundary is
 * copied (at most 14 bytes). A frame counts when its last byte has arrived:
 * `onFrame(opcode, payloadLength)`. Handles masked frames too (the net echo server sends
 * the client's frames back as they were). A third argument, the frame's first byte (FIN,
 * RSV1-3, opcode), is there for those who want the bits.
 */
export class FrameCounter {
  constructor(onFrame) {
    this.onFrame = onFrame;
    /** Payload bytes of the current frame still to skip. */
    this.skip = 0;
    this.skipOpcode = 0;
    this.skipLength = 0;
    this.skipFirst = 0;
    this.header = Buffer.allocUnsafe(MAX_HEADER);
    this.headerLength = 0;
  }

  push(chunk) {
    const length = chunk.length;
    let pos = 0;
    if (this.skip > 0) {
      const take = Math.min(this.skip, length);
      this.skip -= take;
      pos = take;
      if (this.skip === 0) this.onFrame(this.skipOpcode, this.skipLength, this.skipFirst);
    }
    if (this.headerLength > 0 && pos < length) {
      // Complete the header that the last chunk cut, in the 14-byte scratch buffer.
      const had = this.headerLength;
      const take = Math.min(MAX_HEADER - had, length - pos);
      chunk.copy(this.header, had, pos, pos + take);
      const size = headerSize(this.header, 0, had + take);
      if (size < 0) {
        this.headerLength = had + take;
        return;
      }
      this.headerLength = 0;
      pos = this.payload(this.header, 0, size, pos + size - had, length);
    }
    while (pos < length) {
      const size = headerSize(chunk, pos, length);
      if (size < 0) {
        chunk.copy(this.header, 0, pos, length);
        this.headerLength = length - pos;
        return;
      }
      pos = this.payload(chunk, pos, size, pos + size, length);
    }
  }

  /** The header at `source[at]` is `size` bytes; its payload starts at `pos` in the chunk. */
  payload(source, at, size, pos, length) {
    const opcode = source[at] & 0x0f;
    const payloadLength = payloadLengthOf(source, at);
    const available = length - pos;
    if (available >= payloadLength) {
      this.onFrame(opcode, payloadLength, source[at]);
      return pos + payloadLength;
    }
    this.skip = payloadLength - available;
    this.skipOpcode = opcode;
    this.skipLength = payloadLength;
    this.skipFirst = source[at];
    return length;
  }
}

/** Size of the header at `pos`, or -1 when the bytes up to `end` do not hold all of it. */
function headerSize(buf, pos, end) {
  if (end - pos < 2) return -1;
  const b1 = buf[pos + 1];
  const len7 = b1 & 0x7f;
  const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
  return end - pos >= size ? size : -1;
}

function payloadLengthOf(buf, pos) {
  const len7 = buf[pos + 1] & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return buf.readUInt16BE(pos + 2);
  return buf.readUInt32BE(pos + 2) * 0x100000000 + buf.readUInt32BE(pos + 6);
}

/**
 * Reads the 101 response of the opening handshake from the start of a stream. `push`
 * returns undefined while the head is incomplete, then the bytes after it (frames); it
 * throws when the answer is not a valid 101 for our key. After it, `extensions` is the
 * response's Sec-WebSocket-Extensions value (undefined when there is none).
 */
export class HandshakeReader {
  constructor() {
    this.head = "";
    this.extensions = undefined;
  }

  push(chunk) {
    this.head += chunk.toString("latin1");
    const end = this.head.indexOf("\r\n\r\n");
    if (end === -1) {
      if (this.head.length > 16384) throw new Error("handshake response head too long");
      return undefined;
    }
    const head = this.head.slice(0, end);
    if (!head.startsWith("HTTP/1.1 101")) throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
    if (!head.includes(EXPECTED_ACCEPT)) throw new Error("handshake: wrong Sec-WebSocket-Accept");
    const extensions = [...head.matchAll(/\r\nSec-WebSocket-Extensions:[ \t]*([^\r]*)/gi)].map((m) => m[1].trim());
    if (extensions.length > 0) this.extensions = extensions.join(", ");
    return chunk.subarray(chunk.length - (this.head.length - end - 4));
  }
}
