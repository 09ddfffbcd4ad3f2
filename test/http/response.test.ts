import { describe, expect, it } from "vitest";
import { acceptKey } from "../../src/http/accept-key.js";
import { HttpError } from "../../src/http/errors.js";
import {
  assertHeader,
  buildResponse,
  buildUpgradeResponse,
  errorResponse,
  statusText,
  type ResponseHeaders,
} from "../../src/http/response.js";
import { splitResponse } from "./helpers.js";

const INJECTIONS = ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\0b", "a\x01b", "a\x7fb", "a\u0100b", "\u2028"];

describe("assertHeader", () => {
  it("accepts tokens and visible values with spaces, tabs and obs-text", () => {
    expect(() => assertHeader("X-Custom_1", "a b\tc é ÿ ~")).not.toThrow();
    expect(() => assertHeader("X", "")).not.toThrow();
  });

  it.each(INJECTIONS)("throws TypeError for the value %j", (value) => {
    expect(() => assertHeader("X", value)).toThrow(TypeError);
  });

  it.each(["", "X Y", "X:", "X\r\nY", "Ünicode", "(x)"])("throws TypeError for the name %j", (name) => {
    expect(() => assertHeader(name, "v")).toThrow(TypeError);
  });
});

describe("statusText", () => {
  it.each([
    [101, "Switching Protocols"],
    [200, "OK"],
    [400, "Bad Request"],
    [405, "Method Not Allowed"],
    [426, "Upgrade Required"],
    [431, "Request Header Fields Too Large"],
    [505, "HTTP Version Not Supported"],
  ])("%i → %s", (status, text) => {
    expect(statusText(status)).toBe(text);
  });

  it("is Unknown for other codes", () => {
    expect(statusText(418)).toBe("Unknown");
  });
});

describe("buildResponse", () => {
  it("builds a plain-text response with the default headers", () => {
    expect(buildResponse(404, {}, "Not here\n").toString("latin1")).toBe(
      "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nNot here\n",
    );
  });

  it("counts Content-Length in bytes for a multibyte body", () => {
    const body = "héllo €😀";
    const { headers, body: sent } = splitResponse(buildResponse(200, {}, body));
    expect(headers).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(Buffer.byteLength(body)).toBe(14);
    expect(sent.toString("utf8")).toBe(body);
  });

  it("sends bytes as given, without a default Content-Type", () => {
    const bytes = new Uint8Array([0, 1, 2, 255, 4]).subarray(1, 4);
    const { headers, body } = splitResponse(buildResponse(200, {}, bytes));
    expect(body).toEqual(Buffer.from([1, 2, 255]));
    expect(headers).toContain("Content-Length: 3");
    expect(headers.some((line) => line.startsWith("Content-Type"))).toBe(false);
  });

  it("sends Content-Length: 0 without a body", () => {
    const { headers, body } = splitResponse(buildResponse(200));
    expect(headers).toEqual(["Content-Length: 0", "Connection: close"]);
    expect(body.length).toBe(0);
  });

  it("keeps given headers, case-insensitively, instead of the defaults", () => {
    const { headers } = splitResponse(
      buildResponse(200, { "content-type": "text/html", CONNECTION: "keep-alive", "Content-Length": 2 }, "hi"),
    );
    expect(headers).toEqual(["content-type: text/html", "CONNECTION: keep-alive", "Content-Length: 2"]);
  });

  it("writes numbers and one line per array element", () => {
    const { headers } = splitResponse(buildResponse(200, { "Retry-After": 5, "Set-Cookie": ["a=1", "b=2"] }));
    expect(headers.slice(0, 3)).toEqual(["Retry-After: 5", "Set-Cookie: a=1", "Set-Cookie: b=2"]);
  });

  it("writes no Content-Length or Content-Type for 204 and 304", () => {
    expect(splitResponse(buildResponse(204)).headers).toEqual(["Connection: close"]);
    expect(splitResponse(buildResponse(304, {}, "")).headers).toEqual(["Connection: close"]);
  });

  it("refuses a body on a 204", () => {
    expect(() => buildResponse(204, {}, "x")).toThrow(TypeError);
  });

  it.each(INJECTIONS)("throws TypeError for the injected value %j", (value) => {
    expect(() => buildResponse(200, { Location: value })).toThrow(TypeError);
    expect(() => buildResponse(200, { "Set-Cookie": ["ok=1", value] })).toThrow(TypeError);
  });

  it("throws TypeError for an injected header name", () => {
    expect(() => buildResponse(200, { "X\r\nSet-Cookie: a": "1" })).toThrow(TypeError);
  });

  it.each([99, 600, 200.5, Number.NaN, -200])("throws RangeError for status %s", (status) => {
    expect(() => buildResponse(status)).toThrow(RangeError);
  });

  it("writes Unknown for a status without a known reason phrase", () => {
    expect(splitResponse(buildResponse(599)).statusLine).toBe("HTTP/1.1 599 Unknown");
  });
});

