import { HttpError } from "./errors.js";
import { type WebSocketOffers, websocketOffers } from "./handshake.js";
import { type RequestHead, createHeaderFields } from "./request-head.js";
import { parseRequestTarget } from "./request-target.js";

/**
 * The header fields of an HTTP/2 request as `node:http2` hands them over: the
 * pseudo-header fields (`:method`, `:path`...) among them, names lower-cased.
 */
export type Http2RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * True when an HTTP/2 request opens a WebSocket (RFC 8441 §4–5): a CONNECT whose
 * `:protocol` is `websocket`. Any other request is not a WebSocket's.
 */
export function isExtendedConnect(headers: Http2RequestHeaders): boolean {
  const protocol = headers[":protocol"];
  // RFC 9110 §7.8: protocol names in upgrade tokens are compared case-insensitively.
  return headers[":method"] === "CONNECT" && typeof protocol === "string" && protocol.toLowerCase() === "websocket";
}

/**
 * An extended CONNECT as a request head, so that it is routed and read (`req.headers`,
 * `req.query`) as an HTTP/1.1 handshake is: path and query from `:path`, `host` from
 * `:authority` (RFC 9113 §8.3.1), the other fields as sent. `httpVersion` is `"2.0"`.
 *
 * @throws HttpError 400 when `:path`, `:scheme` or `:authority` is missing (RFC 8441 §4,
 *   RFC 9113 §8.5) or the path is malformed.
 */
export function extendedConnectHead(headers: Http2RequestHeaders): RequestHead {
  for (const pseudo of [":path", ":scheme", ":authority"]) {
    if (typeof headers[pseudo] !== "string" || headers[pseudo] === "") {
      throw new HttpError(400, `An extended CONNECT must carry ${pseudo} (RFC 8441 §4)`);
    }
  }
  const target = headers[":path"] as string;
  const { path, query } = parseRequestTarget(target);
  const fields = createHeaderFields();
  const rawHeaders: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(":")) continue;
    // node:http2 gives repeated fields as arrays (cookies already joined with "; ").
    const joined = Array.isArray(value) ? value.join(", ") : value;
    fields[name] = joined;
    rawHeaders.push([name, joined]);
  }
  // HTTP/2 has no Host field: :authority stands for it.
  if (fields["host"] === undefined) {
    fields["host"] = headers[":authority"] as string;
    rawHeaders.push(["host", fields["host"]]);
  }
  return { method: "CONNECT", target, path, query, httpVersion: "2.0", headers: fields, rawHeaders };
}

/**
 * Validates the WebSocket parts of an extended CONNECT (RFC 8441 §5) and returns what it
 * offers. Sec-WebSocket-Key, Upgrade and Connection have no part in it: the :protocol
 * pseudo-header replaces them, and HTTP/2 forbids connection-specific fields.
 *
 * @throws HttpError 400 when Sec-WebSocket-Version is not 13 (with `sec-websocket-version:
 *   13`, RFC 6455 §4.4: HTTP/2 has no 426, which needs Upgrade), or when
 *   Sec-WebSocket-Protocol or Sec-WebSocket-Extensions is malformed.
 */
export function validateExtendedConnect(head: RequestHead): WebSocketOffers {
  if (head.headers["sec-websocket-version"] !== "13") {
    throw new HttpError(400, "Only WebSocket version 13 is supported: send sec-websocket-version: 13", {
      "sec-websocket-version": "13",
    });
  }
  return websocketOffers(head.headers);
}
