import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { FrameWriter } from "../../src/connection/frame-writer.js";
import { Opcode, encodeTextFrame } from "../../src/frame/index.js";

/** A Duplex that records each buffer handed to the kernel side (`_write` / `_writev`). */
class RecordingSocket extends Duplex {
  readonly writes: Buffer[][] = [];
  /** The buffers themselves, not copies: which memory each write came from. */
  readonly handed: Buffer[] = [];

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.writes.push([Buffer.from(chunk)]);
    this.handed.push(chunk);
    done();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: () => void): void {
    this.writes.push(chunks.map((c) => Buffer.from(c.chunk)));
    done();
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("FrameWriter batching", () => {
  it("small frames queued by reference in one tick (a broadcast's shared frames) leave as one buffer, in order", async () => {
    const socket = new RecordingSocket();
    const writer = new FrameWriter(socket);
    const shared = ["one", "two", "three"].map((text) => encodeTextFrame(text));
    for (const frame of shared) writer.queue(frame);
    writer.text("four");
    await nextTurn();
    expect(socket.writes).toHaveLength(1);
    expect(socket.writes[0]).toHaveLength(1);
    expect(socket.writes[0][0].equals(Buffer.concat([...shared, encodeTextFrame("four")]))).toBe(true);
    expect(writer.bufferedAmount).toBe(0);
  });

  it("members flushing the same shared frames in one tick get one copy of them; any other list gets its own", async () => {
    const shared = ["one", "two", "three"].map((text) => encodeTextFrame(text));
    const other = encodeTextFrame("other");
    const lists = [shared, shared, [shared[0], shared[1], other], [shared[1], shared[0], shared[2]], shared];
    const sockets = lists.map((frames) => {
      const socket = new RecordingSocket();
      const writer = new FrameWriter(socket);
      for (const frame of frames) writer.queue(frame);
      return socket;
    });
    await nextTurn();
    sockets.forEach((socket, i) => {
      expect(socket.writes).toHaveLength(1);
      expect(socket.writes[0][0].equals(Buffer.concat(lists[i]))).toBe(true);
    });
    const handed = sockets.map(({ handed: [chunk] }) => chunk);
    const sameMemory = (a: Buffer, b: Buffer): boolean => a.buffer === b.buffer && a.byteOffset === b.byteOffset;
    expect(sameMemory(handed[1], handed[0])).toBe(true); // the same frames right after: the same copy
    // A different frame, or another order: a copy of its own.
    expect(sameMemory(handed[2], handed[0])).toBe(false);
    expect(sameMemory(handed[3], handed[0])).toBe(false);
    expect(sameMemory(handed[3], handed[2])).toBe(false);
    expect(sameMemory(handed[4], handed[0])).toBe(false); // the same frames again after another list: copied again
  });

  it("past 16 KiB the pieces are written as they are, large payloads never copied", async () => {
    const socket = new RecordingSocket();
    const writer = new FrameWriter(socket);
    const big = Buffer.alloc(20_000, 1);
    writer.frame(Opcode.Binary, big);
    writer.queue(encodeTextFrame("after"));
    await nextTurn();
    const written = socket.writes.flat();
    expect(written.length).toBeGreaterThan(1);
    expect(Buffer.concat(written).subarray(4, 4 + big.length).equals(big)).toBe(true);
    expect(Buffer.concat(written).subarray(4 + big.length).equals(encodeTextFrame("after"))).toBe(true);
  });
});