describe("buildUpgradeResponse", () => {
  it("builds the RFC 6455 §1.3 response", () => {
    expect(buildUpgradeResponse({ key: "dGhlIHNhbXBsZSBub25jZQ==", protocol: "chat" }).toString("latin1")).toBe(
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
        "Sec-WebSocket-Protocol: chat\r\n\r\n",
    );
  });

  it("has no Content-Length, nothing after the head, and optional headers only when given", () => {
    const response = buildUpgradeResponse({ key: "dGhlIHNhbXBsZSBub25jZQ==" });
    const { statusLine, headers, body } = splitResponse(response);
    expect(statusLine).toBe("HTTP/1.1 101 Switching Protocols");
    expect(headers).toEqual(["Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Accept: ${acceptKey("dGhlIHNhbXBsZSBub25jZQ==")}`]);
    expect(body.length).toBe(0);
    expect(response.toString("latin1").toLowerCase()).not.toContain("content-length");
  });

  it("adds extensions and validated extra headers", () => {
    const { headers } = splitResponse(
      buildUpgradeResponse({
        key: "dGhlIHNhbXBsZSBub25jZQ==",
        extensions: "permessage-deflate; server_no_context_takeover",
        headers: { "Set-Cookie": ["a=1", "b=2"], "X-Id": 7 },
      }),
    );
    expect(headers.slice(3)).toEqual([
      "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
      "Set-Cookie: a=1",
      "Set-Cookie: b=2",
      "X-Id: 7",
    ]);
  });

  it("omits an empty extensions string", () => {
    expect(buildUpgradeResponse({ key: "k", extensions: "" }).toString()).not.toContain("Extensions");
  });

  it.each<{ protocol?: string; extensions?: string; headers?: ResponseHeaders }>([
    { protocol: "chat\r\nX-Injected: 1" },
    { protocol: "" },
    { protocol: "a b" },
    { extensions: "x\r\nX-Injected: 1" },
    { headers: { "X-Custom": "a\r\nX-Injected: 1" } },
    { headers: { "X\r\nY": "1" } },
    { headers: { "Content-Length": "0" } },
    { headers: { "sec-websocket-accept": "forged" } },
    { headers: { Connection: "close" } },
  ])("throws TypeError for %j", (options) => {
    expect(() => buildUpgradeResponse({ key: "dGhlIHNhbXBsZSBub25jZQ==", ...options })).toThrow(TypeError);
  });
});

describe("errorResponse", () => {
  it("sends the error's status, headers and message", () => {
    const response = errorResponse(new HttpError(405, "Use GET", { Allow: "GET" }));
    expect(response.toString("latin1")).toBe(
      "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 8\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUse GET\n",
    );
  });

  it("keeps the 426's Sec-WebSocket-Version header and its Connection", () => {
    const error = new HttpError(426, "Use version 13", { "Sec-WebSocket-Version": "13", Connection: "Upgrade, close" });
    const { statusLine, headers } = splitResponse(errorResponse(error));
    expect(statusLine).toBe("HTTP/1.1 426 Upgrade Required");
    expect(headers).toContain("Sec-WebSocket-Version: 13");
    expect(headers.filter((line) => line.toLowerCase().startsWith("connection:"))).toEqual(["Connection: Upgrade, close"]);
  });
});
