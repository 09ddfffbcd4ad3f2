import { Buffer } from "node:buffer";
import { joinUnmasked } from "./mask.js";

/**
 * Pieces shorter than this are copied into a gathering buffer instead of being kept as
 * views of their chunks. A view costs about 100 B of heap whatever its length: a peer
 * sending a message in 1-byte fragments (7 bytes each on the wire) would otherwise make
 * the parser hold some 15 times what it sent, about 2 GB at the default `maxPayload`.
 */
const SMALL_PIECE = 512;

/**
 * The largest gathering buffer. They grow with the message, from 1 KiB: a small piece at
 * the edge of a frame that spans chunks (the usual case) costs a small buffer.
 */
const GATHER_SIZE = 8 * 1024;

/**
 * The payload of a data message that arrives in pieces (fragments, or a frame that spans
 * chunks), kept in order until the message is complete. Large pieces stay views of their
 * chunks (zero-copy until the one join); small ones are gathered, so that memory follows
 * the bytes received, not the number of pieces.
 */
export class MessageParts {
  /** Bytes added so far. */
  length = 0;
  private readonly parts: Buffer[] = [];
  private gather: Buffer | undefined;
  /** The gathering buffer's bytes [gatherStart, gatherEnd) are not in `parts` yet. */
  private gatherStart = 0;
  private gatherEnd = 0;

  add(piece: Buffer): void {
    this.length += piece.length;
    if (piece.length >= SMALL_PIECE) {
      this.flushGathered();
      this.parts.push(piece);
      return;
    }
    if (this.gather === undefined || this.gatherEnd + piece.length > this.gather.length) {
      this.flushGathered();
      this.gather = Buffer.allocUnsafe(Math.min(GATHER_SIZE, Math.max(2 * SMALL_PIECE, this.length)));
      this.gatherStart = 0;
      this.gatherEnd = 0;
    }
    this.gather.set(piece, this.gatherEnd);
    this.gatherEnd += piece.length;
  }

  /** The message: the pieces joined (the only one as it is). */
  join(): Buffer {
    const parts = this.flushed();
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, this.length);
  }

  /** The message, its pieces still masked with `key` (a `keyWord`), joined and unmasked in one pass. */
  joinUnmasked(key: number): Buffer {
    return joinUnmasked(this.flushed(), this.length, key);
  }

  private flushed(): Buffer[] {
    this.flushGathered();
    return this.parts;
  }

  private flushGathered(): void {
    if (this.gatherEnd === this.gatherStart) return;
    this.parts.push(this.gather!.subarray(this.gatherStart, this.gatherEnd));
    this.gatherStart = this.gatherEnd;
  }
}
