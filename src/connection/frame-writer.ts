import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { MERGE_THRESHOLD, Opcode, frameHeaderSize, mask, randomMaskKey, writeFrameHeader } from "../frame/index.js";
import { reserve, slab } from "./slab.js";

/**
 * Emitted on the socket after queued frames were handed to it, when something listens
 * (`WebSocket.drained()`): the point where `bufferedAmount` falls without a 'drain'.
 */
export const FLUSHED = "wsraw:flushed";

/**
 * A place in the outgoing queue kept for a frame that is still being made (a message
 * compressed on the thread pool): what was queued after it waits until it is filled.
 */
export interface Slot {
  bytes: Buffer[] | undefined;
  /** The bytes it was counted as until filled. */
  readonly estimate: number;
}

interface WriteMethods {
  latin1Write(text: string, offset: number, length: number): number;
  utf8Write(text: string, offset: number, length: number): number;
}

/**
 * Encodes a connection's outgoing frames and writes them in batches: everything queued
 * in one tick goes to the socket together at the end of that tick (`process.nextTick`,
 * after the promise jobs of the tick, so a `for await` loop's replies are batched too).
 * Small frames are encoded into adjacent slab memory and leave as one buffer; large
 * payloads are never copied, only their header is written next to them.
 *
 * A client's writer masks every frame with a fresh key (RFC 6455 §5.3): its large
 * payloads are copied once, masked, next to their header, as the caller's bytes are not
 * to be changed.
 */
export class FrameWriter {
  /** What waits to be written; undefined when nothing does (an idle connection has no array). */
  private pending: Array<Buffer | Slot> | undefined;
  /** Slots not yet filled: while there are any, `flush` stops at the first. */
  private openSlots = 0;
  /** `end()` was called while a slot was open: the FIN follows the last slot. */
  private ending = false;
  private pendingBytes = 0;
  private scheduled = false;
  // The run of adjacent small frames being encoded: slab bytes [runStart, runEnd).
  private runBuffer: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;

  constructor(
    private readonly socket: Duplex,
    /** Mask every frame: this is a client's writer. */
    private readonly masking = false,
  ) {}

  /** Bytes queued here or in the socket and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  /** Queues a complete text frame; returns its payload's size in bytes. */
  text(text: string): number {
    const length = Buffer.byteLength(text);
    if (length <= MERGE_THRESHOLD) {
      const key = this.masking ? randomMaskKey() : undefined;
      const size = frameHeaderSize(length, this.masking) + length;
      const start = reserve(size);
      const buffer = slab.buffer;
      const payloadStart = writeFrameHeader(buffer, start, Opcode.Text, length, true, key);
      // As many bytes as UTF-16 units: all ASCII, and latin1 writes those bytes ~2× faster.
      // Node's methods behind `write(text, offset, length, encoding)`, without its argument handling.
      const methods = buffer as unknown as WriteMethods;
      if (length === text.length) methods.latin1Write(text, payloadStart, length);
      else methods.utf8Write(text, payloadStart, length);
      if (key !== undefined) mask(buffer.subarray(payloadStart, payloadStart + length), key);
      this.extendRun(buffer, start, size);
    } else {
      this.frame(Opcode.Text, Buffer.from(text, "utf8"));
    }
    return length;
  }

  /**
   * Queues a frame. A large payload is queued by reference: it must not change until
   * written. `opcode` may carry RSV1 (0x40) for a compressed message.
   */
  frame(opcode: number, payload: Buffer): void {
    const length = payload.length;
    if (this.masking && length > MERGE_THRESHOLD) {
      this.queue(maskedFrame(opcode, payload));
      return;
    }
    const key = this.masking ? randomMaskKey() : undefined;
    const headerSize = frameHeaderSize(length, this.masking);
    const size = length <= MERGE_THRESHOLD ? headerSize + length : headerSize;
    const start = reserve(size);
    const buffer = slab.buffer;
    const end = writeFrameHeader(buffer, start, opcode, length, true, key);
    if (length <= MERGE_THRESHOLD) {
      buffer.set(payload, end);
      if (key !== undefined) mask(buffer.subarray(end, end + length), key);
      this.extendRun(buffer, start, size);
    } else {
      this.extendRun(buffer, start, size);
      this.queue(payload);
    }
  }

