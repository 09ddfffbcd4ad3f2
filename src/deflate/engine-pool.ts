import { ZlibEngine, type ZlibEngineOptions } from "./zlib-engine.js";

/**
 * Idle zlib engines, kept for reuse by connections that carry no LZ77 window between
 * messages (no context takeover, RFC 7692 §7.1.1). Such a connection borrows an engine
 * for one message and gives it back reset, so 10,000 idle connections hold no zlib state
 * at all: only as many engines exist as messages are being (de)compressed at once, plus
 * a few idle ones. Allocating and freeing zlib's state (up to 256 KiB) per message is
 * what fragments a heap; a pool does neither.
 */
export class EnginePool {
  private readonly idle: ZlibEngine[] = [];

  constructor(
    private readonly kind: "deflate" | "inflate",
    private readonly options: ZlibEngineOptions,
    /** Idle engines kept at most; more are closed when given back. */
    private readonly maxIdle = 4,
  ) {}

  acquire(): ZlibEngine {
    return this.idle.pop() ?? new ZlibEngine(this.kind, this.options);
  }

  /** Takes an engine back, reset; a failed or stopped one is dropped. */
  release(engine: ZlibEngine): void {
    if (!engine.usable) return;
    if (this.idle.length >= this.maxIdle) {
      engine.close();
      return;
    }
    engine.reset();
    this.idle.push(engine);
  }
}

const pools = new Map<string, EnginePool>();

/** The process-wide pool for engines made with these settings. */
export function sharedPool(kind: "deflate" | "inflate", options: ZlibEngineOptions): EnginePool {
  const key = `${kind}:${options.windowBits}:${options.level ?? ""}:${options.memLevel ?? ""}`;
  let pool = pools.get(key);
  if (pool === undefined) pools.set(key, (pool = new EnginePool(kind, options)));
  return pool;
}
