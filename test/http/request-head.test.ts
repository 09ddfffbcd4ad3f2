import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { HttpError } from "../../src/http/errors.js";
import { RequestHeadParser, parseRequestHead, type RequestHead } from "../../src/http/request-head.js";
import { ResponseHeadParser } from "../../src/http/response-head.js";
import { expectHttpError, headBytes, parseHead, RFC_REQUEST_LINES } from "./helpers.js";

const HEAD = headBytes(RFC_REQUEST_LINES);
// A masked WebSocket text frame "Hello" (RFC 6455 §5.7): it may arrive in the handshake's segment.
const FRAME = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);

/** Feeds chunks until the head completes; returns it with every byte after it. */
function feed(chunks: readonly Buffer[], parser = new RequestHeadParser()): { head: RequestHead; rest: Buffer } {
  for (let i = 0; i < chunks.length; i++) {
    const result = parser.push(chunks[i]);
    if (result !== null) {
      return { head: result.head, rest: Buffer.concat([result.rest, ...chunks.slice(i + 1)]) };
    }
  }
  throw new Error("head incomplete");
}

/** Splits bytes at the given (unsorted, possibly repeated) offsets. */
function splitAt(bytes: Buffer, offsets: number[]): Buffer[] {
  const cuts = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  return chunks;
}

/** A comparable snapshot of a head (URLSearchParams and null-prototype objects flattened). */
function snapshot(head: RequestHead) {
  return { ...head, headers: { ...head.headers }, query: head.query.toString() };
}

describe("RequestHeadParser: a complete head", () => {
  it("parses the RFC 6455 §1.2 request", () => {
    const result = new RequestHeadParser().push(HEAD);
    expect(result).not.toBeNull();
    const { head, rest } = result!;
    expect(head.method).toBe("GET");
    expect(head.target).toBe("/chat");
    expect(head.path).toBe("/chat");
    expect([...head.query]).toEqual([]);
    expect(head.httpVersion).toBe("1.1");
    expect({ ...head.headers }).toEqual({
      host: "server.example.com",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      origin: "http://example.com",
      "sec-websocket-protocol": "chat, superchat",
      "sec-websocket-version": "13",
    });
    expect(head.rawHeaders[0]).toEqual(["Host", "server.example.com"]);
    expect(head.rawHeaders).toHaveLength(7);
    expect(rest.length).toBe(0);
  });

  it("splits the target into a raw (not percent-decoded) path and a decoded query", () => {
    const head = parseHead(["GET /a%2Fb/c?name=J%C3%BCrgen&x=1+2&x=3 HTTP/1.1", "Host: h"]);
    expect(head.target).toBe("/a%2Fb/c?name=J%C3%BCrgen&x=1+2&x=3");
    expect(head.path).toBe("/a%2Fb/c");
    expect(head.query.get("name")).toBe("Jürgen");
    expect(head.query.getAll("x")).toEqual(["1 2", "3"]);
  });

  it("accepts characters browsers send unencoded", () => {
    expect(parseHead(["GET /a|b?q=[1]^{x} HTTP/1.1"]).path).toBe("/a|b");
  });

  it.each([
    ["http://example.com/chat?x=1", "/chat", "1"],
    ["HTTPS://example.com:8443/a/b", "/a/b", null],
    ["http://example.com", "/", null],
    ["http://example.com?x=1", "/", "1"],
  ])("takes the path of absolute-form %s", (target, path, x) => {
    const head = parseHead([`GET ${target} HTTP/1.1`, "Host: example.com"]);
    expect(head.target).toBe(target);
    expect(head.path).toBe(path);
    expect(head.query.get("x")).toBe(x);
  });

  it("accepts HTTP/1.0 and later 1.x minor versions, as sent", () => {
    expect(parseHead(["GET / HTTP/1.0"]).httpVersion).toBe("1.0");
    expect(parseHead(["GET / HTTP/1.2"]).httpVersion).toBe("1.2");
  });

  it("keeps the method as sent", () => {
    expect(parseHead(["get / HTTP/1.1"]).method).toBe("get");
  });

  it("joins repeated headers with \", \" in order and keeps each raw line", () => {
    const head = parseHead(["GET / HTTP/1.1", "X-Tag: a", "Host: h", "x-tag: b", "X-TAG: c, d"]);
    expect(head.headers["x-tag"]).toBe("a, b, c, d");
    expect(head.rawHeaders).toEqual([
      ["X-Tag", "a"],
      ["Host", "h"],
      ["x-tag", "b"],
      ["X-TAG", "c, d"],
    ]);
  });

  it("trims optional whitespace around values but keeps inner whitespace and empty values", () => {
    const head = parseHead(["GET / HTTP/1.1", "A:\t  x \t y \t", "B:", "C:   "]);
    expect(head.headers["a"]).toBe("x \t y");
    expect(head.headers["b"]).toBe("");
    expect(head.headers["c"]).toBe("");
  });

  it("keeps obs-text bytes (0x80-0xFF) as latin1 characters", () => {
    const bytes = Buffer.concat([
      Buffer.from("GET / HTTP/1.1\r\nX-Name: caf", "latin1"),
      Buffer.from([0xc3, 0xa9]),
      Buffer.from("\r\n\r\n", "latin1"),
    ]);
    const { head } = new RequestHeadParser().push(bytes)!;
    expect(head.headers["x-name"]).toBe("caf\u00c3\u00a9");
    expect(Buffer.from(head.headers["x-name"], "latin1").toString("utf8")).toBe("café");
  });

  it("has no inherited properties on headers", () => {
    const head = parseHead(["GET / HTTP/1.1", "__proto__: x"]);
    expect(head.headers["constructor"]).toBeUndefined();
    expect(head.headers["__proto__"]).toBe("x");
  });
});

