import { createHash } from "node:crypto";

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
  // latin1: the parser decoded the header bytes as latin1, so this hashes exactly the bytes sent.
  return createHash("sha1").update(key + WEBSOCKET_GUID, "latin1").digest("base64");
}
