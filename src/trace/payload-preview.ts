import { Buffer } from "node:buffer";
import { isValidUtf8 } from "../frame/utf8.js";
import type { PayloadPreview } from "./events.js";

/** How many payload bytes a preview shows by default. */
export const DEFAULT_PREVIEW_BYTES = 64;

/**
 * A bounded look at `bytes`, the first `shown` bytes of a payload of `total` bytes: as
 * text when `asText` and the bytes are UTF-8 (a preview cut inside a character drops
 * that character's start), otherwise as hex.
 */
export function previewPayload(bytes: Buffer, total: number, asText: boolean, limit = DEFAULT_PREVIEW_BYTES): PayloadPreview {
  const shown = bytes.subarray(0, Math.min(limit, bytes.length));
  if (asText) {
    const text = utf8Prefix(shown);
    if (text !== undefined) return { kind: "text", shown: text.text, omitted: total - text.bytes };
  }
  return { kind: "hex", shown: hex(shown), omitted: total - shown.length };
}

/** Bytes as hex pairs separated by spaces: `48 65 6c`. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex").replace(/(..)(?=.)/g, "$1 ");
}

/**
 * `bytes` as text when they are UTF-8, allowing a character cut at the end (a preview's
 * limit, or a fragment boundary); undefined when they are not text.
 */
function utf8Prefix(bytes: Buffer): { text: string; bytes: number } | undefined {
  // A UTF-8 character is at most 4 bytes: try dropping up to 3 bytes of a cut character.
  for (let cut = 0; cut <= Math.min(3, bytes.length); cut++) {
    const part = bytes.subarray(0, bytes.length - cut);
    if (isValidUtf8(part)) return { text: part.toString("utf8"), bytes: part.length };
  }
  return undefined;
}
