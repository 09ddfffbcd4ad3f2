import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { acceptKey } from "./accept-key.js";
import { HandshakeError, HttpError } from "./errors.js";
import { type ExtensionOffer, formatExtensions, parseExtensions } from "./extensions.js";
import { isToken, splitList } from "./grammar.js";
import type { ResponseHead } from "./response-head.js";
import { assertHeader } from "./response.js";

/** What a client asks for in its opening handshake (RFC 6455 §4.1). */
export interface ClientRequestOptions {
  /** The `Host` value: host, and `:port` when it is not the scheme's default. */
  host: string;
  /** The request target: path and query (`/chat?room=1`). */
  target: string;
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /** Extensions to offer. */
  extensions?: readonly ExtensionOffer[];
  /** The `Origin` header, as a browser would send it. */
  origin?: string;
  /** More headers (authorization, cookies); they may not replace the handshake's own. */
  headers?: Readonly<Record<string, string>>;
}

/** The request bytes, and the key whose accept value the 101 must carry. */
export interface ClientRequest {
  key: string;
  request: Buffer;
}

// The headers the handshake sets itself: a user's copy would make it ambiguous.
const HANDSHAKE_HEADERS = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/**
 * Builds a client's opening handshake (RFC 6455 §4.1) with a fresh random
 * `Sec-WebSocket-Key` (16 bytes from the CSPRNG, base64).
 *
 * @throws TypeError for a header name or value that cannot be sent (CR, LF, controls), a
 *   header the handshake sets itself, or a subprotocol that is not a token.
 */
