import { HttpError } from "./errors.js";
import { parseExtensions, type ExtensionOffer } from "./extensions.js";
import { splitList } from "./grammar.js";
import type { RequestHead } from "./request-head.js";
import { parseProtocolList } from "./subprotocol.js";

/** What a client offers in any opening handshake, over HTTP/1.1 or HTTP/2 (RFC 8441 §5). */
export interface WebSocketOffers {
  /** Offered subprotocols, in the client's order of preference (may be empty). */
  protocols: string[];
  /** Offered extensions, parsed (may be empty). */
  extensions: ExtensionOffer[];
  /** The `Origin` header, for the application to check (RFC 6455 §10.2); absent for non-browser clients. */
  origin: string | undefined;
}

/** The WebSocket-specific parts of a valid opening handshake request. */
export interface UpgradeRequest extends WebSocketOffers {
  /** `Sec-WebSocket-Key`, from which the `Sec-WebSocket-Accept` answer is derived. */
  key: string;
}

// RFC 6455 §11.3.1, §11.3.5 and RFC 9112 §3.2: these MUST NOT appear more than once in a request.
// Upgrade is not among them: it is a list header (RFC 9110 §7.8), so repeating it is legitimate.
const SINGLE_VALUED_HEADERS = ["Host", "Sec-WebSocket-Key", "Sec-WebSocket-Version"].map((name) => ({
  name,
  key: name.toLowerCase(),
}));

// RFC 6455 §4.1: the key is base64 of 16 bytes, which is always 22 characters plus "==".
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/**
 * True when the request asks for a WebSocket upgrade: it has an `Upgrade` header containing
 * the token `websocket` (case-insensitive). Tells WebSocket requests from plain HTTP on the
 * same URL; it does not check the rest of the handshake (see {@link validateUpgradeRequest}).
 */
export function isUpgradeRequest(head: RequestHead): boolean {
  const upgrade = head.headers["upgrade"];
  return upgrade !== undefined && listHasToken(upgrade, "websocket");
}

/**
 * Validates a WebSocket opening handshake request (RFC 6455 §4.2.1) and extracts what the
 * server needs to answer it.
 *
 * @throws HttpError
 *   - 405 (with `Allow: GET`) when the method is not GET;
 *   - 400 when the HTTP version is below 1.1, the request has a body (Transfer-Encoding,
 *     or a Content-Length other than 0), Host is missing, Upgrade lacks `websocket`,
 *     Connection lacks `upgrade`, Host / Sec-WebSocket-Key / Sec-WebSocket-Version is
 *     repeated, the key is not base64 of 16 bytes, or Sec-WebSocket-Protocol or
 *     Sec-WebSocket-Extensions is malformed;
 *   - 426 (with `Sec-WebSocket-Version: 13`) when Sec-WebSocket-Version is not `13`.
 */
export function validateUpgradeRequest(head: RequestHead): UpgradeRequest {
  const { headers } = head;
  // RFC 6455 §4.1 item 1: "The method of the request MUST be GET".
  if (head.method !== "GET") {
    // RFC 9110 §15.5.6: a 405 MUST list the allowed methods.
    throw new HttpError(405, `A WebSocket handshake must use GET, not ${head.method}`, { Allow: "GET" });
  }
  // RFC 6455 §4.1 item 1: "the HTTP version MUST be at least 1.1".
  if (!isAtLeastHttp11(head.httpVersion)) {
    throw new HttpError(400, `A WebSocket handshake requires HTTP/1.1, not HTTP/${head.httpVersion}`);
  }
  // RFC 9112 §6.3: a body framed by Transfer-Encoding or Content-Length follows the head,
  // and the protocol switches only after the whole request (RFC 9110 §7.8). A handshake
  // has no use for one, and here it would be read as WebSocket frames. Content-Length: 0
  // is no body (some clients send it).
  if (headers["transfer-encoding"] !== undefined) {
    throw new HttpError(400, "A WebSocket handshake has no body: Transfer-Encoding is not allowed");
  }
  const contentLength = headers["content-length"];
  if (contentLength !== undefined && contentLength !== "0") {
    throw new HttpError(400, "A WebSocket handshake has no body: Content-Length must be 0 or absent");
  }
  for (const { name, key } of SINGLE_VALUED_HEADERS) {
    if (countHeader(head, key) > 1) {
      throw new HttpError(400, `The ${name} header must appear only once`);
    }
  }
  // RFC 6455 §4.2.1 item 2; RFC 9112 §3.2.
  if (!headers["host"]) throw new HttpError(400, "The Host header is required");
  // RFC 6455 §4.2.1 item 3.
  if (!isUpgradeRequest(head)) throw new HttpError(400, 'The Upgrade header must include "websocket"');
  // RFC 6455 §4.2.1 item 4: a list, so "keep-alive, Upgrade" is valid.
  if (!listHasToken(headers["connection"] ?? "", "upgrade")) {
    throw new HttpError(400, 'The Connection header must include "Upgrade"');
  }
  // RFC 6455 §4.2.1 item 6 and §4.4. Checked before the key so that a client speaking an
  // older draft (which has no Sec-WebSocket-Key) learns which version to use.
  if (headers["sec-websocket-version"] !== "13") {
    throw new HttpError(426, "Only WebSocket version 13 is supported: send Sec-WebSocket-Version: 13", {
      "Sec-WebSocket-Version": "13",
      // RFC 9110 §15.5.22: a 426 MUST carry Upgrade; §7.8: Upgrade needs the Connection option.
      Upgrade: "websocket",
      Connection: "Upgrade, close",
    });
  }
  // RFC 6455 §4.2.1 item 5.
  const key = headers["sec-websocket-key"];
  if (key === undefined || !KEY.test(key)) {
    throw new HttpError(400, "Sec-WebSocket-Key must be base64 of 16 bytes");
  }
  return { key, ...websocketOffers(headers) };
}

/**
 * The subprotocols, extensions and origin a request offers (RFC 6455 §4.2.1 items 7–9).
 *
 * @throws HttpError 400 when Sec-WebSocket-Protocol or Sec-WebSocket-Extensions is malformed.
 */
export function websocketOffers(headers: Readonly<Record<string, string>>): WebSocketOffers {
  const protocolList = headers["sec-websocket-protocol"];
  const extensionList = headers["sec-websocket-extensions"];
  return {
    protocols: protocolList === undefined ? [] : parseProtocolList(protocolList),
    extensions: extensionList === undefined ? [] : parseExtensions(extensionList),
    origin: headers["origin"],
  };
}

function isAtLeastHttp11(version: string): boolean {
  if (version === "1.1") return true;
  const [major, minor] = version.split(".").map(Number);
  return major > 1 || (major === 1 && minor >= 1);
}

/** How many times the field `lowerName` appears in the request. */
function countHeader(head: RequestHead, lowerName: string): number {
  const value = head.headers[lowerName];
  if (value === undefined) return 0;
  // Repeated fields are joined with ", ": without a comma there was only one.
  if (!value.includes(",")) return 1;
  let count = 0;
  for (const [rawName] of head.rawHeaders) if (rawName.toLowerCase() === lowerName) count++;
  return count;
}

function listHasToken(list: string, token: string): boolean {
  // The usual case first: the list is that one token ("websocket", "Upgrade").
  if (list.length === token.length && list.toLowerCase() === token) return true;
  return splitList(list).some((element) => element.toLowerCase() === token);
}
