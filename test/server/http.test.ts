/**
 * Plain HTTP on an `acceptWebSocket` route (dwebsocket's `@accept_websocket`): the
 * handler's return value becomes the response. Read with the raw client to the end of
 * the connection, so the exact bytes sent (a HEAD without body) are checked.
 */
import { describe, expect, it, vi } from "vitest";
import { type HttpResult, type WsRequest, acceptWebSocket, httpOnly } from "../../src/index.js";
import { expectEchoes, plainRequest, upgradeRequest, useResources, type RequestSpec } from "../support/index.js";

const resources = useResources();

async function serve(handler: (req: WsRequest) => HttpResult | Promise<HttpResult>, request: RequestSpec = {}) {
  const onError = vi.fn();
  const { port } = await resources.server({ "/h": acceptWebSocket(handler) }, { onError });
  const response = await resources.request(port, plainRequest({ path: "/h", ...request }));
  return { response, onError, port };
}

describe("acceptWebSocket serving plain HTTP", () => {
  it("sends the handler's status, headers and body", async () => {
    const { response } = await serve(() => ({
      status: 201,
      headers: { "Content-Type": "application/json", "X-Custom": "yes", "Set-Cookie": ["a=1", "b=2"] },
      body: '{"created":true}',
    }));
    expect(response.statusLine).toMatch(/^HTTP\/1\.1 201 /);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.headers["x-custom"]).toBe("yes");
    expect(response.headers["set-cookie"]).toBe("a=1, b=2");
    expect(response.headers["content-length"]).toBe(String(response.body.length));
    expect(response.body.toString()).toBe('{"created":true}');
  });

  it("sends a binary body as given", async () => {
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    const { response } = await serve(() => ({ headers: { "Content-Type": "application/octet-stream" }, body: bytes }));
    expect(response.status).toBe(200);
    expect(response.body).toEqual(bytes);
  });

  it("a string becomes 200 text/plain in UTF-8", async () => {
    const { response } = await serve(() => "héllo, 世界");
    expect(response.statusLine).toBe("HTTP/1.1 200 OK");
    expect(response.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(response.body.toString("utf8")).toBe("héllo, 世界");
    expect(Number(response.headers["content-length"])).toBe(Buffer.byteLength("héllo, 世界"));
  });

  it("undefined becomes 204 without a body", async () => {
    const { response } = await serve(async () => undefined);
    expect(response.statusLine).toBe("HTTP/1.1 204 No Content");
    expect(response.headers["content-length"]).toBeUndefined();
    expect(response.body.length).toBe(0);
  });

  it("HEAD gets the headers of GET and no body", async () => {
    const handler = () => "a body that HEAD must not carry";
    const { response: get } = await serve(handler);
    const { response: head } = await serve(handler, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(get.headers["content-length"]);
    expect(head.headers["content-type"]).toBe(get.headers["content-type"]);
    expect(get.body.length).toBeGreaterThan(0);
    expect(head.body.length).toBe(0);
  });

  it("the handler sees the method, the path and the decoded query", async () => {
    const seen = vi.fn();
    const { response } = await serve(
      (req) => {
        seen(req.method, req.path, req.isWebSocket(), req.websocket, req.headers["x-hello"]);
        return `${req.query.get("message")}|${req.query.getAll("tag").join(",")}`;
      },
      { path: "/h?message=hi%20there&tag=a&tag=b%26c", headers: { "X-Hello": "world" } },
    );
    expect(response.body.toString()).toBe("hi there|a,b&c");
    expect(seen).toHaveBeenCalledWith("GET", "/h", false, null, "world");
  });

  it.each([
    ["throws", () => {
      throw new Error("handler bug");
    }],
    ["rejects", () => Promise.reject(new Error("handler bug"))],
  ] as const)("a handler that %s gets 500, is reported to onError, and the server goes on", async (_, handler) => {
    const { response, onError, port } = await serve(handler as () => HttpResult);
    expect(response.status).toBe(500);
    expect(response.body.toString()).not.toContain("handler bug");
    expect(onError).toHaveBeenCalledTimes(1);
    expect((onError.mock.calls[0][0] as Error).message).toBe("handler bug");
    expect((onError.mock.calls[0][1] as WsRequest).path).toBe("/h");
    const again = await resources.request(port, plainRequest({ path: "/h" }));
    expect(again.status).toBe(500);
  });

  it("a POST is served as plain HTTP too (only the upgrade needs GET)", async () => {
    const { response } = await serve((req) => `method=${req.method}`, { method: "POST", headers: { "Content-Length": "0" } });
    expect(response.body.toString()).toBe("method=POST");
  });

  it("httpOnly answers even a WebSocket handshake as HTTP", async () => {
    const { port } = await resources.server({ "/page": httpOnly(() => "just a page"), "/echo": acceptWebSocket(() => "x") });
    const response = await resources.request(port, upgradeRequest({ path: "/page" }));
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe("just a page");
  });

  it("the same acceptWebSocket URL serves WebSocket and HTTP side by side", async () => {
    const { port } = await resources.server({
      "/echo": acceptWebSocket(async (req) => {
        if (!req.isWebSocket()) return `plain ${req.query.get("message")}`;
        for await (const message of req.websocket!) req.websocket!.send(message);
      }),
    });
    const response = await resources.request(port, plainRequest({ path: "/echo?message=hi" }));
    expect(response.body.toString()).toBe("plain hi");
    await expectEchoes(resources, port, "/echo");
  });
});
