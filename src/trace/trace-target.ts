import { UsageError } from "./usage-error.js";

/** Where a relay forwards to, from a `ws://` or `wss://` URL. */
export interface TraceTarget {
  host: string;
  port: number;
  /** The path and query to suggest to clients; the relay forwards whatever path they ask for. */
  path: string;
  /** `wss://`: the relay speaks TLS to the target (and plain TCP to its clients). */
  secure: boolean;
}

/**
 * Reads a `ws://` or `wss://` URL to relay to. For `wss://` the relay is the TLS client
 * of the target, so the bytes it forwards and reads are the WebSocket's own.
 */
export function parseTraceTarget(flag: string, value: string): TraceTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} must be a ws:// or wss:// URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new UsageError(`${flag} must be a ws:// or wss:// URL, got ${url.protocol}//`);
  }
  const secure = url.protocol === "wss:";
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port || (secure ? 443 : 80)),
    path: `${url.pathname || "/"}${url.search}`,
    secure,
  };
}
