/**
 * The sans-I/O half of WebSockets over HTTP/2 (RFC 8441), both ends: telling an extended
 * CONNECT from other requests, its head and validation on the server, the client's
 * request fields and its check of the answer.
 */
import { describe, expect, it } from "vitest";
import {
  HandshakeError,
  HttpError,
  buildExtendedConnect,
  checkExtendedConnectResponse,
  http2RequestHead,
  isExtendedConnect,
  validateExtendedConnect,
} from "../../src/http/index.js";

const CONNECT = { ":method": "CONNECT", ":protocol": "websocket", ":scheme": "https", ":authority": "example.com:8443", ":path": "/chat?room=a%20b" };

function httpError(run: () => unknown): HttpError {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error("expected an HttpError");
}

describe("isExtendedConnect (RFC 8441 §4)", () => {
  it("a CONNECT with :protocol websocket (in any case), and nothing else", () => {
    expect(isExtendedConnect(CONNECT)).toBe(true);
    expect(isExtendedConnect({ ...CONNECT, ":protocol": "WebSocket" })).toBe(true);
    expect(isExtendedConnect({ ...CONNECT, ":protocol": "webtransport" })).toBe(false);
    expect(isExtendedConnect({ ":method": "CONNECT", ":authority": "example.com:443" })).toBe(false);
    expect(isExtendedConnect({ ":method": "GET", ":path": "/", ":protocol": "websocket" })).toBe(false);
  });
});

describe("http2RequestHead", () => {
  it("reads path, query, host from :authority and every field, repeated ones joined", () => {
    const head = http2RequestHead({ ...CONNECT, "sec-websocket-version": "13", "x-many": ["a", "b"], cookie: "a=1; b=2" });
    expect(head).toMatchObject({ method: "CONNECT", target: "/chat?room=a%20b", path: "/chat", httpVersion: "2.0" });
    expect(head.query.get("room")).toBe("a b");
    expect(head.headers.host).toBe("example.com:8443");
    expect(head.headers["x-many"]).toBe("a, b");
    expect(head.headers.cookie).toBe("a=1; b=2");
    expect(head.headers[":path"]).toBeUndefined();
    expect(head.rawHeaders).toContainEqual(["host", "example.com:8443"]);
  });

  it("a host field sent is kept; a plain request needs only :path", () => {
    expect(http2RequestHead({ ":method": "GET", ":path": "/", host: "h.example" }).headers.host).toBe("h.example");
    expect(http2RequestHead({ ":method": "GET", ":path": "/x" }).headers.host).toBeUndefined();
  });

  it("400 for an extended CONNECT without :path, :scheme or :authority, or a malformed path", () => {
    for (const pseudo of [":path", ":scheme", ":authority"]) {
      const headers: Record<string, string> = { ...CONNECT };
      delete headers[pseudo];
      expect(httpError(() => http2RequestHead(headers))).toMatchObject({ status: 400, message: expect.stringContaining(pseudo) });
    }
    expect(httpError(() => http2RequestHead({ ...CONNECT, ":path": "/a b" })).status).toBe(400);
    expect(httpError(() => http2RequestHead({ ":method": "GET" })).status).toBe(400);
  });
});

describe("validateExtendedConnect (RFC 8441 §5)", () => {
  it("returns the offers; no Sec-WebSocket-Key is asked for", () => {
    const head = http2RequestHead({
      ...CONNECT,
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "a, b",
      "sec-websocket-extensions": "permessage-deflate; client_max_window_bits",
      origin: "https://example.com",
    });
    const offers = validateExtendedConnect(head);
    expect(offers.protocols).toEqual(["a", "b"]);
    expect(offers.extensions).toEqual([{ name: "permessage-deflate", params: { client_max_window_bits: true } }]);
    expect(offers.origin).toBe("https://example.com");
  });

  it("400 with sec-websocket-version: 13 for another version (HTTP/2 has no 426); 400 for a malformed offer", () => {
    const wrong = httpError(() => validateExtendedConnect(http2RequestHead({ ...CONNECT, "sec-websocket-version": "8" })));
    expect(wrong).toMatchObject({ status: 400, headers: { "sec-websocket-version": "13" } });
    expect(httpError(() => validateExtendedConnect(http2RequestHead(CONNECT))).status).toBe(400);
    const badList = http2RequestHead({ ...CONNECT, "sec-websocket-version": "13", "sec-websocket-protocol": "a b" });
    expect(httpError(() => validateExtendedConnect(badList)).status).toBe(400);
  });
});

describe("buildExtendedConnect and checkExtendedConnectResponse: the client's side", () => {
  it("pseudo-headers, version 13, the offers and headers lower-cased; no key", () => {
    const fields = buildExtendedConnect({
      host: "example.com",
      target: "/chat?x=1",
      secure: true,
      protocols: ["v1", "v2"],
      extensions: [{ name: "permessage-deflate", params: { client_max_window_bits: true } }],
      origin: "https://example.com",
      headers: { Authorization: "Bearer t" },
    });
    expect(fields).toEqual({
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": "https",
      ":authority": "example.com",
      ":path": "/chat?x=1",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "v1, v2",
      "sec-websocket-extensions": "permessage-deflate; client_max_window_bits",
      origin: "https://example.com",
      authorization: "Bearer t",
    });
    expect(buildExtendedConnect({ host: "h", target: "/", secure: false })[":scheme"]).toBe("http");
  });

  it("refuses what buildClientRequest refuses: a bad target, subprotocol or header, or one of the handshake's own", () => {
    expect(() => buildExtendedConnect({ host: "h", target: "no-slash", secure: true })).toThrow(TypeError);
    expect(() => buildExtendedConnect({ host: "h", target: "/", secure: true, protocols: ["a b"] })).toThrow(TypeError);
    expect(() => buildExtendedConnect({ host: "h", target: "/", secure: true, headers: { "Sec-WebSocket-Protocol": "x" } })).toThrow(/set by the handshake/);
    expect(() => buildExtendedConnect({ host: "h", target: "/", secure: true, headers: { "X-Bad": "a\r\nb" } })).toThrow(TypeError);
  });

  it("accepts a 2xx with what was offered; refuses other statuses (naming a redirect's target), and what was not offered", () => {
    const offered = { protocols: ["v1"], extensions: [{ name: "permessage-deflate", params: {} }] };
    expect(checkExtendedConnectResponse({ ":status": 200, "sec-websocket-protocol": "v1", "sec-websocket-extensions": "permessage-deflate" }, offered)).toEqual({
      protocol: "v1",
      extensions: [{ name: "permessage-deflate", params: {} }],
      extensionsHeader: "permessage-deflate",
    });
    const refusal = (() => {
      try {
        checkExtendedConnectResponse({ ":status": 403, "content-type": "text/plain" }, offered);
      } catch (error) {
        return error as HandshakeError;
      }
    })();
    expect(refusal).toBeInstanceOf(HandshakeError);
    expect(refusal).toMatchObject({ status: 403, headers: { "content-type": "text/plain" } });
    expect(() => checkExtendedConnectResponse({ ":status": 302, location: "/elsewhere" }, offered)).toThrow(/redirects \(302\) to \/elsewhere/);
    expect(() => checkExtendedConnectResponse({ ":status": 200, "sec-websocket-protocol": "v9" }, offered)).toThrow(/not offered/);
    expect(() => checkExtendedConnectResponse({ ":status": 200, "sec-websocket-extensions": "x-other" }, offered)).toThrow(/not offered/);
  });
});
