/**
 * The ceiling: a plain node:net server that writes every byte back (no WebSocket at all,
 * so the masked frames come back as they were sent). Echo scenarios against it show how
 * fast the load generator and the loopback can go; idle connections against it show the
 * memory floor of a bare Node socket.
 *
 * A connection that starts with "GET " gets the least a WebSocket handshake can be
 * instead: the 101 with its Sec-WebSocket-Accept (no other check; the request must arrive
 * in one chunk, as the load generator's does on loopback), then a close frame and FIN in
 * answer to the client's close frame. That is the handshake scenario's ceiling.
 *
 * A handshake for /broadcast makes the connection a member of the broadcast ceiling
 * instead: every data frame any member sends goes to every member (the sender included),
 * unmasked, with one write per member per read and no WebSocket state at all. That is the
 * least a Node server can do per delivery: the broadcast scenario's ceiling.
 *
 * With BENCH_PERMESSAGE_DEFLATE=1 (the deflate echo scenarios' ceiling) the 101 also
 * accepts permessage-deflate with no context takeover on either side, and then every byte
 * is written back as it came: the client's compressed frames return still compressed (and
 * masked), with no zlib work here at all. That is how fast the load generator can send,
 * receive and check compressed messages.
 *
 * With BENCH_TLS_KEY/BENCH_TLS_CERT (tls-echo-16k's ceiling) it listens with node:tls
 * instead: the same echo, decrypted and encrypted again, and no WebSocket work.
 */
import { createHash } from "node:crypto";
import { createServer as createNetServer } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { TLS, runBenchServer } from "./harness.mjs";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const CLOSE_1000 = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
const DEFLATE = process.env.BENCH_PERMESSAGE_DEFLATE === "1";

/** With BENCH_TLS_KEY/BENCH_TLS_CERT (tls-echo-16k's ceiling): the same over node:tls. */
const createServer = TLS ? (options, listener) => createTlsServer({ ...options, ...TLS }, listener) : createNetServer;

let open = 0;
const server = createServer({ noDelay: true }, (socket) => {
  open++;
  if (TLS) socket.setNoDelay(true); // on the TCP socket under it (the plain server sets it itself)
  socket.on("close", () => open--);
  socket.on("error", () => {});
  // Not end() again once ended: Node builds an error (with its stack) for that, ~10% of a handshake.
  socket.on("end", () => {
    if (!socket.writableEnded) socket.end();
  });
  socket.once("data", (first) => {
    if (first.toString("latin1", 0, 4) === "GET ") {
      handshake(socket, first.toString("latin1"));
      return;
    }
    // No backpressure on purpose (pipe() would pause at 16 KiB and cap large echoes below
    // the WebSocket servers): the load generator's window bounds what is in flight.
    socket.write(first);
    socket.on("data", (chunk) => socket.write(chunk));
  });
});

function handshake(socket, head) {
  const key = /\r\nSec-WebSocket-Key: *([^\r]*)\r\n/i.exec(head)?.[1] ?? "";
  const accept = createHash("sha1").update(key + GUID).digest("base64");
  const extensions = DEFLATE
    ? "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
    : "";
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extensions}\r\n`);
  if (DEFLATE) {
    socket.on("data", (chunk) => socket.write(chunk));
    return;
  }
  if (head.startsWith("GET /broadcast ")) {
    joinBroadcast(socket);
    return;
  }
  socket.on("data", (chunk) => {
    if ((chunk[0] & 0x0f) === 0x8) socket.end(CLOSE_1000);
  });
}

/** The broadcast ceiling's members. */
const members = new Set();

function joinBroadcast(socket) {
  members.add(socket);
  socket.on("close", () => members.delete(socket));
  let held; // the start of a frame still arriving
  socket.on("data", (chunk) => {
    const bytes = held === undefined ? chunk : Buffer.concat([held, chunk]);
    held = undefined;
    // Client frames (masked, RFC 6455 §5.3) become server frames: 4 bytes shorter each.
    const frames = Buffer.allocUnsafe(bytes.length);
    let at = 0;
    let out = 0;
    let closing = false;
    while (bytes.length - at >= 2) {
      let length = bytes[at + 1] & 0x7f;
      const header = length === 126 ? 4 : 2;
      if (length === 127) return void socket.destroy(); // no 64 KiB messages in this workload
      if (length === 126) length = bytes.length - at >= 4 ? bytes.readUInt16BE(at + 2) : Infinity;
      if (bytes.length - at < header + 4 + length) break;
      if ((bytes[at] & 0x0f) === 0x8) {
        closing = true;
        break;
      }
      bytes.copy(frames, out, at, at + header);
      frames[out + 1] &= 0x7f;
      const key = at + header;
      for (let i = 0; i < length; i++) frames[out + header + i] = bytes[key + 4 + i] ^ bytes[key + (i & 3)];
      out += header + length;
      at = key + 4 + length;
    }
    if (out > 0) {
      const joined = frames.subarray(0, out);
      for (const member of members) member.write(joined);
    }
    if (closing) {
      members.delete(socket);
      socket.end(CLOSE_1000);
    } else if (at < bytes.length) {
      held = bytes.subarray(at);
    }
  });
}

await runBenchServer("net", {
  info: { deflate: DEFLATE ? "no zlib: echoes the compressed frames as they came" : "none" },
  start: () =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve(server.address().port));
    }),
  connections: () => open,
});