describe("parseRequestHead: a head from its text", () => {
  it("keeps the head's text, from which the same head is parsed again", () => {
    const head = parseHead(["GET /chat?room=a%20b HTTP/1.1", "Host: h", "X-Twice: 1", "x-twice: 2", "Upgrade: websocket"]);
    expect(head.text).toBe("GET /chat?room=a%20b HTTP/1.1\r\nHost: h\r\nX-Twice: 1\r\nx-twice: 2\r\nUpgrade: websocket");
    const again = parseRequestHead(head.text!);
    expect(snapshot(again)).toEqual(snapshot(head));
    expect(again.rawHeaders).toEqual(head.rawHeaders);
    expect(again.headers["x-twice"]).toBe("1, 2");
    expect(again.query.get("room")).toBe("a b");
  });

  it("rejects what the incremental parser rejects", () => {
    expectHttpError(() => parseRequestHead("GET / HTTP/1.1\nHost: h"), 400);
    expectHttpError(() => parseRequestHead("GET / HTTP/2.0\r\nHost: h"), 505);
    expectHttpError(() => parseRequestHead("GET / HTTP/1.1\r\n Host: h"), 400);
  });

  it("gives headers objects that inherit nothing", () => {
    const { headers } = parseRequestHead("GET / HTTP/1.1\r\nHost: h");
    expect(Object.getPrototypeOf(Object.getPrototypeOf(headers))).toBeNull();
    expect(Object.keys(headers)).toEqual(["host"]);
    expect(headers["toString"]).toBeUndefined();
    expect("hasOwnProperty" in headers).toBe(false);
  });
});

