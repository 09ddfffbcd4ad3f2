import { createHash } from "node:crypto";
import { acceptKey } from "../http/accept-key.js";
import type { AcceptSteps } from "./events.js";

/** The GUID of RFC 6455 §1.3, appended to every key. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * `Sec-WebSocket-Accept` worked out one step at a time (RFC 6455 §4.2.2 step 5.4): the
 * key and the GUID joined, their SHA-1, its base64; then compared with what the server
 * sent. The result is checked against `acceptKey`, the function the server uses.
 */
export function acceptSteps(key: string, received: string | null): AcceptSteps {
  const digest = createHash("sha1").update(key + WEBSOCKET_GUID, "latin1").digest();
  const expected = digest.toString("base64");
  if (expected !== acceptKey(key)) throw new Error("acceptSteps and acceptKey disagree");
  return { key, guid: WEBSOCKET_GUID, sha1: digest.toString("hex"), expected, received, matches: received === expected };
}
