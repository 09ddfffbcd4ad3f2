import { Buffer } from "node:buffer";

/**
 * An HTTP-level failure of the opening handshake: the request cannot be served and the
 * server answers with `status` instead of upgrading.
 *
 * `message` is written into the response body, so it is a sentence the client's developer
 * can act on ("Sec-WebSocket-Key must be base64 of 16 bytes"), never a stack trace.
 */
export class HttpError extends Error {
  override readonly name = "HttpError";
  /** The response status code (4xx or 5xx). */
  readonly status: number;
  /** Extra response headers the status calls for, e.g. `Allow` on a 405 (RFC 9110 §15.5.6). */
  readonly headers: Record<string, string>;

  /**
   * @param status - response status code
   * @param message - human-readable explanation, sent as the response body
   * @param headers - extra response headers required by the status
   */
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * A client's opening handshake that did not end in a usable connection: the server
 * refused it (`status` is its answer, `headers` and a bounded start of `body` come with
 * it), or answered 101 with something a client must not accept (a wrong
 * `Sec-WebSocket-Accept`, an unoffered subprotocol or extension: `status` is 101), or sent
 * no valid HTTP response at all (`status` 0).
 */
export class HandshakeError extends Error {
  override readonly name = "HandshakeError";

  constructor(
    message: string,
    /** The response's status code; 0 when there was no valid response. */
    readonly status: number = 0,
    /** The response's header fields by lower-cased name (repeated fields joined with ", "). */
    readonly headers: Record<string, string> = {},
    /** The start of the response's body (at most 64 KiB), when it had one. */
    readonly body: Buffer = Buffer.alloc(0),
  ) {
    super(message);
  }
}