describe("RequestHeadParser: chunking", () => {
  const expected = snapshot(new RequestHeadParser().push(HEAD)!.head);

  it("returns null until the terminator, then the head", () => {
    const parser = new RequestHeadParser();
    expect(parser.push(HEAD.subarray(0, HEAD.length - 1))).toBeNull();
    const result = parser.push(HEAD.subarray(HEAD.length - 1));
    expect(snapshot(result!.head)).toEqual(expected);
    expect(result!.rest.length).toBe(0);
  });

  it("gives the same head for a split at every offset, with the frame after it kept", () => {
    const bytes = Buffer.concat([HEAD, FRAME]);
    for (let offset = 0; offset <= bytes.length; offset++) {
      const { head, rest } = feed([bytes.subarray(0, offset), bytes.subarray(offset)]);
      expect(snapshot(head)).toEqual(expected);
      expect(rest).toEqual(FRAME);
    }
  });

  it("gives the same head fed one byte at a time", () => {
    const parser = new RequestHeadParser();
    for (let i = 0; i < HEAD.length - 1; i++) expect(parser.push(HEAD.subarray(i, i + 1))).toBeNull();
    expect(snapshot(parser.push(HEAD.subarray(HEAD.length - 1))!.head)).toEqual(expected);
  });

  it("returns the bytes after the head as rest, in one chunk", () => {
    const { rest } = new RequestHeadParser().push(Buffer.concat([HEAD, FRAME, FRAME]))!;
    expect(rest).toEqual(Buffer.concat([FRAME, FRAME]));
  });

  it("returns rest when the terminator is split and the frame shares its last chunk", () => {
    const parser = new RequestHeadParser();
    expect(parser.push(HEAD.subarray(0, HEAD.length - 2))).toBeNull();
    const { rest } = parser.push(Buffer.concat([HEAD.subarray(HEAD.length - 2), FRAME]))!;
    expect(rest).toEqual(FRAME);
  });

  it("property: any split gives the same head and rest", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(fc.nat(), { maxLength: 30 }), (trailing, offsets) => {
        const bytes = Buffer.concat([HEAD, trailing]);
        const { head, rest } = feed(splitAt(bytes, offsets));
        expect(snapshot(head)).toEqual(expected);
        expect(rest).toEqual(Buffer.from(trailing));
      }),
    );
  });

  it("searches for the terminator once in the common case and never rescans old bytes", () => {
    const indexOf = vi.spyOn(Buffer.prototype, "indexOf");
    new RequestHeadParser().push(HEAD);
    expect(indexOf).toHaveBeenCalledTimes(1);

    indexOf.mockClear();
    const parser = new RequestHeadParser();
    for (let i = 0; i < HEAD.length; i++) parser.push(HEAD.subarray(i, i + 1));
    // Bytes examined by all searches: each call scans its buffer from its offset on.
    const scanned = indexOf.mock.calls.reduce((sum, call, i) => {
      const searched = indexOf.mock.contexts[i] as Buffer;
      return sum + searched.length - (typeof call[1] === "number" ? call[1] : 0);
    }, 0);
    expect(scanned).toBeLessThan(8 * HEAD.length);
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });
});

describe("RequestHeadParser: empty lines before the request line (RFC 9112 §2.2)", () => {
  const expected = snapshot(new RequestHeadParser().push(HEAD)!.head);
  const crlf = (count: number) => Buffer.from("\r\n".repeat(count), "latin1");

  it.each([1, 2, 5])("skips %i CRLF before the request line; the head's text leaves them out", (count) => {
    const result = new RequestHeadParser().push(Buffer.concat([crlf(count), HEAD, FRAME]))!;
    expect(snapshot(result.head)).toEqual(expected);
    expect(result.head.text).toBe(HEAD.toString("latin1", 0, HEAD.length - 4));
    expect(result.rest).toEqual(FRAME);
  });

  it("property: any split of empty lines, head and what follows gives the same head and rest", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (count, trailing, offsets) => {
          const { head, rest } = feed(splitAt(Buffer.concat([crlf(count), HEAD, trailing]), offsets));
          expect(snapshot(head)).toEqual(expected);
          expect(rest).toEqual(Buffer.from(trailing));
        },
      ),
    );
  });

  it.each([
    ["a bare LF", ["\n", "GET / HTTP/1.1\r\n\r\n"]],
    ["a bare CR", ["\rGET / HTTP/1.1\r\n\r\n"]],
    ["a CR whose LF does not come", ["\r\n\r", "GET / HTTP/1.1\r\n\r\n"]],
  ])("refuses %s before the request line with 400", (_, chunks) => {
    const parser = new RequestHeadParser();
    expectHttpError(() => chunks.forEach((chunk) => parser.push(Buffer.from(chunk, "latin1"))), 400);
  });

  it("counts the empty lines towards maxHeaderSize", () => {
    const head = Buffer.from("GET / HTTP/1.1\r\nX: " + "a".repeat(73) + "\r\n\r\n", "latin1");
    expect(head.length).toBe(96);
    expect(new RequestHeadParser({ maxHeaderSize: 100 }).push(Buffer.concat([crlf(2), head]))).not.toBeNull();
    expectHttpError(() => new RequestHeadParser({ maxHeaderSize: 100 }).push(Buffer.concat([crlf(3), head])), 431);
    // Nothing but empty lines, a few at a time: refused once they fill the limit.
    const parser = new RequestHeadParser({ maxHeaderSize: 100 });
    for (let i = 0; i < 12; i++) expect(parser.push(crlf(4))).toBeNull();
    expectHttpError(() => parser.push(crlf(2)), 431);
  });

  it("is a server's leeway: a response head must start with its status line", () => {
    const response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    expect(new ResponseHeadParser().push(Buffer.from(response))).not.toBeNull();
    expectHttpError(() => new ResponseHeadParser().push(Buffer.from("\r\n" + response)), 400);
  });
});

