import { performance } from "node:perf_hooks";

/**
 * Milliseconds on the monotonic clock, rounded up to a whole number. A whole number fits a
 * V8 small integer for 24 days of uptime, so a connection's timestamp field holds it in
 * place instead of pointing to a 16-byte boxed double. Rounding up never makes a peer look
 * silent for longer than it was.
 */
export function clockMs(): number {
  // The module's `performance`, not the global one: that is a getter, run on every read.
  return Math.ceil(performance.now());
}
