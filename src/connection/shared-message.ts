import { Buffer } from "node:buffer";
import type { MessageDeflater } from "../deflate/index.js";
import { Opcode, encodeFrame, encodeTextFrame } from "../frame/index.js";
import type { BinaryData } from "../frame/buffer-view.js";

/**
 * A data message that many connections receive (a broadcast), with each encoding of it
 * made once, when the first member that needs it asks: the plain frame, and one
 * compressed frame per compressor setting (RFC 7692 §7.2.1) among members that keep no
 * compression context. Every member then queues the same bytes.
 */
export class SharedMessage {
  /** Compressed frames by compressor setting; a message that did not shrink maps to its plain frame. */
  private compressed: Map<string, Buffer> | undefined;

  private constructor(
    readonly opcode: number,
    /** The frame without compression. */
    readonly plainFrame: Buffer,
    /** The message's bytes: a view into `plainFrame`. */
    readonly payload: Buffer,
  ) {}

  static of(data: string | BinaryData): SharedMessage {
    if (typeof data === "string") return SharedMessage.fromFrame(encodeTextFrame(data));
    const parts = encodeFrame(Opcode.Binary, data);
    return SharedMessage.fromFrame(parts.length === 1 ? parts[0] : Buffer.concat(parts));
  }

  /** From one complete, unmasked, uncompressed data frame (as `wsraw/redis` carries it). */
  static fromFrame(frame: Buffer): SharedMessage {
    const length7 = frame[1] & 0x7f;
    const headerSize = length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
    return new SharedMessage(frame[0] & 0x0f, frame, frame.subarray(headerSize));
  }

  /** The frame compressed as `deflater` compresses (it must be `shareable`). */
  compressedFrame(deflater: MessageDeflater): Buffer {
    const key = deflater.settingKey;
    let frame = this.compressed?.get(key);
    if (frame === undefined) {
      const payload = deflater.compressSync(this.payload);
      if (payload === undefined) {
        frame = this.plainFrame;
      } else {
        const parts = encodeFrame(this.opcode, payload, { compressed: true });
        frame = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      }
      (this.compressed ??= new Map()).set(key, frame);
    }
    return frame;
  }
}
