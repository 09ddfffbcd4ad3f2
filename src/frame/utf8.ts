import { isUtf8 } from "node:buffer";

/** Below this many bytes the JS loop is cheaper than a call into `buffer.isUtf8`. */
const NATIVE_THRESHOLD = 32;

/**
 * An incremental UTF-8 validator for a text message that arrives in pieces (fragments,
 * or parts of one frame spread over TCP reads).
 *
 * It fails fast: `write` returns false on the first piece after which no continuation
 * could make the text valid (RFC 6455 §8.1: "When an endpoint is to interpret a byte
 * stream as UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8 stream,
 * that endpoint MUST _Fail the WebSocket Connection_"). A code point split between pieces
 * is carried over. Its verdict is exactly that of `new TextDecoder("utf-8", { fatal: true })`
 * (no overlongs, no surrogates, nothing above U+10FFFF).
 *
 * The bulk of each piece goes to Node's SIMD `buffer.isUtf8`; only the few bytes of a code
 * point cut at a piece boundary go through the byte-wise state machine below, which is the
 * WHATWG Encoding Standard's UTF-8 decoder (§9.1.1) without the output.
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the current code point. */
  private needed = 0;
  /** Allowed range of the next continuation byte. */
  private lower = 0x80;
  private upper = 0xbf;

  /** True when everything written so far ends on a code point boundary. */
  get complete(): boolean {
    return this.needed === 0;
  }

  /** Forgets any partial code point: ready for a new message. */
  reset(): void {
    this.needed = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  /**
   * Validates the next piece. Returns false as soon as the text so far cannot be the start
   * of valid UTF-8; the validator must then be reset before reuse.
   */
  write(bytes: Uint8Array): boolean {
    const length = bytes.length;
    let start = 0;
    // Finish a code point begun in an earlier piece.
    while (this.needed !== 0 && start < length) {
      if (!this.step(bytes[start++])) return false;
    }
    if (start === length) return true;
    if (length - start < NATIVE_THRESHOLD) {
      for (let i = start; i < length; i++) if (!this.step(bytes[i])) return false;
      return true;
    }
    const cut = incompleteTailStart(bytes, start);
    // A view costs as much as validating ~64 bytes: make one only for a partial range.
    if (!isUtf8(start === 0 && cut === length ? bytes : bytes.subarray(start, cut))) return false;
    for (let i = cut; i < length; i++) if (!this.step(bytes[i])) return false;
    return true;
  }

  private step(byte: number): boolean {
    if (this.needed === 0) {
      if (byte <= 0x7f) return true;
      if (byte >= 0xc2 && byte <= 0xdf) {
        this.needed = 1;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        if (byte === 0xe0) this.lower = 0xa0; // overlong
        else if (byte === 0xed) this.upper = 0x9f; // surrogates
        this.needed = 2;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        if (byte === 0xf0) this.lower = 0x90; // overlong
        else if (byte === 0xf4) this.upper = 0x8f; // above U+10FFFF
        this.needed = 3;
      } else {
        return false;
      }
      return true;
    }
    if (byte < this.lower || byte > this.upper) return false;
    this.lower = 0x80;
    this.upper = 0xbf;
    this.needed--;
    return true;
  }
}

/**
 * Index where a code point that is cut off by the end of `bytes` begins, or `bytes.length`
 * when the last code point is whole (or the bytes are invalid anyway, which `isUtf8` will
 * then report). Looks at most at the last four bytes.
 */
function incompleteTailStart(bytes: Uint8Array, from: number): number {
  const end = bytes.length;
  const stop = Math.max(from, end - 4);
  for (let i = end - 1; i >= stop; i--) {
    const byte = bytes[i];
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const size = byte < 0x80 ? 1 : byte < 0xe0 ? 2 : byte < 0xf0 ? 3 : 4;
    return i + size > end ? i : end;
  }
  return end;
}

/** Whole-buffer check, with the same verdict as `Utf8Validator`. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  if (bytes.length >= NATIVE_THRESHOLD) return isUtf8(bytes);
  const validator = new Utf8Validator();
  return validator.write(bytes) && validator.complete;
}
