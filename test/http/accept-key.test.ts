import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { acceptKey } from "../../src/http/accept-key.js";

describe("acceptKey", () => {
  it("matches the RFC 6455 §1.3 example", () => {
    expect(acceptKey("dGhlIHNhbXBsZSBub25jZQ==")).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("is base64 of a SHA-1 digest of key + GUID for any key", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const key = Buffer.from(bytes).toString("base64");
        const expected = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest();
        expect(Buffer.from(acceptKey(key), "base64")).toEqual(expected);
        expect(acceptKey(key)).toHaveLength(28);
      }),
    );
  });
});
