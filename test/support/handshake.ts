/**
 * The opening handshake written by hand (RFC 6455 §4.1, §4.2.2): keys, the accept value
 * computed here independently of `src/`, and request heads with any header altered.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { within } from "./timeouts.js";

export const HOST = "127.0.0.1";

export const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A fresh Sec-WebSocket-Key: base64 of 16 random bytes (RFC 6455 §4.1). */
export function newKey(): string {
  return randomBytes(16).toString("base64");
}

/** The Sec-WebSocket-Accept for `key`, computed here independently (RFC 6455 §4.2.2). */
export function acceptFor(key: string): string {
  return createHash("sha1").update(key + WS_GUID).digest("base64");
}

/** Header values: `null` removes a default header, an array repeats the header. */
export type HeaderSpec = Record<string, string | readonly string[] | null>;

export interface RequestSpec {
  method?: string;
  path?: string;
  httpVersion?: string;
  /** Replaces the whole request line. */
  requestLine?: string;
  key?: string;
  headers?: HeaderSpec;
}

/** Request-head bytes: the request line, the header lines, the empty line. */
export function requestHead(requestLine: string, headers: HeaderSpec): Buffer {
  const lines = [requestLine];
  for (const [name, value] of Object.entries(headers)) {
    if (value === null) continue;
    for (const item of typeof value === "string" ? [value] : value) lines.push(`${name}: ${item}`);
  }
  return Buffer.from(lines.map((line) => line + "\r\n").join("") + "\r\n", "latin1");
}

/** A valid opening handshake request (RFC 6455 §4.1), altered by `spec`. */
export function upgradeRequest(spec: RequestSpec = {}): Buffer {
  const line = spec.requestLine ?? `${spec.method ?? "GET"} ${spec.path ?? "/"} HTTP/${spec.httpVersion ?? "1.1"}`;
  return requestHead(line, {
    Host: HOST,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": spec.key ?? newKey(),
    "Sec-WebSocket-Version": "13",
    ...spec.headers,
  });
}

/** A plain HTTP/1.1 request (no upgrade). */
export function plainRequest(spec: RequestSpec = {}): Buffer {
  const line = spec.requestLine ?? `${spec.method ?? "GET"} ${spec.path ?? "/"} HTTP/${spec.httpVersion ?? "1.1"}`;
  return requestHead(line, { Host: HOST, ...spec.headers });
}

/** The handshake's response before any frame: status line, headers, and what followed them. */
export interface ResponseHead {
  status: string;
  /** Names lower-cased; a header sent on several lines is one comma-separated list (RFC 9110 §5.3). */
  headers: Map<string, string>;
  rest: Buffer;
}

/**
 * Writes `request` once connected and reads the response head, within `ms`; the socket is
 * left paused, and the bytes after the head are in `rest`.
 */
export function readResponseHead(
  socket: Socket,
  request: string,
  ms = 5_000,
  what = "the opening handshake",
): Promise<ResponseHead> {
  return within(
    new Promise<ResponseHead>((resolve, reject) => {
      let received = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        received = Buffer.concat([received, chunk]);
        const end = received.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        socket.pause();
        const [status, ...lines] = received.subarray(0, end).toString("latin1").split("\r\n");
        const headers = new Map<string, string>();
        for (const line of lines) {
          const colon = line.indexOf(":");
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
        }
        resolve({ status, headers, rest: received.subarray(end + 4) });
      };
      socket.on("data", onData);
      socket.once("close", () => reject(new Error("connection closed during the handshake")));
      if (socket.connecting) socket.once("connect", () => socket.write(request));
      else socket.write(request);
    }),
    ms,
    what,
  );
}
