import { UsageError } from "./usage-error.js";

/** Where a relay forwards to, from a `ws://HOST:PORT[/path]` URL. */
export interface TraceTarget {
  host: string;
  port: number;
  /** The path and query to suggest to clients; the relay forwards whatever path they ask for. */
  path: string;
}

/**
 * Reads a `ws://` URL to relay to. `wss://` is refused: the relay reads the bytes it
 * forwards, and TLS bytes cannot be read.
 */
export function parseTraceTarget(flag: string, value: string): TraceTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} must be a ws:// URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol === "wss:") throw new UsageError(`${flag}: wss:// cannot be traced, its bytes are encrypted; use ws://`);
  if (url.protocol !== "ws:") throw new UsageError(`${flag} must be a ws:// URL, got ${url.protocol}//`);
  return { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(url.port || 80), path: `${url.pathname || "/"}${url.search}` };
}
