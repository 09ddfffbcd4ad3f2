import type { Duplex } from "node:stream";
import { MERGE_THRESHOLD, Opcode, frameHeaderSize, writeFrameHeader } from "../frame/index.js";
import { adjacent, allocFrame } from "./slab.js";

/**
 * Encodes a connection's outgoing frames and writes them in batches: everything queued
 * in one tick goes to the socket together at the end of that tick (`process.nextTick`,
 * after the promise jobs of the tick, so a `for await` loop's replies are batched too).
 * Small frames are encoded into adjacent slab memory and leave as one buffer; large
 * payloads are never copied, only their header is written next to them.
 */
export class FrameWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private scheduled = false;

  constructor(private readonly socket: Duplex) {}

  /** Bytes queued here or in the socket and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  /** Queues a complete text frame. */
  text(text: string): void {
    const length = Buffer.byteLength(text);
    if (length <= MERGE_THRESHOLD) {
      const frame = allocFrame(frameHeaderSize(length, false) + length);
      frame.write(text, writeFrameHeader(frame, 0, Opcode.Text, length, true), length, "utf8");
      this.queue(frame);
    } else {
      this.frame(Opcode.Text, Buffer.from(text, "utf8"));
    }
  }

  /** Queues a frame. A large payload is queued by reference: it must not change until written. */
  frame(opcode: number, payload: Buffer): void {
    const length = payload.length;
    const headerSize = frameHeaderSize(length, false);
    if (length <= MERGE_THRESHOLD) {
      const frame = allocFrame(headerSize + length);
      payload.copy(frame, writeFrameHeader(frame, 0, opcode, length, true));
      this.queue(frame);
    } else {
      const header = allocFrame(headerSize);
      writeFrameHeader(header, 0, opcode, length, true);
      this.queue(header);
      this.queue(payload);
    }
  }

  /** Queues bytes that are already an encoded frame (a broadcast shares them between sockets). */
  queue(bytes: Buffer): void {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushWriter, this);
    }
  }

  /** Writes everything queued now. Adjacent small frames leave as one buffer. */
  flush(): void {
    this.scheduled = false;
    const list = this.pending;
    if (list.length === 0) return;
    this.pending = [];
    this.pendingBytes = 0;
    const socket = this.socket;
    if (!socket.writable) return;
    if (list.length === 1) {
      socket.write(list[0]);
      return;
    }
    let run = list[0];
    socket.cork();
    for (let i = 1; i < list.length; i++) {
      const next = list[i];
      if (adjacent(run, next)) {
        run = Buffer.from(run.buffer, run.byteOffset, run.length + next.length);
      } else {
        socket.write(run);
        run = next;
      }
    }
    socket.write(run);
    socket.uncork();
  }

  /** Writes what is queued, then half-closes the socket (TCP FIN). */
  end(): void {
    this.flush();
    this.socket.end();
  }

  /** Drops whatever is queued (the connection is being torn down). */
  discard(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}

function flushWriter(writer: FrameWriter): void {
  writer.flush();
}
