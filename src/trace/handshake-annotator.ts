import { type ExtensionOffer, parseExtensions } from "../http/extensions.js";
import { type DeflateOffer, type DeflateParams, PERMESSAGE_DEFLATE, acceptDeflateResponse } from "../http/permessage-deflate.js";
import type { RequestHead } from "../http/request-head.js";
import type { ResponseHead } from "../http/response-head.js";
import { acceptSteps } from "./accept-steps.js";
import type { AnnotatedHeader, RequestEvent, ResponseEvent, Violation } from "./events.js";
import { requestHeaderNote, responseHeaderNote } from "./header-notes.js";

/** What a response is checked against: what its request offered. */
export interface OfferedInRequest {
  key: string | null;
  protocols: string[];
  extensions: ExtensionOffer[];
}

/** The request described, and what it offered for the response to be checked against. */
export function annotateRequest(connection: number, head: RequestHead): { event: RequestEvent; offered: OfferedInRequest } {
  const violations: Violation[] = [];
  const h = head.headers;
  // RFC 6455 §4.1 (client requirements) and §4.2.1 (what the server reads).
  if (head.method !== "GET") violations.push(rule(`the method is ${head.method}: it MUST be GET`, "RFC 6455 §4.1"));
  if (head.httpVersion !== "1.1") violations.push(rule(`HTTP/${head.httpVersion}: it MUST be at least HTTP/1.1`, "RFC 6455 §4.1"));
  if (h["host"] === undefined) violations.push(rule("no Host header", "RFC 6455 §4.1"));
  if (!hasToken(h["upgrade"], "websocket")) violations.push(rule('no "Upgrade: websocket"', "RFC 6455 §4.1"));
  if (!hasToken(h["connection"], "upgrade")) violations.push(rule('no "Connection: Upgrade"', "RFC 6455 §4.1"));
  const key = h["sec-websocket-key"] ?? null;
  if (key === null) violations.push(rule("no Sec-WebSocket-Key", "RFC 6455 §4.1"));
  else if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) violations.push(rule("Sec-WebSocket-Key is not 16 bytes in base64", "RFC 6455 §4.1"));
  if (h["sec-websocket-version"] !== "13") violations.push(rule("Sec-WebSocket-Version MUST be 13", "RFC 6455 §4.1"));
  const protocols = splitList(h["sec-websocket-protocol"]);
  let extensions: ExtensionOffer[] = [];
  if (h["sec-websocket-extensions"] !== undefined) {
    try {
      extensions = parseExtensions(h["sec-websocket-extensions"]);
    } catch (error) {
      violations.push(rule((error as Error).message, "RFC 6455 §9.1"));
    }
  }
  const event: RequestEvent = {
    type: "request",
    connection,
    direction: "client",
    requestLine: `${head.method} ${head.target} HTTP/${head.httpVersion}`,
    headers: annotate(head.rawHeaders, requestHeaderNote),
    protocols,
    extensions: h["sec-websocket-extensions"] ?? "",
    violations,
  };
  return { event, offered: { key, protocols, extensions } };
}

/**
 * The response described and checked against the request (RFC 6455 §4.1, "the client
 * MUST validate the server's response"). Returns the permessage-deflate parameters when
 * the 101 accepted it, for the frames that follow.
 */
export function annotateResponse(
  connection: number,
  head: ResponseHead,
  offered: OfferedInRequest | undefined,
): { event: ResponseEvent; deflate: DeflateParams | undefined } {
  const violations: Violation[] = [];
  const h = head.headers;
  const event: ResponseEvent = {
    type: "response",
    connection,
    direction: "server",
    statusLine: `HTTP/${head.httpVersion} ${head.status} ${head.reason}`.trimEnd(),
    status: head.status,
    headers: annotate(head.rawHeaders, responseHeaderNote),
    accept: null,
    protocol: h["sec-websocket-protocol"] ?? "",
    deflate: null,
    violations,
  };
  if (head.status !== 101) return { event, deflate: undefined };
  if (!hasToken(h["upgrade"], "websocket")) violations.push(rule('no "Upgrade: websocket"', "RFC 6455 §4.2.2"));
  if (!hasToken(h["connection"], "upgrade")) violations.push(rule('no "Connection: Upgrade"', "RFC 6455 §4.2.2"));
  const received = h["sec-websocket-accept"] ?? null;
  if (offered?.key != null) {
    event.accept = acceptSteps(offered.key, received);
    if (!event.accept.matches) violations.push(rule("Sec-WebSocket-Accept does not match the key", "RFC 6455 §4.1, §4.2.2"));
  }
  if (event.protocol !== "" && !(offered?.protocols ?? []).includes(event.protocol)) {
    violations.push(rule(`subprotocol ${event.protocol} was not offered`, "RFC 6455 §4.1"));
  }
  let deflate: DeflateParams | undefined;
  const value = h["sec-websocket-extensions"];
  if (value !== undefined) {
    try {
      for (const extension of parseExtensions(value)) {
        const offer = offered?.extensions.find((o) => o.name === extension.name);
        if (offer === undefined) {
          violations.push(rule(`extension ${extension.name} was not offered`, "RFC 6455 §4.1, §9.1"));
        } else if (extension.name === PERMESSAGE_DEFLATE) {
          deflate = acceptDeflateResponse(extension, deflateOffer(offer));
          event.deflate = { response: value, ...deflate };
        }
      }
    } catch (error) {
      violations.push(rule((error as Error).message, "RFC 7692 §7.1"));
      deflate = undefined;
      event.deflate = null;
    }
  }
  return { event, deflate };
}

/** A parsed `permessage-deflate` offer as the options `acceptDeflateResponse` checks against. */
function deflateOffer(offer: ExtensionOffer): DeflateOffer {
  const p = offer.params;
  const bits = (value: string | true | undefined): number | undefined =>
    value === undefined || value === true ? undefined : Number(value);
  return {
    serverNoContextTakeover: p.server_no_context_takeover !== undefined,
    clientNoContextTakeover: p.client_no_context_takeover !== undefined,
    serverMaxWindowBits: bits(p.server_max_window_bits),
    clientMaxWindowBits: bits(p.client_max_window_bits),
  };
}

function annotate(raw: Array<[string, string]>, note: (name: string) => string): AnnotatedHeader[] {
  return raw.map(([name, value]) => ({ name, value, note: note(name) }));
}

/** Whether a comma-separated header value holds `token`, in any case (RFC 9110 §5.6.1). */
function hasToken(value: string | undefined, token: string): boolean {
  return splitList(value).some((item) => item.toLowerCase() === token);
}

function splitList(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

function rule(message: string, section: string): Violation {
  return { message, rule: section };
}