describe("RequestHeadParser: after the end", () => {
  it("throws a plain Error on push after returning a head", () => {
    const parser = new RequestHeadParser();
    parser.push(HEAD);
    expect(() => parser.push(FRAME)).toThrow(Error);
    expect(() => parser.push(FRAME)).not.toThrow(HttpError);
  });

  it("throws a plain Error on push after throwing", () => {
    const parser = new RequestHeadParser();
    expectHttpError(() => parser.push(Buffer.from("BAD\r\n\r\n")), 400);
    expect(() => parser.push(HEAD)).toThrow(/finished/);
  });
});

describe("RequestHeadParser: size limit (431)", () => {
  /** A complete head of exactly `size` bytes. */
  function headOfSize(size: number): Buffer {
    const prefix = "GET / HTTP/1.1\r\nX: ";
    const filler = size - prefix.length - 4;
    return Buffer.from(prefix + "a".repeat(filler) + "\r\n\r\n", "latin1");
  }

  it("accepts a head of exactly maxHeaderSize bytes, in one chunk or byte by byte", () => {
    expect(new RequestHeadParser({ maxHeaderSize: 100 }).push(headOfSize(100))).not.toBeNull();
    const parser = new RequestHeadParser({ maxHeaderSize: 100 });
    const bytes = headOfSize(100);
    for (let i = 0; i < 99; i++) expect(parser.push(bytes.subarray(i, i + 1))).toBeNull();
    expect(parser.push(bytes.subarray(99))).not.toBeNull();
  });

  it("refuses a head of maxHeaderSize + 1 bytes, in one chunk or byte by byte", () => {
    expectHttpError(() => new RequestHeadParser({ maxHeaderSize: 100 }).push(headOfSize(101)), 431);
    const parser = new RequestHeadParser({ maxHeaderSize: 100 });
    const bytes = headOfSize(101);
    for (let i = 0; i < 99; i++) expect(parser.push(bytes.subarray(i, i + 1))).toBeNull();
    expectHttpError(() => parser.push(bytes.subarray(99, 100)), 431);
  });

  it("waits with limit - 1 bytes and no terminator, refuses at the limit", () => {
    const parser = new RequestHeadParser({ maxHeaderSize: 100 });
    expect(parser.push(Buffer.alloc(99, "a"))).toBeNull();
    expectHttpError(() => parser.push(Buffer.from("a")), 431);
  });

  it("refuses a large chunk without a terminator at once", () => {
    expectHttpError(() => new RequestHeadParser({ maxHeaderSize: 100 }).push(Buffer.alloc(1_000_000, "a")), 431);
  });

  it("refuses a head whose terminator lies past the limit, even in the same chunk", () => {
    const bytes = Buffer.concat([headOfSize(101), FRAME]);
    expectHttpError(() => new RequestHeadParser({ maxHeaderSize: 100 }).push(bytes), 431);
  });

  it("does not count the bytes after the head", () => {
    const bytes = Buffer.concat([headOfSize(100), Buffer.alloc(10_000)]);
    const parser = new RequestHeadParser({ maxHeaderSize: 100 });
    expect(parser.push(bytes.subarray(0, 50))).toBeNull();
    expect(parser.push(bytes.subarray(50))!.rest.length).toBe(10_000);
  });

  it("defaults to 16 KiB", () => {
    expect(new RequestHeadParser().push(headOfSize(16 * 1024))).not.toBeNull();
    expectHttpError(() => new RequestHeadParser().push(headOfSize(16 * 1024 + 1)), 431);
  });

  it.each([0, -1, 1.5, Number.NaN])("rejects maxHeaderSize %s", (maxHeaderSize) => {
    expect(() => new RequestHeadParser({ maxHeaderSize })).toThrow(RangeError);
  });
});

