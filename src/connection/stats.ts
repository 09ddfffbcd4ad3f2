/**
 * What the connections of one server (or one client connection) have done, counted as it
 * happens: a few additions per message on a shared object, nothing per connection.
 * `server.stats()` reads it.
 */
export class ConnectionStats {
  messagesIn = 0;
  messagesOut = 0;
  /** Message bytes received (inflated size for compressed messages). */
  bytesIn = 0;
  /** Message bytes sent (before compression). */
  bytesOut = 0;
  /** How connections ended, by the code `closed` reports (1000, 1001, 1006, 1009...). */
  readonly closeCodes = new Map<number, number>();
  /** Times a connection stopped reading its socket because its application was behind. */
  backpressurePauses = 0;
  /** Broadcast deliveries left out because the member was over its buffer limit. */
  slowMembersSkipped = 0;

  closed(code: number): void {
    this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1);
  }
}