export function buildClientRequest(options: ClientRequestOptions): ClientRequest {
  const key = randomBytes(16).toString("base64");
  assertHeader("Host", options.host);
  const lines = [
    `GET ${checkTarget(options.target)} HTTP/1.1`,
    `Host: ${options.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  for (const [name, value] of offerFields(options)) lines.push(`${name}: ${value}`);
  return { key, request: Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1") };
}

/**
 * The fields of a client's handshake past the ones that make it one, validated: the
 * subprotocols and extensions offered, `Origin`, then the caller's own headers. Shared by
 * the HTTP/1.1 upgrade and the HTTP/2 extended CONNECT (RFC 8441 §5).
 *
 * @throws TypeError as {@link buildClientRequest} says.
 * @internal
 */
export function offerFields(options: Omit<ClientRequestOptions, "host" | "target">): Array<[name: string, value: string]> {
  const fields: Array<[string, string]> = [];
  const protocols = options.protocols ?? [];
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new TypeError(`Invalid subprotocol ${JSON.stringify(protocol)}: must be a token (RFC 6455 §4.1)`);
  }
  if (new Set(protocols).size !== protocols.length) throw new TypeError("Each subprotocol may be offered once (RFC 6455 §4.1)");
  if (protocols.length > 0) fields.push(["Sec-WebSocket-Protocol", protocols.join(", ")]);
  if (options.extensions !== undefined && options.extensions.length > 0) {
    fields.push(["Sec-WebSocket-Extensions", formatExtensions([...options.extensions])]);
  }
  if (options.origin !== undefined) {
    assertHeader("Origin", options.origin);
    fields.push(["Origin", options.origin]);
  }
  const headers = options.headers ?? {};
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
    throw new TypeError('headers must be an object of names and values, e.g. { Authorization: "Bearer t" }');
  }
  for (const [name, value] of Object.entries(headers)) {
    assertHeader(name, value);
    if (HANDSHAKE_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(`The ${name} header is set by the handshake itself and cannot be given`);
    }
    fields.push([name, value]);
  }
  return fields;
}

/** What the server agreed to in its 101. */
export interface AcceptedHandshake {
  /** The subprotocol it selected, or "". */
  protocol: string;
  /** The extensions it accepted (each one the client offered), in its order. */
  extensions: ExtensionOffer[];
  /** The `Sec-WebSocket-Extensions` value, as sent, or "". */
  extensionsHeader: string;
}

/**
 * The client's check of the server's answer (RFC 6455 §4.1, "the client MUST validate the
 * server's response"): a 101, `Upgrade: websocket`, `Connection: Upgrade`, the accept
 * value of `key`, and at most one subprotocol and only extensions that were offered.
 *
 * @throws HandshakeError saying what is wrong; for any status but 101 it carries the
 *   status and headers (the caller adds the body), and says where a redirect points.
 */
export function checkUpgradeResponse(
  head: ResponseHead,
  key: string,
  offered: { protocols?: readonly string[]; extensions?: readonly ExtensionOffer[] } = {},
): AcceptedHandshake {
  const { status, headers } = head;
  const refuse = (message: string): never => {
    throw new HandshakeError(message, status, headers);
  };
  if (status !== 101) {
    if (status >= 300 && status < 400 && headers["location"] !== undefined) {
      refuse(`The server redirects (${status}) to ${headers["location"]}; redirects are not followed: connect to that URL`);
    }
    refuse(`The server refused the WebSocket handshake: ${status} ${head.reason}`.trimEnd());
  }
  if (!hasToken(headers["upgrade"], "websocket")) refuse('The 101 response lacks "Upgrade: websocket" (RFC 6455 §4.1)');
  if (!hasToken(headers["connection"], "upgrade")) refuse('The 101 response lacks "Connection: Upgrade" (RFC 6455 §4.1)');
  const expected = acceptKey(key);
  const accept = headers["sec-websocket-accept"];
  if (accept !== expected) {
    refuse(
      accept === undefined
        ? "The 101 response has no Sec-WebSocket-Accept (RFC 6455 §4.1)"
        : `Wrong Sec-WebSocket-Accept: expected ${expected} for this key, got ${accept} (RFC 6455 §4.1)`,
    );
  }
  return acceptedOffers(headers, offered, refuse);
}

/**
 * What a server's accepting answer selected, checked against what was offered: at most
 * one subprotocol, and only extensions that were offered, each once. Shared by the 101
 * and the HTTP/2 200 (RFC 8441 §5).
 * @internal
 */
export function acceptedOffers(
  headers: Readonly<Record<string, string | undefined>>,
  offered: { protocols?: readonly string[]; extensions?: readonly ExtensionOffer[] },
  refuse: (message: string) => never,
): AcceptedHandshake {
  const protocol = headers["sec-websocket-protocol"] ?? "";
  if (protocol !== "" && !(offered.protocols ?? []).includes(protocol)) {
    refuse(`The server selected the subprotocol ${JSON.stringify(protocol)}, which was not offered (RFC 6455 §4.1)`);
  }
  const extensionsHeader = headers["sec-websocket-extensions"] ?? "";
  let extensions: ExtensionOffer[] = [];
  if (extensionsHeader !== "") {
    try {
      extensions = parseExtensions(extensionsHeader);
    } catch (error) {
      refuse(`Malformed Sec-WebSocket-Extensions in the answer: ${(error as HttpError).message}`);
    }
    const names = new Set((offered.extensions ?? []).map((extension) => extension.name));
    const seen = new Set<string>();
    for (const { name } of extensions) {
      if (!names.has(name)) refuse(`The server accepted the extension ${name}, which was not offered (RFC 6455 §9.1)`);
      if (seen.has(name)) refuse(`The server accepted the extension ${name} twice`);
      seen.add(name);
    }
  }
  return { protocol, extensions, extensionsHeader };
}

function hasToken(list: string | undefined, token: string): boolean {
  return list !== undefined && splitList(list).some((element) => element.toLowerCase() === token);
}

/**
 * The request target goes on the request line (or in `:path`): no spaces or controls (RFC 9112 §3.2).
 * @internal
 */
export function checkTarget(target: string): string {
  if (!/^\/[\x21-\x7e]*$/.test(target)) {
    throw new TypeError(`Invalid request target ${JSON.stringify(target)}: a path with no spaces or controls`);
  }
  return target;
}