  /** Queues bytes that are already an encoded frame (a broadcast shares them between sockets). */
  queue(bytes: Buffer): void {
    if (this.runBuffer !== undefined) this.endRun();
    (this.pending ??= []).push(bytes);
    this.added(bytes.length);
  }

  /**
   * The bytes of one frame, outside the queue (to `fill` a slot with): the header and the
   * payload by reference, or one masked copy for a client.
   */
  encode(opcode: number, payload: Buffer, fin = true): Buffer[] {
    if (this.masking) return [maskedFrame(opcode, payload, fin)];
    const header = Buffer.allocUnsafe(frameHeaderSize(payload.length, false));
    writeFrameHeader(header, 0, opcode, payload.length, fin);
    return [header, payload];
  }

  /** Keeps a place for a frame of about `estimate` bytes that `fill` will provide. */
  reserve(estimate: number): Slot {
    if (this.runBuffer !== undefined) this.endRun();
    const slot: Slot = { bytes: undefined, estimate };
    (this.pending ??= []).push(slot);
    this.openSlots++;
    this.pendingBytes += estimate;
    return slot;
  }

  /** Provides a reserved frame: it, and what was queued behind it, can go out. */
  fill(slot: Slot, bytes: Buffer[]): void {
    if (slot.bytes !== undefined || this.pending === undefined || !this.pending.includes(slot)) return;
    slot.bytes = bytes;
    this.openSlots--;
    this.pendingBytes += piecesLength(bytes) - slot.estimate;
    this.added(0);
  }

  /**
   * Queues frame bytes just before `slot`, still open: the frames of a message sent in
   * fragments, and the control frames that may go between them (RFC 6455 §5.4), go ahead
   * of what was queued after the message began.
   */
  insertBefore(slot: Slot, bytes: Buffer[]): void {
    if (this.runBuffer !== undefined) this.endRun();
    const pending = this.pending!;
    pending.splice(pending.indexOf(slot), 0, ...bytes);
    this.added(piecesLength(bytes));
  }

  /** Bytes queued ahead of `slot` (all of them if it is gone). */
  bytesAhead(slot: Slot): number {
    if (this.runBuffer !== undefined) this.endRun();
    let bytes = 0;
    for (const item of this.pending ?? []) {
      if (item === slot) break;
      if (Buffer.isBuffer(item)) bytes += item.length;
      else bytes += item.bytes === undefined ? item.estimate : piecesLength(item.bytes);
    }
    return bytes;
  }

  /** Drops `slot` and everything queued behind it: nothing may follow a close frame (RFC 6455 §5.5.1). */
  dropFrom(slot: Slot): void {
    if (this.runBuffer !== undefined) this.endRun();
    const pending = this.pending;
    const index = pending === undefined ? -1 : pending.indexOf(slot);
    if (index === -1) return;
    for (const item of pending!.splice(index)) {
      if (Buffer.isBuffer(item)) this.pendingBytes -= item.length;
      else if (item.bytes !== undefined) this.pendingBytes -= piecesLength(item.bytes);
      else {
        this.pendingBytes -= item.estimate;
        this.openSlots--;
      }
    }
    if (pending!.length === 0) this.pending = undefined;
    this.added(0);
  }

  /** Writes everything queued now, up to the first slot still open. */
  flush(): void {
    this.scheduled = false;
    if (this.runBuffer !== undefined) this.endRun();
    let list = this.pending;
    if (list === undefined) {
      if (this.ending) this.socket.end();
      return;
    }
    if (this.openSlots > 0) {
      list = this.takeUpToOpenSlot(list);
    } else {
      this.pending = undefined;
      this.pendingBytes = 0;
    }
    const socket = this.socket;
    if (socket.writable && list.length > 0) {
      let bytes: number;
      if (list.length === 1 && Buffer.isBuffer(list[0])) {
        socket.write(list[0]);
      } else if ((bytes = byteLength(list)) <= COALESCE_LIMIT) {
        // Several small pieces (a broadcast's shared frames, interleaved in the slab with
        // other members' frames): copied together and written as one buffer. The copy
        // costs far less than a writev of many small pieces, in Node and in the kernel.
        socket.write(coalesce(list, bytes));
      } else {
        socket.cork();
        for (const item of list) {
          if (Buffer.isBuffer(item)) socket.write(item);
          else for (const piece of item.bytes!) socket.write(piece);
        }
        socket.uncork();
      }
      // `bufferedAmount` has fallen: what waited here is now the socket's, and the kernel may
      // have taken all of it at once, in which case no 'drain' will ever come.
      if (socket.listenerCount(FLUSHED) !== 0) socket.emit(FLUSHED);
    }
    if (this.ending && this.pending === undefined) this.socket.end();
  }

