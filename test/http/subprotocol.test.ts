import { describe, expect, it, vi } from "vitest";
import { parseProtocolList, selectProtocol } from "../../src/http/subprotocol.js";
import { expectHttpError, parseHead } from "./helpers.js";

const head = parseHead(["GET /chat HTTP/1.1", "Host: h"]);

describe("parseProtocolList", () => {
  it("parses a comma list in order, trimming whitespace", () => {
    expect(parseProtocolList("chat, superchat,\tv2.json ,mqtt")).toEqual(["chat", "superchat", "v2.json", "mqtt"]);
  });

  it("ignores empty list elements (RFC 9110 §5.6.1.2)", () => {
    expect(parseProtocolList(", chat,, superchat ,")).toEqual(["chat", "superchat"]);
  });

  it.each(["", " ", ",", "chat, super chat", "chat;v=1", "a/b", "chat, \u00e9", '"chat"', "chat, chat"])(
    "400 for %j",
    (value) => {
      expectHttpError(() => parseProtocolList(value), 400);
    },
  );
});

describe("selectProtocol", () => {
  it("picks the first of the client's offers that the server supports", () => {
    expect(selectProtocol(["v1", "v2", "v3"], ["v3", "v2"], head)).toBe("v2");
  });

  it("returns undefined when nothing matches, nothing was offered or there is no selector", () => {
    expect(selectProtocol(["v1"], ["v2"], head)).toBeUndefined();
    expect(selectProtocol([], ["v2"], head)).toBeUndefined();
    expect(selectProtocol(["v1"], undefined, head)).toBeUndefined();
  });

  it("matches case-sensitively", () => {
    expect(selectProtocol(["Chat"], ["chat"], head)).toBeUndefined();
  });

  it("returns a function's answer and passes it the offers and the head", () => {
    const selector = vi.fn((offered: string[]) => offered[1]);
    expect(selectProtocol(["v1", "v2"], selector, head)).toBe("v2");
    expect(selector).toHaveBeenCalledWith(["v1", "v2"], head);
  });

  it("returns undefined when the function answers null or undefined", () => {
    expect(selectProtocol(["v1"], () => null, head)).toBeUndefined();
    expect(selectProtocol(["v1"], () => undefined, head)).toBeUndefined();
  });

  it("does not call the function when the client offered nothing", () => {
    const selector = vi.fn(() => "v1");
    expect(selectProtocol([], selector, head)).toBeUndefined();
    expect(selector).not.toHaveBeenCalled();
  });

  it("throws a plain Error when the function answers something not offered", () => {
    expect(() => selectProtocol(["v1"], () => "v9", head)).toThrow(/v9.*did not offer/);
  });
});