describe("RequestHeadParser: malformed heads", () => {
  it.each([
    ["empty request line", ["", "Host: h"]],
    ["missing version", ["GET /"]],
    ["missing target", ["GET HTTP/1.1"]],
    ["double space", ["GET  / HTTP/1.1"]],
    ["trailing space", ["GET / HTTP/1.1 "]],
    ["lower-case HTTP name", ["GET / http/1.1"]],
    ["two-digit minor version", ["GET / HTTP/1.10"]],
    ["version without minor", ["GET / HTTP/1"]],
    ["method not a token", ["G(T / HTTP/1.1"]],
    ["tab separator", ["GET\t/ HTTP/1.1"]],
    ["asterisk-form", ["GET * HTTP/1.1"]],
    ["authority-form", ["GET example.com:443 HTTP/1.1"]],
    ["fragment in target", ["GET /chat#x HTTP/1.1"]],
    ["non-ASCII target", ["GET /caf\u00e9 HTTP/1.1"]],
    ["DEL in target", ["GET /\x7f HTTP/1.1"]],
    ["absolute-form without host", ["GET http:///chat HTTP/1.1"]],
    ["absolute-form with userinfo", ["GET http://user@example.com/ HTTP/1.1"]],
    ["absolute-form with another scheme", ["GET ftp://example.com/ HTTP/1.1"]],
    ["whitespace before colon", ["GET / HTTP/1.1", "Host : h"]],
    ["tab before colon", ["GET / HTTP/1.1", "Host\t: h"]],
    ["obs-fold continuation line", ["GET / HTTP/1.1", "X: a", " b"]],
    ["tab obs-fold", ["GET / HTTP/1.1", "X: a", "\tb"]],
    ["whitespace before the first header", ["GET / HTTP/1.1", " Host: h"]],
    ["missing colon", ["GET / HTTP/1.1", "Host h"]],
    ["empty header name", ["GET / HTTP/1.1", ": h"]],
    ["space inside header name", ["GET / HTTP/1.1", "Ho st: h"]],
    ["separator in header name", ["GET / HTTP/1.1", "X(y): h"]],
    ["non-ASCII header name", ["GET / HTTP/1.1", "X\u00e9: h"]],
    ["NUL in header name", ["GET / HTTP/1.1", "X\0: h"]],
    ["NUL in value", ["GET / HTTP/1.1", "X: a\0b"]],
    ["NUL in request line", ["GET /\0 HTTP/1.1"]],
    ["bare CR in value", ["GET / HTTP/1.1", "X: a\rb"]],
    ["bare CR ending a line", ["GET / HTTP/1.1", "X: a\r"]],
    ["bare LF inside a complete head", ["GET / HTTP/1.1", "X: a\nY: b"]],
    ["control character in value", ["GET / HTTP/1.1", "X: a\x01b"]],
    ["DEL in value", ["GET / HTTP/1.1", "X: a\x7fb"]],
    ["escape in value", ["GET / HTTP/1.1", "X: \x1b[31m"]],
  ])("400 for %s", (_case, lines) => {
    const error = expectHttpError(() => new RequestHeadParser().push(headBytes(lines)), 400);
    expect(error.name).toBe("HttpError");
  });

  it.each(["GET / HTTP/2.0", "PRI * HTTP/2.0", "GET / HTTP/0.9", "GET / HTTP/3.1"])("505 for %s", (line) => {
    expectHttpError(() => new RequestHeadParser().push(headBytes([line])), 505);
  });

  it("400 at once for LF-only line endings, before any terminator", () => {
    const parser = new RequestHeadParser();
    expect(parser.push(Buffer.from("GET / HTTP/1.1\r"))).toBeNull();
    expectHttpError(() => parser.push(Buffer.from("\nHost: h\n")), 400);
    expectHttpError(() => new RequestHeadParser().push(Buffer.from("GET / HTTP/1.1\nHost: h\n\n")), 400);
  });

  it("400 for a bare LF found byte by byte", () => {
    const parser = new RequestHeadParser();
    const bytes = Buffer.from("GET / HTTP/1.1\r\nA: b\n");
    for (let i = 0; i < bytes.length - 1; i++) expect(parser.push(bytes.subarray(i, i + 1))).toBeNull();
    expectHttpError(() => parser.push(bytes.subarray(bytes.length - 1)), 400);
  });
});

