import { Buffer } from "node:buffer";
import { acceptKey } from "./accept-key.js";
import type { HttpError } from "./errors.js";
import { isFieldValue, isToken } from "./grammar.js";

/**
 * Response headers by name. A number is written in decimal; an array writes one header
 * line per element (e.g. several `Set-Cookie`).
 */
export type ResponseHeaders = Record<string, string | number | readonly string[]>;

const REASON_PHRASES: ReadonlyMap<number, string> = new Map([
  [101, "Switching Protocols"],
  [200, "OK"],
  [204, "No Content"],
  [301, "Moved Permanently"],
  [302, "Found"],
  [304, "Not Modified"],
  [400, "Bad Request"],
  [401, "Unauthorized"],
  [403, "Forbidden"],
  [404, "Not Found"],
  [405, "Method Not Allowed"],
  [408, "Request Timeout"],
  [413, "Content Too Large"],
  [426, "Upgrade Required"],
  [429, "Too Many Requests"],
  [431, "Request Header Fields Too Large"],
  [500, "Internal Server Error"],
  [501, "Not Implemented"],
  [503, "Service Unavailable"],
  [505, "HTTP Version Not Supported"],
]);

// Headers the 101 response sets itself; letting extra headers repeat or contradict them
// would produce an ambiguous handshake. A 101 has no content (RFC 9110 §6.4.1), hence the
// framing headers too.
const UPGRADE_RESPONSE_OWN_HEADERS = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
]);

/**
 * Checks that a header can be written as-is. Every header goes through here, so no value
 * ever reaches a response unvalidated: no CRLF injection, no response splitting.
 *
 * @throws TypeError when `name` is not an RFC 9110 token, or `value` contains CR, LF, NUL
 *   or another control character except HTAB, or a character above U+00FF (headers are
 *   written as latin1 bytes, RFC 9110 §5.5).
 */
export function assertHeader(name: string, value: string): void {
  if (!isToken(name)) {
    throw new TypeError(`Invalid header name ${JSON.stringify(name)}: must be a token (RFC 9110 §5.1)`);
  }
  if (!isFieldValue(value)) {
    throw new TypeError(
      `Invalid value for header ${name}: control characters (CR, LF, NUL…) and characters above U+00FF are not allowed (RFC 9110 §5.5)`,
    );
  }
}

/** The reason phrase for a status code (RFC 9110 §15), or `"Unknown"` for codes not listed here. */
export function statusText(status: number): string {
  return REASON_PHRASES.get(status) ?? "Unknown";
}

/**
 * A complete HTTP/1.1 response, ready to write to the socket.
 *
 * Adds, unless given (names compared case-insensitively): `Content-Length` (the body's
 * byte length), `Content-Type: text/plain; charset=utf-8` when the body is a string, and
 * `Connection: close` (this server does not keep HTTP connections alive). 1xx, 204 and 304
 * responses get no `Content-Length` or `Content-Type` and must have no body (RFC 9110 §6.4.1, §8.6).
 *
 * @param status - an integer from 100 to 599
 * @param headers - extra headers, each validated by {@link assertHeader}
 * @param body - a string (sent as UTF-8) or bytes
 * @throws RangeError for an invalid status; TypeError for an invalid header, or a body on
 *   a status that cannot have one.
 */
export function buildResponse(status: number, headers: ResponseHeaders = {}, body?: string | Uint8Array): Buffer {
  const { fields, content } = responseFields(status, headers, body);
  const lines = [`HTTP/1.1 ${status} ${statusText(status)}`];
  for (const [name, value] of fields) lines.push(`${name}: ${value}`);
  if (!fields.some(([name]) => name.toLowerCase() === "connection")) lines.push("Connection: close");
  return withContent(lines, content);
}

/**
 * A response's header fields and content, whatever HTTP version carries them: `headers`,
 * validated, then `Content-Length` (the body's byte length) and, for a string body,
 * `Content-Type: text/plain; charset=utf-8`, unless given (names compared
 * case-insensitively). 1xx, 204 and 304 responses get neither and must have no body (RFC
 * 9110 §6.4.1, §8.6). {@link buildResponse} writes them as HTTP/1.1; the server sends
 * them as HTTP/2 header fields.
 *
 * @throws RangeError for an invalid status; TypeError for an invalid header, or a body on
 *   a status that cannot have one.
 */
