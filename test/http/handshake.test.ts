import { describe, expect, it } from "vitest";
import { isUpgradeRequest, validateUpgradeRequest } from "../../src/http/handshake.js";
import { expectHttpError, parseHead, RFC_REQUEST_LINES } from "./helpers.js";

/** The RFC sample request with `name` removed (case-insensitively) and `extra` lines added. */
function request(extra: string[] = [], without: string[] = []): string[] {
  const removed = new Set(without.map((name) => name.toLowerCase()));
  const kept = RFC_REQUEST_LINES.filter((line) => !removed.has(line.slice(0, line.indexOf(":")).toLowerCase()));
  return [...kept, ...extra];
}

/** The RFC sample request with header `name` replaced by `value`. */
function withHeader(name: string, value: string): string[] {
  return request([`${name}: ${value}`], [name]);
}

function validate(lines: string[]) {
  return validateUpgradeRequest(parseHead(lines));
}

describe("validateUpgradeRequest: valid requests", () => {
  it("accepts the RFC 6455 §1.2 request", () => {
    expect(validate(request())).toEqual({
      key: "dGhlIHNhbXBsZSBub25jZQ==",
      protocols: ["chat", "superchat"],
      extensions: [],
      origin: "http://example.com",
    });
  });

  it("accepts Connection: keep-alive, Upgrade (as Firefox sends)", () => {
    expect(validate(withHeader("Connection", "keep-alive, Upgrade")).key).toBe("dGhlIHNhbXBsZSBub25jZQ==");
  });

  it("accepts Connection split over two lines", () => {
    expect(() => validate(request(["Connection: keep-alive"], ["Connection"]).concat("Connection: upgrade"))).not.toThrow();
  });

  it("matches Upgrade and Connection tokens case-insensitively", () => {
    expect(() => validate([...request([], ["Upgrade", "Connection"]), "Upgrade: WebSocket", "Connection: UPGRADE"])).not.toThrow();
  });

  it("accepts an Upgrade list containing websocket", () => {
    expect(() => validate(withHeader("Upgrade", "h2c, websocket"))).not.toThrow();
  });

  it("returns no protocols, extensions or origin when absent", () => {
    expect(validate(request([], ["Sec-WebSocket-Protocol", "Origin"]))).toEqual({
      key: "dGhlIHNhbXBsZSBub25jZQ==",
      protocols: [],
      extensions: [],
      origin: undefined,
    });
  });

  it("parses offered extensions", () => {
    const result = validate(request(["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]));
    expect(result.extensions).toEqual([{ name: "permessage-deflate", params: { client_max_window_bits: true } }]);
  });

  it("joins protocols offered on several lines, in order", () => {
    expect(validate(request(["Sec-WebSocket-Protocol: v2"])).protocols).toEqual(["chat", "superchat", "v2"]);
  });

  it("accepts Content-Length: 0 (no body)", () => {
    expect(validate(request(["Content-Length: 0"])).key).toBe("dGhlIHNhbXBsZSBub25jZQ==");
  });

  it("accepts HTTP/1.1 minor versions above 1", () => {
    const [, ...headers] = request();
    expect(() => validate(["GET /chat HTTP/1.2", ...headers])).not.toThrow();
  });
});

describe("validateUpgradeRequest: rejections", () => {
  it("405 with Allow: GET for another method", () => {
    const [, ...headers] = request();
    const error = expectHttpError(() => validate(["POST /chat HTTP/1.1", ...headers]), 405);
    expect(error.headers).toEqual({ Allow: "GET" });
  });

  it("405 for a lower-case get (methods are case-sensitive)", () => {
    const [, ...headers] = request();
    expectHttpError(() => validate(["get /chat HTTP/1.1", ...headers]), 405);
  });

  it("400 for HTTP/1.0", () => {
    const [, ...headers] = request();
    expectHttpError(() => validate(["GET /chat HTTP/1.0", ...headers]), 400);
  });

  it.each([
    ["missing Host", request([], ["Host"])],
    ["empty Host", withHeader("Host", "")],
    ["missing Upgrade", request([], ["Upgrade"])],
    ["Upgrade without websocket", withHeader("Upgrade", "h2c")],
    ["Upgrade with a longer token", withHeader("Upgrade", "websocketx")],
    ["missing Connection", request([], ["Connection"])],
    ["Connection without upgrade", withHeader("Connection", "keep-alive")],
    ["Connection with a longer token", withHeader("Connection", "upgraded")],
    ["missing key", request([], ["Sec-WebSocket-Key"])],
    ["key of 15 bytes", withHeader("Sec-WebSocket-Key", Buffer.alloc(15, 1).toString("base64"))],
    ["key of 17 bytes", withHeader("Sec-WebSocket-Key", Buffer.alloc(17, 1).toString("base64"))],
    ["key without padding", withHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ")],
    ["key with a character outside base64", withHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZ!==")],
    ["base64url key", withHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZ_==")],
    ["empty key", withHeader("Sec-WebSocket-Key", "")],
    ["duplicate key", request(["Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA=="])],
    ["duplicate key with the same value", request(["sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ=="])],
    ["duplicate Host", request(["Host: other.example.com"])],
    ["duplicate version", request(["Sec-WebSocket-Version: 13"])],
    ["protocol that is not a token", withHeader("Sec-WebSocket-Protocol", "chat, super chat")],
    ["protocol with a separator", withHeader("Sec-WebSocket-Protocol", "chat/1")],
    ["protocol offered twice", withHeader("Sec-WebSocket-Protocol", "chat, chat")],
    ["empty protocol list", withHeader("Sec-WebSocket-Protocol", "")],
    ["malformed extensions", request(["Sec-WebSocket-Extensions: permessage-deflate; =1"])],
    ["a body of Content-Length bytes", request(["Content-Length: 5"])],
    ["a chunked body", request(["Transfer-Encoding: chunked"])],
    ["Transfer-Encoding beside Content-Length: 0", request(["Transfer-Encoding: chunked", "Content-Length: 0"])],
    ["Content-Length repeated", request(["Content-Length: 0", "Content-Length: 0"])],
  ])("400 for %s", (_case, lines) => {
    expectHttpError(() => validate(lines), 400);
  });

  it("a comma inside one Host field is not a repeated field", () => {
    // Repeats are joined with ", ", so a comma sends the check to the raw fields: one here.
    expect(validate(withHeader("Host", "a,b.example.com")).key).toBe("dGhlIHNhbXBsZSBub25jZQ==");
  });

  it("accepts a valid 16-byte key other than the RFC's", () => {
    const key = Buffer.alloc(16, 0xff).toString("base64");
    expect(validate(withHeader("Sec-WebSocket-Key", key)).key).toBe(key);
  });

  it.each([
    ["missing", request([], ["Sec-WebSocket-Version"])],
    ["8", withHeader("Sec-WebSocket-Version", "8")],
    ["14", withHeader("Sec-WebSocket-Version", "14")],
    ["13, 8", withHeader("Sec-WebSocket-Version", "13, 8")],
  ])("426 with Sec-WebSocket-Version: 13 for version %s", (_case, lines) => {
    const error = expectHttpError(() => validate(lines), 426);
    expect(error.headers["Sec-WebSocket-Version"]).toBe("13");
    expect(error.headers["Upgrade"]).toBe("websocket");
  });

  it("426 rather than 400 for an old-draft client without a key", () => {
    expectHttpError(() => validate(request([], ["Sec-WebSocket-Version", "Sec-WebSocket-Key"])), 426);
  });
});

describe("isUpgradeRequest", () => {
  it.each([
    ["Upgrade: websocket", true],
    ["Upgrade: WebSocket", true],
    ["Upgrade: h2c, websocket", true],
    ["Upgrade: h2c", false],
    ["Upgrade: websockets", false],
    ["X-Upgrade: websocket", false],
  ])("%s → %s", (line, expected) => {
    expect(isUpgradeRequest(parseHead(["GET / HTTP/1.1", "Host: h", line]))).toBe(expected);
  });

  it("is false without an Upgrade header", () => {
    expect(isUpgradeRequest(parseHead(["GET / HTTP/1.1", "Host: h"]))).toBe(false);
  });
});
