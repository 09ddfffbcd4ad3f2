import { isUtf8 } from "node:buffer";
import { Opcode, frameHeaderSize, writeFrameHeader } from "../frame/index.js";
import { type BinaryData, toBuffer } from "../frame/buffer-view.js";

/**
 * What one server publishes to the others through Redis: who sent it, which connection
 * it leaves out, and the WebSocket frame itself, encoded once by the sender so that every
 * server writes the same bytes to its members without encoding them again.
 *
 * ```
 * byte 0        format version (1)
 * bytes 1-8     the sending RedisGroups instance's random id
 * bytes 9-12    the connection to leave out, a serial of the sender's (0: none), uint32 BE
 * bytes 13-     one complete, unmasked frame: FIN set, opcode text or binary
 * ```
 */
export const ENVELOPE_VERSION = 1;
export const ORIGIN_SIZE = 8;
const PREFIX_SIZE = 1 + ORIGIN_SIZE + 4;

export interface Envelope {
  /** The sender's id (a view into the envelope). */
  origin: Buffer;
  /** The sender's serial of the connection to leave out; 0 for none. */
  except: number;
  /** The frame every member receives (a view into the envelope). */
  frame: Buffer;
}

/** An envelope that no wsraw server wrote: something else publishes on our channels. */
export class EnvelopeError extends Error {
  override name = "EnvelopeError";
}

export function encodeEnvelope(origin: Buffer, except: number, message: string | BinaryData): Buffer {
  const data = typeof message === "string" ? message : toBuffer(message);
  const text = typeof data === "string";
  const length = text ? Buffer.byteLength(data) : data.length;
  const envelope = Buffer.allocUnsafe(PREFIX_SIZE + frameHeaderSize(length, false) + length);
  envelope[0] = ENVELOPE_VERSION;
  origin.copy(envelope, 1, 0, ORIGIN_SIZE);
  envelope.writeUInt32BE(except, 1 + ORIGIN_SIZE);
  const start = writeFrameHeader(envelope, PREFIX_SIZE, text ? Opcode.Text : Opcode.Binary, length, true);
  if (text) envelope.write(data, start, "utf8");
  else envelope.set(data, start);
  return envelope;
}

/**
 * Reads an envelope, checking everything a member's client would otherwise have to
 * reject: the frame is whole, unmasked, final, text or binary, its length is its size,
 * and text is valid UTF-8 (RFC 6455 §5.2, §5.6). Throws `EnvelopeError` otherwise.
 */
export function decodeEnvelope(envelope: Buffer): Envelope {
  if (envelope.length < PREFIX_SIZE + 2) throw new EnvelopeError(`too short (${envelope.length} bytes)`);
  if (envelope[0] !== ENVELOPE_VERSION) throw new EnvelopeError(`unknown format version ${envelope[0]}`);
  const frame = envelope.subarray(PREFIX_SIZE);
  const first = frame[0];
  if (first !== (0x80 | Opcode.Text) && first !== (0x80 | Opcode.Binary)) {
    throw new EnvelopeError(`not a final text or binary frame (first byte 0x${first.toString(16)})`);
  }
  const second = frame[1];
  if (second & 0x80) throw new EnvelopeError("the frame is masked; a server's frames are not (RFC 6455 §5.1)");
  let length = second & 0x7f;
  let headerSize = 2;
  if (length >= 126) {
    headerSize = length === 126 ? 4 : 10;
    if (frame.length < headerSize) throw new EnvelopeError("the frame's header is cut short");
    length = length === 126 ? frame.readUInt16BE(2) : frame.readUInt32BE(2) * 2 ** 32 + frame.readUInt32BE(6);
    // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
    if (length < (headerSize === 4 ? 126 : 0x10000)) throw new EnvelopeError("the frame's length is not minimally encoded");
  }
  if (frame.length !== headerSize + length) {
    throw new EnvelopeError(`the frame's length field does not match its ${frame.length - headerSize} payload bytes`);
  }
  if (first === (0x80 | Opcode.Text) && !isUtf8(frame.subarray(headerSize))) {
    throw new EnvelopeError("a text frame that is not valid UTF-8");
  }
  return {
    origin: envelope.subarray(1, 1 + ORIGIN_SIZE),
    except: envelope.readUInt32BE(1 + ORIGIN_SIZE),
    frame,
  };
}