  /** Writes what is queued, then half-closes the socket (TCP FIN), after any open slot. */
  end(): void {
    this.ending = true;
    this.flush();
  }

  /** Drops whatever is queued (the connection is being torn down). */
  discard(): void {
    this.pending = undefined;
    this.pendingBytes = 0;
    this.runBuffer = undefined;
    this.openSlots = 0;
  }

  /** Removes and returns the entries before the first open slot, with their byte count. */
  private takeUpToOpenSlot(list: Array<Buffer | Slot>): Array<Buffer | Slot> {
    let count = 0;
    let bytes = 0;
    for (; count < list.length; count++) {
      const item = list[count];
      if (Buffer.isBuffer(item)) bytes += item.length;
      else if (item.bytes === undefined) break;
      else bytes += piecesLength(item.bytes);
    }
    this.pendingBytes -= bytes;
    return list.splice(0, count);
  }

  /** Appends `size` slab bytes at `start` to the current run, or starts a new run. */
  private extendRun(buffer: Buffer, start: number, size: number): void {
    if (this.runBuffer === buffer && this.runEnd === start) {
      this.runEnd = start + size;
    } else {
      if (this.runBuffer !== undefined) this.endRun();
      this.runBuffer = buffer;
      this.runStart = start;
      this.runEnd = start + size;
    }
    this.added(size);
  }

  /** Queues the current run as one view of the slab. */
  private endRun(): void {
    (this.pending ??= []).push(this.runBuffer!.subarray(this.runStart, this.runEnd));
    this.runBuffer = undefined;
  }

  private added(bytes: number): void {
    this.pendingBytes += bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushWriter, this);
    }
  }
}

/** Up to this many bytes of queued pieces are copied into one buffer to be written. */
const COALESCE_LIMIT = 16 * 1024;

function piecesLength(pieces: readonly Buffer[]): number {
  let bytes = 0;
  for (const piece of pieces) bytes += piece.length;
  return bytes;
}

function byteLength(list: Array<Buffer | Slot>): number {
  let bytes = 0;
  for (const item of list) {
    if (Buffer.isBuffer(item)) bytes += item.length;
    else bytes += piecesLength(item.bytes!);
  }
  return bytes;
}

/**
 * The last list `coalesce` copied, and its copy. A broadcast's members flush one after
 * another in the same tick, each with the same shared frames: the copy made for the first
 * serves the rest, so a broadcast of 1,000 members copies and spends slab memory once
 * rather than 1,000 times. A list matches only with the same pieces in the same order,
 * whose bytes do not change: the slab is never written twice, and queued payloads are
 * not to change until written. Until the next copy, they keep that copy's slab alive.
 */
let lastList: Array<Buffer | Slot> | undefined;
let lastJoined: Buffer | undefined;

function samePieces(a: Array<Buffer | Slot>, b: Array<Buffer | Slot>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The pieces of `list`, `bytes` in all (at most COALESCE_LIMIT), copied next to each other into the slab. */
function coalesce(list: Array<Buffer | Slot>, bytes: number): Buffer {
  if (lastList !== undefined && samePieces(list, lastList)) return lastJoined!;
  let at = reserve(bytes);
  const buffer = slab.buffer;
  const joined = buffer.subarray(at, at + bytes);
  for (const item of list) {
    if (Buffer.isBuffer(item)) {
      buffer.set(item, at);
      at += item.length;
    } else {
      for (const piece of item.bytes!) {
        buffer.set(piece, at);
        at += piece.length;
      }
    }
  }
  lastList = list;
  lastJoined = joined;
  return joined;
}

/** A whole frame, masked with a fresh key, in one new buffer: the payload is copied, not changed. */
function maskedFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const key = randomMaskKey();
  const frame = Buffer.allocUnsafe(frameHeaderSize(payload.length, true) + payload.length);
  const start = writeFrameHeader(frame, 0, opcode, payload.length, fin, key);
  frame.set(payload, start);
  mask(frame.subarray(start), key);
  return frame;
}

function flushWriter(writer: FrameWriter): void {
  writer.flush();
}