export function responseFields(
  status: number,
  headers: ResponseHeaders = {},
  body?: string | Uint8Array,
): { fields: Array<[name: string, value: string]>; content: Buffer } {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    // RFC 9110 §15: status-code is a three-digit integer from 100 to 599.
    throw new RangeError(`Invalid HTTP status ${status}: must be an integer from 100 to 599`);
  }
  const content =
    body === undefined
      ? Buffer.alloc(0)
      : typeof body === "string"
        ? Buffer.from(body, "utf8")
        : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const fields = headerFields(headers);
  if (status < 200 || status === 204 || status === 304) {
    if (content.length > 0) throw new TypeError(`A ${status} response cannot have a body (RFC 9110 §6.4.1)`);
  } else {
    const given = new Set(fields.map(([name]) => name.toLowerCase()));
    if (!given.has("content-length")) fields.push(["Content-Length", String(content.length)]);
    if (typeof body === "string" && !given.has("content-type")) fields.push(["Content-Type", "text/plain; charset=utf-8"]);
  }
  return { fields, content };
}

/**
 * The 101 Switching Protocols response that completes the opening handshake
 * (RFC 6455 §4.2.2 step 5): `Upgrade: websocket`, `Connection: Upgrade`,
 * `Sec-WebSocket-Accept`, and `Sec-WebSocket-Protocol` / `Sec-WebSocket-Extensions` when
 * given. Has no `Content-Length`: after it, the connection speaks WebSocket frames.
 *
 * @param options.key - the client's `Sec-WebSocket-Key`
 * @param options.protocol - the selected subprotocol, a token (see `selectProtocol`)
 * @param options.extensions - the accepted extensions, formatted (see `formatExtensions`)
 * @param options.headers - extra headers (e.g. `Set-Cookie`), validated; they may not
 *   repeat the headers above nor add `Content-Length` / `Transfer-Encoding`
 * @throws TypeError for an invalid protocol, extensions value or extra header.
 */
export function buildUpgradeResponse(options: {
  key: string;
  protocol?: string;
  extensions?: string;
  headers?: ResponseHeaders;
}): Buffer {
  const { key, protocol, extensions, headers } = options;
  // One string, not an array of lines: this runs once per connection.
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (protocol !== undefined) {
    // RFC 6455 §4.1: a subprotocol is a token; anything else could not have been offered.
    if (!isToken(protocol)) throw new TypeError(`Invalid subprotocol ${JSON.stringify(protocol)}: must be a token`);
    head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  }
  if (extensions !== undefined && extensions !== "") {
    assertHeader("Sec-WebSocket-Extensions", extensions);
    head += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  }
  if (headers !== undefined) {
    for (const name of Object.keys(headers)) {
      if (UPGRADE_RESPONSE_OWN_HEADERS.has(name.toLowerCase())) {
        throw new TypeError(`Header ${name} cannot be set on the 101 response: the handshake sets it or forbids it`);
      }
    }
    for (const [name, value] of headerFields(headers)) head += `${name}: ${value}\r\n`;
  }
  // latin1: header values were checked to be at most U+00FF, one byte each (RFC 9110 §5.5).
  return Buffer.from(`${head}\r\n`, "latin1");
}

/**
 * The response for a refused handshake or request: the error's status and headers, its
 * message as a plain-text body.
 */
export function errorResponse(error: HttpError): Buffer {
  return buildResponse(error.status, error.headers, error.message + "\n");
}

/** The fields of `headers`, one per value, each validated. */
function headerFields(headers: ResponseHeaders): Array<[name: string, value: string]> {
  const fields: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    const values = typeof value === "string" || typeof value === "number" ? [String(value)] : value;
    for (const item of values) {
      assertHeader(name, item);
      fields.push([name, item]);
    }
  }
  return fields;
}

function withContent(lines: string[], content: Buffer): Buffer {
  // latin1: header values were checked to be at most U+00FF, one byte each (RFC 9110 §5.5).
  const head = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1");
  return content.length === 0 ? head : Buffer.concat([head, content], head.length + content.length);
}
