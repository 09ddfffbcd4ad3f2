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
