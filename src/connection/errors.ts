/**
 * Thrown by `send`, `ping` and the other writing methods of a connection that is closing
 * or closed: the data was not sent. Like Python websockets' `ConnectionClosed`, a handler
 * may let it propagate: the server treats it as the end of the conversation, not as a
 * failure of the handler.
 */
export class ConnectionClosedError extends Error {
  override readonly name = "ConnectionClosedError";

  constructor(
    /** The close code that ended (or is ending) the connection, 1006 when none is known yet. */
    readonly code: number,
    /** The close reason, possibly empty. */
    readonly reason: string,
    /** This end has sent its close frame (`close()`) and the peer has not answered yet. */
    closingHere = false,
  ) {
    super(
      closingHere
        ? "WebSocket connection is closing: close() was called, and the peer's close frame is awaited; nothing was sent"
        : `WebSocket connection is closed (${code}${reason ? `: ${reason}` : ""}); nothing was sent`,
    );
  }
}
