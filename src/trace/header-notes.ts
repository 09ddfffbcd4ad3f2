/**
 * What each header of an opening handshake is for, in one line with its section: the
 * notes a trace prints beside the headers. Headers WebSocket does not use get none.
 */

const REQUEST_NOTES: Record<string, string> = {
  host: "the host and port the client asked for (RFC 6455 §4.1, RFC 9110 §7.2)",
  upgrade: "asks to switch this connection to the WebSocket protocol (RFC 6455 §4.1)",
  connection: "Upgrade: the Upgrade header is for this hop (RFC 6455 §4.1, RFC 9110 §7.6.1)",
  "sec-websocket-key": "16 random bytes, base64: the server proves it read them (RFC 6455 §4.1)",
  "sec-websocket-version": "13, the version of RFC 6455 (RFC 6455 §4.1, §4.4)",
  "sec-websocket-protocol": "subprotocols offered, most wanted first (RFC 6455 §4.1, §1.9)",
  "sec-websocket-extensions": "extensions offered, with parameters (RFC 6455 §9.1; permessage-deflate: RFC 7692)",
  origin: "the page that opened it; a server may refuse other origins (RFC 6455 §4.1, §10.2)",
  "user-agent": "not WebSocket: the client software (RFC 9110 §10.1.5)",
  cookie: "not WebSocket: cookies travel with the handshake as with any request (RFC 6455 §4.1)",
  authorization: "not WebSocket: credentials, checked before the upgrade (RFC 9110 §11.6.2)",
  pragma: "not WebSocket: HTTP/1.0 caches (RFC 9111 §5.4)",
  "cache-control": "not WebSocket: intermediaries must not answer from a cache (RFC 9111 §5.2)",
  "accept-encoding": "not WebSocket: has no effect on frames (RFC 9110 §12.5.3)",
  "accept-language": "not WebSocket (RFC 9110 §12.5.4)",
};

const RESPONSE_NOTES: Record<string, string> = {
  upgrade: "websocket: the protocol switched to (RFC 6455 §4.2.2)",
  connection: "Upgrade: as in the request (RFC 6455 §4.2.2)",
  "sec-websocket-accept": "base64(SHA-1(key + GUID)): proof the server understood the request (RFC 6455 §4.2.2)",
  "sec-websocket-protocol": "the one subprotocol the server chose from the offer (RFC 6455 §4.2.2)",
  "sec-websocket-extensions": "the extensions accepted, with the parameters agreed (RFC 6455 §9.1, RFC 7692 §7.1)",
  "content-length": "the length of the body that follows (RFC 9112 §6.3)",
  "content-type": "what the body is (RFC 9110 §8.3)",
  location: "where a redirect points; a WebSocket client does not follow it (RFC 6455 §4.1)",
  date: "not WebSocket: when the response was made (RFC 9110 §6.6.1)",
  server: "not WebSocket: the server software (RFC 9110 §10.2.4)",
};

/** The note for a request header, by name (any case); "" when there is none. */
export function requestHeaderNote(name: string): string {
  return REQUEST_NOTES[name.toLowerCase()] ?? "";
}

/** The note for a response header, by name (any case); "" when there is none. */
export function responseHeaderNote(name: string): string {
  return RESPONSE_NOTES[name.toLowerCase()] ?? "";
}
