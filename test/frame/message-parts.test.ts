/**
 * `MessageParts`, where the parser keeps a message that arrives in pieces: the join is the
 * pieces in order, unmasked when asked, whatever their sizes; and memory follows the bytes
 * received, not the number of pieces (a message in 1-byte fragments does not make the
 * parser hold a view per byte).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Buffer } from "node:buffer";
import { FrameParser, Opcode, mask } from "../../src/frame/index.js";
import { MessageParts } from "../../src/frame/message-parts.js";
import { keyWord } from "../../src/frame/mask.js";
import { Collector, ev, rawFrame } from "./helpers.js";

/** Pieces from 0 to 2,000 bytes: on both sides of the 512-byte gathering threshold and of a full gathering buffer. */
const piecesArb = fc.array(fc.uint8Array({ minLength: 0, maxLength: 2000 }), { maxLength: 40 });

describe("MessageParts", () => {
  it("joins the pieces in order, whatever their sizes", () => {
    fc.assert(
      fc.property(piecesArb, (pieces) => {
        const parts = new MessageParts();
        for (const piece of pieces) parts.add(Buffer.from(piece));
        const expected = Buffer.concat(pieces);
        expect(parts.length).toBe(expected.length);
        expect(parts.join().equals(expected)).toBe(true);
      }),
    );
  });

  it("joins and unmasks pieces that are still masked, the key running on across them", () => {
    fc.assert(
      fc.property(piecesArb, fc.uint8Array({ minLength: 4, maxLength: 4 }), (pieces, key) => {
        const plain = Buffer.concat(pieces);
        const masked = Buffer.from(plain);
        mask(masked, key);
        const parts = new MessageParts();
        let at = 0;
        for (const piece of pieces) {
          parts.add(masked.subarray(at, at + piece.length));
          at += piece.length;
        }
        expect(parts.joinUnmasked(keyWord(key, 0)).equals(plain)).toBe(true);
      }),
    );
  });

  it("does not change the pieces it was given", () => {
    const small = Buffer.from("small");
    const large = Buffer.alloc(4096, 1);
    const parts = new MessageParts();
    parts.add(small);
    parts.add(large);
    parts.add(small);
    expect(parts.join().toString("latin1")).toBe(`small${"\x01".repeat(4096)}small`);
    expect(small.toString()).toBe("small");
  });
});

describe("a message in many tiny fragments", () => {
  it("is held in a few buffers, not a view per fragment, and arrives whole", () => {
    const collector = new Collector();
    const parser = new FrameParser(collector, { role: "server" });
    const fragments = 100_000;
    const key = [1, 2, 3, 4];
    const frames: Buffer[] = [rawFrame({ fin: false, opcode: Opcode.Text, mask: true, key, payload: "a" })];
    for (let i = 1; i < fragments - 1; i++) {
      frames.push(rawFrame({ fin: false, opcode: Opcode.Continuation, mask: true, key, payload: "a" }));
    }
    // Pushed in chunks as a socket would deliver them, the last fragment held back.
    const stream = Buffer.concat(frames);
    for (let at = 0; at < stream.length; at += 65536) parser.push(stream.subarray(at, at + 65536));
    const held = (parser as unknown as { messageParts: { parts: Buffer[] } }).messageParts.parts;
    // 100,000 one-byte pieces, gathered in buffers of 1 KiB growing to 8 KiB: about 17
    // buffers, not 100,000 views.
    expect(held.length).toBeLessThan(fragments / 4096);
    parser.push(rawFrame({ fin: true, opcode: Opcode.Continuation, mask: true, key, payload: "a" }));
    expect(collector.events).toEqual([ev.text("a".repeat(fragments))]);
  });
});
