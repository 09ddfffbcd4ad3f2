import type { TraceEvent } from "./events.js";

/**
 * One event as one line of JSON, for tools (`wsraw trace --json`): the event object as
 * it is, every byte string in hex, with the time it was seen.
 */
export function renderJson(event: TraceEvent, time: Date = new Date()): string {
  return `${JSON.stringify({ time: time.toISOString(), ...event })}\n`;
}
