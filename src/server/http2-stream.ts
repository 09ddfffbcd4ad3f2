import { Buffer } from "node:buffer";
import type { OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { HttpError } from "../http/index.js";
import type { HttpResult } from "./routes.js";

/**
 * What the server says on an HTTP/2 stream (RFC 9113) where it writes bytes on an HTTP/1.1
 * socket: the acceptance of a WebSocket (RFC 8441 §5), refusals, plain HTTP answers.
 */

/** The response headers accepting a WebSocket over HTTP/2 (RFC 8441 §5): 200, no Sec-WebSocket-Accept. */
export function http2Acceptance(protocol: string | undefined, extensions: string): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ":status": 200 };
  if (protocol !== undefined) headers["sec-websocket-protocol"] = protocol;
  if (extensions !== "") headers["sec-websocket-extensions"] = extensions;
  return headers;
}

/** What a client sends first on an HTTP/2 connection (RFC 9113 §3.4). */
export const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** What follows an HTTP/2 handshake's headers in its stream: nothing yet (it is read as it comes). */
export const NOTHING_YET = Buffer.alloc(0);

// RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2.
const CONNECTION_SPECIFIC = new Set(["connection", "upgrade", "keep-alive", "proxy-connection", "transfer-encoding"]);

/** A refusal on an HTTP/2 stream: its status and headers, the message as the body. */
export function respondOnHttp2Stream(stream: ServerHttp2Stream, error: HttpError): void {
  respondHttp2(stream, { status: error.status, headers: { "content-type": "text/plain; charset=utf-8", ...error.headers }, body: `${error.message}\n` }, false);
}

/**
 * A plain HTTP route's answer on an HTTP/2 stream, with the fields `buildResponse` adds
 * for HTTP/1.1 (`content-length`, and `content-type` for a string body) but no
 * connection-specific ones. Throws, as `buildResponse` does, for a status out of range or
 * a body on a status that has none; `node:http2` checks the header fields.
 */
export function respondHttp2(stream: ServerHttp2Stream, result: HttpResult, isHead: boolean): void {
  if (stream.destroyed || stream.headersSent) return;
  const { status = result === undefined ? 204 : 200, headers = {}, body = "" } =
    typeof result === "string" ? { body: result } : (result ?? {});
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`Invalid HTTP status ${status}: must be an integer from 200 to 599 (HTTP/2 has no 1xx answers of this kind)`);
  }
  const content = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const fields: OutgoingHttpHeaders = { ":status": status };
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (!CONNECTION_SPECIFIC.has(key)) fields[key] = typeof value === "object" ? [...value] : value;
  }
  if (status === 204 || status === 304) {
    if (content.length > 0) throw new TypeError(`A ${status} response cannot have a body (RFC 9110 §6.4.1)`);
  } else {
    fields["content-length"] ??= content.length;
    if (typeof body === "string") fields["content-type"] ??= "text/plain; charset=utf-8";
  }
  // RFC 9110 §9.3.2: HEAD gets the headers of GET, without the content.
  if (isHead || content.length === 0) {
    stream.respond(fields, { endStream: true });
    return;
  }
  stream.respond(fields);
  stream.end(content);
}

/**
 * The peer of an HTTP/2 stream, for `req.remoteAddress` and `req.tls`: its session's
 * socket (`node:http2` hands out a proxy of it, which throws once the session has let go
 * of the socket; WsRequest reads it with that in mind).
 */
export function http2Peer(stream: ServerHttp2Stream): Partial<Socket> {
  return (stream.session?.socket ?? {}) as Partial<Socket>;
}
