import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { FrameWriter } from "../../src/connection/frame-writer.js";
import { Opcode, encodeTextFrame } from "../../src/frame/index.js";

/** A Duplex that records each buffer handed to the kernel side (`_write` / `_writev`). */
class RecordingSocket extends Duplex {
  readonly writes: Buffer[][] = [];

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.writes.push([Buffer.from(chunk)]);
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
