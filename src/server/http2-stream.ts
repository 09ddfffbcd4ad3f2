import { Buffer } from "node:buffer";
import type { OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import { type HttpError, responseFields } from "../http/index.js";
import { type HttpResult, httpAnswer } from "./routes.js";

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
 * A plain HTTP route's answer on an HTTP/2 stream: the fields HTTP/1.1 would carry
 * (`responseFields`), names lower-cased, without the connection-specific ones. Throws, as
 * `buildResponse` does, for a bad status, header or body; HTTP/2 has no 1xx answers of
 * this kind.
 */
export function respondHttp2(stream: ServerHttp2Stream, result: HttpResult, isHead: boolean): void {
  if (stream.destroyed || stream.headersSent) return;
  const { status, headers, body } = httpAnswer(result);
  if (status < 200) throw new RangeError(`Invalid HTTP status ${status} for an HTTP/2 answer: must be from 200 to 599`);
  const { fields, content } = responseFields(status, headers, body);
  const answer: OutgoingHttpHeaders = { ":status": status };
  for (const [name, value] of fields) {
    const key = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(key)) continue;
    const earlier = answer[key];
    answer[key] = earlier === undefined ? value : [...(Array.isArray(earlier) ? earlier : [String(earlier)]), value];
  }
  // RFC 9110 §9.3.2: HEAD gets the headers of GET, without the content.
  if (isHead || content.length === 0) {
    stream.respond(answer, { endStream: true });
    return;
  }
  stream.respond(answer);
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
