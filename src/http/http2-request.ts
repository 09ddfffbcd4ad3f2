import { type AcceptedHandshake, type ClientRequestOptions, acceptedOffers, checkTarget, offerFields } from "./client-handshake.js";
import { HandshakeError, HttpError } from "./errors.js";
import type { ExtensionOffer } from "./extensions.js";
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
 * An HTTP/2 request as a request head, so that it is routed and read (`req.headers`,
 * `req.query`) as an HTTP/1.1 one is: the method from `:method`, path and query from
 * `:path`, `host` from `:authority` (RFC 9113 §8.3.1), the other fields as sent.
 * `httpVersion` is `"2.0"`.
 *
 * @throws HttpError 400 when `:path` is missing or malformed, or, for an extended CONNECT,
 *   `:scheme` or `:authority` is (RFC 8441 §4).
 */
export function http2RequestHead(headers: Http2RequestHeaders): RequestHead {
  const required = isExtendedConnect(headers) ? [":path", ":scheme", ":authority"] : [":path"];
  for (const pseudo of required) {
    if (typeof headers[pseudo] !== "string" || headers[pseudo] === "") {
      throw new HttpError(400, `An HTTP/2 request${required.length > 1 ? " opening a WebSocket" : ""} must carry ${pseudo} (RFC 9113 §8.3.1, RFC 8441 §4)`);
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
  // HTTP/2 has no Host field of its own: :authority stands for it.
  const authority = headers[":authority"];
  if (fields["host"] === undefined && typeof authority === "string") {
    fields["host"] = authority;
    rawHeaders.push(["host", authority]);
  }
  return { method: String(headers[":method"]), target, path, query, httpVersion: "2.0", headers: fields, rawHeaders };
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

/**
 * A client's extended CONNECT (RFC 8441 §4–5), as `node:http2` takes header fields: the
 * pseudo-header fields, `sec-websocket-version: 13`, and the offers and headers of
 * `buildClientRequest`, validated the same way, names lower-cased (RFC 9113 §8.2). No
 * Sec-WebSocket-Key: the :protocol pseudo-header replaces it.
 *
 * @throws TypeError as `buildClientRequest` does.
 */
export function buildExtendedConnect(options: ClientRequestOptions & { secure: boolean }): Record<string, string> {
  const fields: Record<string, string> = {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": options.secure ? "https" : "http",
    ":authority": options.host,
    ":path": checkTarget(options.target),
    "sec-websocket-version": "13",
  };
  for (const [name, value] of offerFields(options)) fields[name.toLowerCase()] = value;
  return fields;
}

/**
 * The client's check of the answer to its extended CONNECT (RFC 8441 §5): a 2xx status,
 * at most one subprotocol and only extensions that were offered. There is no
 * Sec-WebSocket-Accept to check.
 *
 * @throws HandshakeError saying what is wrong, with the status and the header fields.
 */
export function checkExtendedConnectResponse(
  headers: Readonly<Record<string, string | string[] | number | undefined>>,
  offered: { protocols?: readonly string[]; extensions?: readonly ExtensionOffer[] } = {},
): AcceptedHandshake {
  const status = Number(headers[":status"]);
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !name.startsWith(":")) fields[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  const refuse = (message: string): never => {
    throw new HandshakeError(message, status, fields);
  };
  if (!(status >= 200 && status < 300)) {
    if (status >= 300 && status < 400 && fields["location"] !== undefined) {
      refuse(`The server redirects (${status}) to ${fields["location"]}; redirects are not followed: connect to that URL`);
    }
    refuse(`The server refused the WebSocket over HTTP/2: ${status}`);
  }
  return acceptedOffers(fields, offered, refuse);
}
