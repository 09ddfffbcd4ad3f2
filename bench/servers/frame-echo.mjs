/**
 * The echo server of the client scenarios (client-echo-small, client-echo-1m): the least a
 * conformant WebSocket echo server can be, on `node:net`, so that the clients under test,
 * not the server, are the limit.
 *
 * The bench's `net` echo (net-echo.mjs) is faster still, but it sends the client's masked
 * frames back as they came, and a client must fail a connection on a masked frame from a
 * server (RFC 6455 §5.1). This one answers the opening handshake (the 101 with its
 * Sec-WebSocket-Accept; no subprotocol, no extension), then rewrites each chunk it reads in
 * place into the reply frames: every header loses its mask bit and key, every payload is
 * unmasked (wsraw's `mask` from dist/frame: a word-wise XOR), and the chunk goes back with
 * one `write()`. A payload that spans many chunks is unmasked as it goes (the key rotated
 * by the offset), so a 1 MiB message is never gathered. Messages are not reassembled or
 * checked: fragments go back as fragments, text is not validated. A ping gets a pong; a
 * close frame is sent back (the same code) and followed by FIN.
 *
 * The handshake request must arrive in one chunk, as both clients' do on loopback.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:net";
import { runBenchServer } from "./harness.mjs";

const { mask } = await import("../../dist/frame/index.js");

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEADER = 14;

let open = 0;
const server = createServer({ noDelay: true }, (socket) => {
  open++;
  socket.on("close", () => open--);
  socket.on("error", () => {});
  socket.on("end", () => socket.end());
  socket.once("data", (first) => {
    const head = first.toString("latin1");
    const end = head.indexOf("\r\n\r\n");
    const key = /\r\nSec-WebSocket-Key: *([^\r]*)\r\n/i.exec(head)?.[1];
    if (!head.startsWith("GET ") || end === -1 || key === undefined) {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const accept = createHash("sha1").update(key + GUID).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const echo = new Unmasker(socket);
    const push = (chunk) => {
      try {
        echo.push(chunk);
      } catch {
        socket.destroy(); // not a client's frames
      }
    };
    socket.on("data", push);
    if (end + 4 < first.length) push(first.subarray(end + 4));
  });
});

/** Turns a stream of masked client frames into unmasked server frames, chunk by chunk. */
class Unmasker {
  constructor(socket) {
    this.socket = socket;
    /** Payload bytes of the current frame still to come, its key and how many have passed. */
    this.left = 0;
    this.key = Buffer.alloc(4);
    this.offset = 0;
    /** A header cut by the end of the last chunk. */
    this.header = Buffer.allocUnsafe(MAX_HEADER);
    this.headerLength = 0;
    this.closing = false;
  }

  push(chunk) {
    if (this.closing) return;
    const length = chunk.length;
    let pos = 0; // next byte to read
    let out = 0; // next byte to write (out <= pos: headers only shrink)
    let prefix; // a reply header that did not fit in front of its payload
    if (this.left > 0) {
      const take = Math.min(this.left, length);
      mask(chunk.subarray(0, take), this.key, this.offset);
      this.left -= take;
      this.offset += take;
      pos = out = take;
    }
    if (this.headerLength > 0 && pos < length) {
      const had = this.headerLength;
      const take = Math.min(MAX_HEADER - had, length - pos);
      chunk.copy(this.header, had, pos, pos + take);
      const size = headerSize(this.header, 0, had + take);
      if (size < 0) {
        this.headerLength = had + take;
        return;
      }
      this.headerLength = 0;
      const reply = Buffer.allocUnsafe(size - 4);
      const payloadAt = pos + size - had;
      this.rewriteHeader(this.header, 0, reply, 0, size);
      prefix = reply;
      ({ pos, out } = this.payload(chunk, payloadAt, payloadAt, length));
    }
    while (pos < length) {
      const size = headerSize(chunk, pos, length);
      if (size < 0) {
        chunk.copy(this.header, 0, pos, length);
        this.headerLength = length - pos;
        break;
      }
      this.rewriteHeader(chunk, pos, chunk, out, size);
      ({ pos, out } = this.payload(chunk, pos + size, out + size - 4, length));
      if (this.closing) break;
    }
    if (prefix !== undefined) this.socket.write(prefix);
    if (out > 0) this.socket.write(out === length ? chunk : chunk.subarray(0, out));
    if (this.closing) this.socket.end();
  }

  /** Copies the header at `source[at]` (`size` bytes, masked) to `target[to]` without its mask. */
  rewriteHeader(source, at, target, to, size) {
    source.copy(this.key, 0, at + size - 4, at + size);
    const first = source[at];
    const opcode = first & 0x0f;
    if (opcode === 0x8) this.closing = true;
    target[to] = opcode === 0x9 ? (first & 0xf0) | 0xa : first; // ping -> pong
    target[to + 1] = source[at + 1] & 0x7f;
    if (size - 4 > 2) source.copy(target, to + 2, at + 2, at + size - 4);
    this.left = payloadLengthOf(source, at);
    this.offset = 0;
  }

  /** Unmasks what of the current payload is in the chunk from `pos`, moved to `out`. */
  payload(chunk, pos, out, length) {
    const take = Math.min(this.left, length - pos);
    if (take > 0) {
      const part = chunk.subarray(pos, pos + take);
      mask(part, this.key, 0);
      if (out !== pos) chunk.copyWithin(out, pos, pos + take);
      this.left -= take;
      this.offset = take;
    }
    return { pos: pos + take, out: out + take };
  }
}

/** Size of the header at `pos`, or -1 when the bytes up to `end` do not hold all of it. */
function headerSize(buf, pos, end) {
  if (end - pos < 2) return -1;
  const b1 = buf[pos + 1];
  if ((b1 & 0x80) === 0) throw new Error("unmasked client frame");
  const len7 = b1 & 0x7f;
  const size = 6 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
  return end - pos >= size ? size : -1;
}

function payloadLengthOf(buf, pos) {
  const len7 = buf[pos + 1] & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return buf.readUInt16BE(pos + 2);
  return buf.readUInt32BE(pos + 2) * 0x100000000 + buf.readUInt32BE(pos + 6);
}

await runBenchServer("frame-echo", {
  info: { deflate: "none" },
  start: () =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve(server.address().port));
    }),
  connections: () => open,
});
