import type { Role } from "../frame/parser.js";
import type { DeflateParams, DeflatePolicy } from "../http/permessage-deflate.js";
import { Limiter } from "./limiter.js";

/**
 * permessage-deflate settings (RFC 7692). The defaults keep no compression state between
 * messages on either side (no context takeover), so an idle connection holds no zlib
 * memory; see the README for what each setting costs per connection.
 */
export interface PerMessageDeflateOptions extends DeflatePolicy {
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib compression level, 0 (none) to 9 (smallest, slowest). Default 1 (fastest). */
  level?: number;
  /**
   * zlib memLevel, 1 to 9: the compressor's hash table, 2^(memLevel + 9) bytes of state
   * while it runs. Default 8.
   */
  memLevel?: number;
  /**
   * Messages of up to this many bytes are compressed synchronously, and received ones of
   * up to a quarter of it (compressed size) inflated synchronously: each such call blocks
   * the event loop for about 0.25 ms at most. Larger ones go to Node's thread pool, so the
   * event loop stays free. `Infinity`: always synchronously. Default 64 KiB.
   */
  syncLimit?: number;
  /** Thread-pool (de)compressions running at once, process-wide; more wait their turn. Default 4. */
  concurrency?: number;
}

/** What governs the messages one end compresses (RFC 7692 §7.1: the server_* or the client_* parameters). */
export interface SenderParams {
  noContextTakeover: boolean;
  maxWindowBits: number;
}

/** The agreed parameters that govern what `sender` compresses (and its peer inflates). */
export function senderParams(params: DeflateParams, sender: Role): SenderParams {
  return sender === "server"
    ? { noContextTakeover: params.serverNoContextTakeover, maxWindowBits: params.serverMaxWindowBits }
    : { noContextTakeover: params.clientNoContextTakeover, maxWindowBits: params.clientMaxWindowBits };
}

/**
 * The one instance under `key` for this setting, made by `make` the first time: deflaters
 * and inflaters that keep no context hold no state of their own, so connections with the
 * same parameters share one.
 */
export function sharedInstance<T extends object>(settings: DeflateSettings, key: string, make: () => T): T {
  let instance = settings.stateless.get(key) as T | undefined;
  if (instance === undefined) settings.stateless.set(key, (instance = make()));
  return instance;
}

/** The options with their defaults filled in, shared by every connection of a server or route. */
export interface DeflateSettings {
  policy: DeflatePolicy;
  threshold: number;
  level: number;
  memLevel: number;
  syncLimit: number;
  limiter: Limiter;
  /** The instances `sharedInstance` hands out, by key. @internal */
  stateless: Map<string, object>;
}

const limiters = new Map<number, Limiter>();

/** Resolves `perMessageDeflate: true | options` once, checking every value. */
export function deflateSettings(options: true | PerMessageDeflateOptions): DeflateSettings {
  const o = options === true ? {} : options;
  const concurrency = o.concurrency ?? 4;
  let limiter = limiters.get(concurrency);
  if (limiter === undefined) limiters.set(concurrency, (limiter = new Limiter(concurrency)));
  return {
    policy: {
      serverNoContextTakeover: o.serverNoContextTakeover,
      clientNoContextTakeover: o.clientNoContextTakeover,
      serverMaxWindowBits: o.serverMaxWindowBits,
      clientMaxWindowBits: o.clientMaxWindowBits,
    },
    threshold: checkedInteger("threshold", o.threshold ?? 1024, 0, Number.MAX_SAFE_INTEGER),
    level: checkedInteger("level", o.level ?? 1, 0, 9),
    memLevel: checkedInteger("memLevel", o.memLevel ?? 8, 1, 9),
    syncLimit: o.syncLimit === Infinity ? Infinity : checkedInteger("syncLimit", o.syncLimit ?? 64 * 1024, 0, Number.MAX_SAFE_INTEGER),
    limiter,
    stateless: new Map(),
  };
}

function checkedInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`perMessageDeflate.${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}
