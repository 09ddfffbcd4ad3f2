/**
 * Close status codes (RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number Registry",
 * RFC 6455 §11.7).
 */
export const CloseCode = {
  /** The purpose for which the connection was established has been fulfilled. */
  Normal: 1000,
  /** The endpoint is going away: a server shutting down, a browser leaving the page. */
  GoingAway: 1001,
  /** The peer broke the protocol. */
  ProtocolError: 1002,
  /** The peer sent a type of data the endpoint cannot accept. */
  UnsupportedData: 1003,
  /** Reserved: never sent on the wire; reported when a close frame had no status code. */
  NoStatus: 1005,
  /** Reserved: never sent on the wire; reported when the connection closed without a close frame. */
  Abnormal: 1006,
  /** A text message was not valid UTF-8. */
  InvalidPayload: 1007,
  /** The message violates the endpoint's policy. */
  PolicyViolation: 1008,
  /** The message is too big to process. */
  MessageTooBig: 1009,
  /** The client expected the server to negotiate an extension that it did not. */
  MandatoryExtension: 1010,
  /** The server met an unexpected condition. */
  InternalError: 1011,
  /** The service is restarting (IANA registry). */
  ServiceRestart: 1012,
  /** Try again later (IANA registry). */
  TryAgainLater: 1013,
  /** The gateway got an invalid response from upstream (IANA registry). */
  BadGateway: 1014,
  /** Reserved: never sent on the wire; reported when the TLS handshake failed. */
  TlsHandshake: 1015,
} as const;

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4). 1000-1003 and
 * 1007-1014 are defined; 1004 is reserved; 1005, 1006 and 1015 are for reporting only and
 * MUST NOT be sent (§7.4.1); 1016-2999 are reserved for future RFCs; 3000-3999 are for
 * libraries and frameworks (registered with IANA), 4000-4999 for private use (§7.4.2).
 * Anything else (0-999, 5000+) is invalid.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}
