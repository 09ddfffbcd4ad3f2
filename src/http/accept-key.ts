import * as crypto from "node:crypto";

// RFC 6455 §1.3: the GUID every server appends to the client's key.
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
 * base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2 step 5.4). It proves to the client that the
 * server read its handshake and understands WebSocket.
 *
 * @param key - the `Sec-WebSocket-Key` header value, as sent
 */
export function acceptKey(key: string): string {
  const input = key + WEBSOCKET_GUID;
  // A valid key is base64 (ASCII), which every encoding hashes the same: the one-shot
  // hash (Node >= 20.12, ~2.5x faster) can take it as it is.
  if (oneShotHash !== undefined && isAscii(input)) return oneShotHash("sha1", input, "base64");
  // latin1: the parser decoded the header bytes as latin1, so this hashes exactly the bytes sent.
  return crypto.createHash("sha1").update(input, "latin1").digest("base64");
}

type OneShotHash = (algorithm: string, data: string, outputEncoding: "base64") => string;
const oneShotHash = (crypto as { hash?: OneShotHash }).hash;

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}