describe("HeadParser: a first byte no head starts with", () => {
  // The first bytes of a TLS 1.2/1.3 ClientHello record: handshake (22), version 3.1, length.
  const CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

  it("400 at the first byte of a TLS ClientHello (a wss:// client on a plain port), saying so", () => {
    const error = expectHttpError(() => new RequestHeadParser().push(CLIENT_HELLO.subarray(0, 1)), 400);
    expect(error.message).toMatch(/TLS handshake.*plain ws:\/\//);
  });

  it("400 for a first byte that is not a method's, also after skipped empty lines", () => {
    const error = expectHttpError(() => new RequestHeadParser().push(Buffer.from("{\"op\":1}")), 400);
    expect(error.message).toContain("must start with a method");
    expect(error.message).toContain("0x7b");
    const parser = new RequestHeadParser();
    expect(parser.push(Buffer.from("\r\n"))).toBeNull();
    expectHttpError(() => parser.push(CLIENT_HELLO), 400);
  });

  it("does not judge a method by its first byte alone: every token byte may begin one", () => {
    for (const first of "!#$%&'*+-.^_`|~09AZaz") {
      expect(new RequestHeadParser().push(Buffer.from(first)), first).toBeNull();
    }
  });

  it("a response must start with \"HTTP/\": a TLS record in answer (a ws:// client on a TLS port) says so", () => {
    const alert = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
    const error = expectHttpError(() => new ResponseHeadParser().push(alert), 400);
    expect(error.message).toMatch(/TLS; the server speaks wss:\/\//);
    expect(new ResponseHeadParser().push(Buffer.from("H"))).toBeNull();
    expectHttpError(() => new ResponseHeadParser().push(Buffer.from("<html>")), 400);
  });
});

describe("RequestHeadParser: properties", () => {
  const tokenChar = fc.constantFrom(..."!#$%&'*+-.^_`|~0123456789abcXYZ");
  const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
  const valueChar = fc.constantFrom(..."abc XYZ019\t!\"#,;:=/\\()<>@[]{}~\u0080\u00e9\u00ff");
  const fieldValue = fc
    .string({ unit: valueChar, maxLength: 20 })
    .map((value) => value.replace(/^[ \t]+|[ \t]+$/g, ""));
  const pathChar = fc.constantFrom(..."abcXYZ019-._~!$&'()*+,;=:@/%|[]");

  it("round-trips any valid head", () => {
    fc.assert(
      fc.property(
        token,
        fc.string({ unit: pathChar, maxLength: 20 }),
        fc.array(fc.tuple(token, fieldValue), { maxLength: 10 }),
        (method, path, fields) => {
          const bytes = headBytes([`${method} /${path} HTTP/1.1`, ...fields.map(([n, v]) => `${n}: ${v}`)]);
          const { head, rest } = new RequestHeadParser().push(bytes)!;
          expect(head.method).toBe(method);
          expect(head.path).toBe(`/${path}`);
          expect(head.rawHeaders).toEqual(fields);
          for (const [name] of fields) {
            const joined = fields.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
            expect(head.headers[name.toLowerCase()]).toBe(joined.join(", "));
          }
          expect(rest.length).toBe(0);
        },
      ),
    );
  });

  it("never throws anything but HttpError on arbitrary or corrupted input", () => {
    const corrupted = fc
      .tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([at, byte]) => {
        const bytes = Buffer.from(HEAD);
        bytes[at % bytes.length] = byte;
        return bytes;
      });
    const random = fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes));
    fc.assert(
      fc.property(fc.oneof(random, corrupted), fc.array(fc.nat(), { maxLength: 5 }), (bytes, offsets) => {
        const parser = new RequestHeadParser({ maxHeaderSize: 256 });
        try {
          for (const chunk of splitAt(bytes, offsets)) if (parser.push(chunk) !== null) break;
        } catch (error) {
          expect(error).toBeInstanceOf(HttpError);
          expect([400, 431, 505]).toContain((error as HttpError).status);
        }
      }),
    );
  });
});
