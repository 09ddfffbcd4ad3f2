import { expect } from "vitest";
import { HttpError } from "../../src/http/errors.js";
import { RequestHeadParser, type RequestHead } from "../../src/http/request-head.js";

/** Joins header lines into request-head bytes: lines + CRLF each + the final empty line. */
export function headBytes(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((line) => line + "\r\n").join("") + "\r\n", "latin1");
}

/** Parses lines as one complete head through the real parser. */
export function parseHead(lines: readonly string[]): RequestHead {
  const result = new RequestHeadParser().push(headBytes(lines));
  if (result === null) throw new Error("head incomplete");
  return result.head;
}

/** Runs `fn`, expects it to throw an HttpError with `status`, and returns the error. */
export function expectHttpError(fn: () => unknown, status: number): HttpError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(HttpError);
  const error = thrown as HttpError;
  expect(error.status).toBe(status);
  expect(error.message.length).toBeGreaterThan(10);
  return error;
}

/** Splits a response into status line, header lines and body bytes. */
export function splitResponse(response: Buffer): { statusLine: string; headers: string[]; body: Buffer } {
  const end = response.indexOf("\r\n\r\n");
  expect(end).toBeGreaterThan(0);
  const [statusLine, ...headers] = response.toString("latin1", 0, end).split("\r\n");
  return { statusLine, headers, body: response.subarray(end + 4) };
}

/** The RFC 6455 §1.2 sample handshake request. */
export const RFC_REQUEST_LINES = [
  "GET /chat HTTP/1.1",
  "Host: server.example.com",
  "Upgrade: websocket",
  "Connection: Upgrade",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
  "Origin: http://example.com",
  "Sec-WebSocket-Protocol: chat, superchat",
  "Sec-WebSocket-Version: 13",
] as const;
