/**
 * Bounded waiting, shared by every test folder: a wait that runs out names what it was
 * waiting for instead of hanging the suite.
 *
 * The deadlines use the real timers captured when this module loads, so a test that fakes
 * timers (`vi.useFakeTimers()`) still has working deadlines.
 */
import { setImmediate as nextMacrotask, setTimeout as delay } from "node:timers/promises";

export { delay, nextMacrotask };

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** Default bound for one awaited event; generous, the machine may be slow and busy. */
export const WAIT_MS = 10_000;

/** `promise`, or a rejection naming `what` after `ms` (real time, even under fake timers). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => realClearTimeout(timer));
}

/** The same as `within` (the name the conformance harness uses). */
export const withTimeout = within;

/** Resolves after `ms` (the timers of the moment: fake ones when a test fakes them). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One turn of the event loop: lets nextTick/microtask work and pending I/O callbacks run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Whether `promise` has settled by the next turn of the event loop. */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await turn();
  return settled;
}

/** Resolves true if `promise` settles within `ms`, false if it is still pending then. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => realSetTimeout(resolve, ms));
  return settled;
}

/** Polls `condition` every 5 ms until it holds; rejects naming `what` after `ms`. */
export async function waitUntil(condition: () => boolean, ms: number, what: string): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => realSetTimeout(resolve, 5));
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A FIFO of events that a test awaits one by one, each wait bounded. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(item: T) => void> = [];

  constructor(private readonly label: string) {}

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(item);
    else this.items.push(item);
  }

  next(ms = WAIT_MS): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    const waiter = deferred<T>();
    this.waiters.push(waiter.resolve);
    return within(waiter.promise, ms, `the next ${this.label}`).catch((error: unknown) => {
      const index = this.waiters.indexOf(waiter.resolve);
      if (index !== -1) this.waiters.splice(index, 1);
      throw error;
    });
  }

  /** Items received so far and not yet taken. */
  drain(): T[] {
    return this.items.splice(0);
  }
}

/** Event-driven waits: `changed()` re-checks the conditions that `until()` callers wait for. */
export class Watch {
  private readonly watchers = new Set<() => void>();

  changed(): void {
    for (const watcher of [...this.watchers]) watcher();
  }

  /** Resolves once `condition()` holds (checked now and after every change), or rejects after `ms`. */
  until(condition: () => boolean, ms: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    let watcher!: () => void;
    const met = new Promise<void>((resolve) => {
      watcher = () => {
        if (condition()) resolve();
      };
      this.watchers.add(watcher);
    });
    return within(met, ms, what).finally(() => this.watchers.delete(watcher));
  }
}

/**
 * Runs `fn(i)` for i in [0, count) with at most `limit` running at once, starting no new
 * one once `shouldStop()` says so (a time budget). Resolves with how many were started.
 */
export async function forEachLimit(
  count: number,
  limit: number,
  fn: (index: number) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && !shouldStop()) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return next;
}

/** Lets an in-process server run its I/O callbacks before the client writes again (one `turn`). */
export const yieldToServer = turn;
