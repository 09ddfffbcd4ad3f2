import { CloseCode } from "./close-code.js";

/**
 * A violation of RFC 6455 by the peer. `closeCode` is the status the connection must be
 * failed with (RFC 6455 §7.1.7, §7.4.1) and `message` the reason, short enough to travel
 * in a close frame (at most 123 bytes of UTF-8).
 */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";

  constructor(
    /** The close code to fail the connection with: 1002, 1007 or 1009. */
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** 1002: the peer broke the framing rules. */
export function protocolViolation(message: string): ProtocolError {
  return new ProtocolError(CloseCode.ProtocolError, message);
}
