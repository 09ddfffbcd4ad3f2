/**
 * The numeric options of a server or a client (sizes, counts, timeouts), checked where
 * they are given: a bad value is the caller's error, reported by `createServer()` or
 * `connect()`, not a crash at the first connection or a limit that never applies.
 */
export type LimitKind = "size" | "limit" | "ms";

const RULES: Record<LimitKind, { accepts: (value: number) => boolean; expected: string }> = {
  // A size of something made whole at once (a request head): a whole number of bytes.
  size: { accepts: (value) => Number.isSafeInteger(value) && value >= 1, expected: "a whole number, at least 1" },
  // A threshold that counts or bytes are compared with; Infinity is no limit.
  limit: { accepts: (value) => value > 0, expected: "above 0 (Infinity for no limit)" },
  // A timer's delay: setTimeout fires at once for anything past 2^31 - 1 ms (about 24.8 days).
  ms: { accepts: (value) => value > 0 && value <= 2 ** 31 - 1, expected: "between 1 and 2^31 - 1 ms" },
};

/**
 * Returns `value` if it suits an option of that kind.
 * @throws TypeError when it is not a number; RangeError when it is out of range.
 */
export function checkLimit(name: string, value: unknown, kind: LimitKind): number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  }
  const rule = RULES[kind];
  if (!rule.accepts(value)) throw new RangeError(`${name} must be ${rule.expected}, got ${value}`);
  return value;
}
