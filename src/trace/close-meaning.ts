import { isValidCloseCode } from "../frame/close-code.js";

// RFC 6455 §7.4.1 and the IANA registry (§11.7), as `src/frame/close-code.ts` names them.
const MEANINGS: Record<number, string> = {
  1000: "normal closure: the purpose of the connection is fulfilled",
  1001: "going away: a server shutting down, a browser leaving the page",
  1002: "protocol error: the peer broke the protocol",
  1003: "unsupported data: a type of data the endpoint cannot accept",
  1004: "reserved (RFC 6455 §7.4.1)",
  1005: "no status code: the close frame had no body (never sent on the wire)",
  1006: "abnormal closure: no close frame (never sent on the wire)",
  1007: "invalid payload: data not consistent with the message type (e.g. text that is not UTF-8)",
  1008: "policy violation",
  1009: "message too big to process",
  1010: "mandatory extension: the client expected an extension the server did not negotiate",
  1011: "internal error: the server met an unexpected condition",
  1012: "service restart (IANA registry)",
  1013: "try again later (IANA registry)",
  1014: "bad gateway (IANA registry)",
  1015: "TLS handshake failed (never sent on the wire)",
};

/** What a close code means (RFC 6455 §7.4), for a person reading a trace. */
export function closeCodeMeaning(code: number): string {
  const known = MEANINGS[code];
  if (known !== undefined) return known;
  if (code >= 3000 && code <= 3999) return "registered for libraries and frameworks (RFC 6455 §7.4.2)";
  if (code >= 4000 && code <= 4999) return "private use (RFC 6455 §7.4.2)";
  if (code >= 1016 && code <= 2999) return "reserved for future RFCs (RFC 6455 §7.4.2)";
  return isValidCloseCode(code) ? "valid" : "not a valid close code (RFC 6455 §7.4.2)";
}
