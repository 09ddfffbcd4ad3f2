import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DeflateOffer,
  type DeflatePolicy,
  acceptDeflateResponse,
  deflateOffer,
  formatExtensions,
  negotiateDeflate,
  parseExtensions,
} from "../../src/http/index.js";

/** The server's answer to a Sec-WebSocket-Extensions value, as the 101 would carry it. */
function answer(header: string, policy: DeflatePolicy = {}): string | undefined {
  const agreed = negotiateDeflate(parseExtensions(header), policy);
  return agreed === undefined ? undefined : formatExtensions([agreed.response]);
}

const TAKEOVER: DeflatePolicy = { serverNoContextTakeover: false, clientNoContextTakeover: false };

describe("negotiateDeflate: the server's answer (RFC 7692 §5, §7.1)", () => {
  it.each<[string, DeflatePolicy, string]>([
    // The default policy asks for no context takeover on both sides (§7.1.1.1, §7.1.1.2
    // let a server include both unasked).
    ["permessage-deflate", {}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
    // Chromium's and ws's offer.
    [
      "permessage-deflate; client_max_window_bits",
      {},
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ],
    ["permessage-deflate", TAKEOVER, "permessage-deflate"],
    ["permessage-deflate; client_max_window_bits", TAKEOVER, "permessage-deflate"],
    // A client's request for no takeover is honoured whatever the policy.
    [
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      TAKEOVER,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ],
    // §7.1.2.1: the same or a smaller value than offered.
    ["permessage-deflate; server_max_window_bits=10", TAKEOVER, "permessage-deflate; server_max_window_bits=10"],
    [
      "permessage-deflate; server_max_window_bits=12",
      { ...TAKEOVER, serverMaxWindowBits: 9 },
      "permessage-deflate; server_max_window_bits=9",
    ],
    ["permessage-deflate; server_max_window_bits=8", TAKEOVER, "permessage-deflate; server_max_window_bits=8"],
    // Unasked, the server's window is not named: using a smaller one needs no agreement.
    ["permessage-deflate", { ...TAKEOVER, serverMaxWindowBits: 10 }, "permessage-deflate"],
    // §7.1.2.2: answered only when offered, never above the offered value.
    [
      "permessage-deflate; client_max_window_bits",
      { ...TAKEOVER, clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      "permessage-deflate; client_max_window_bits=9",
      { ...TAKEOVER, clientMaxWindowBits: 12 },
      "permessage-deflate; client_max_window_bits=9",
    ],
    [
      "permessage-deflate; client_max_window_bits=15",
      TAKEOVER,
      "permessage-deflate; client_max_window_bits=15",
    ],
    ["permessage-deflate", { ...TAKEOVER, clientMaxWindowBits: 10 }, "permessage-deflate"],
  ])("%j with %j → %j", (offer, policy, expected) => {
    expect(answer(offer, policy)).toBe(expected);
  });

  it.each([
    ["an unknown parameter", "permessage-deflate; foo"],
    ["a repeated parameter", "permessage-deflate; client_max_window_bits; client_max_window_bits"],
    ["a repeated flag", "permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
    ["server_max_window_bits without a value", "permessage-deflate; server_max_window_bits"],
    ["server_max_window_bits=7", "permessage-deflate; server_max_window_bits=7"],
    ["server_max_window_bits=16", "permessage-deflate; server_max_window_bits=16"],
    ["server_max_window_bits=08 (leading zero)", "permessage-deflate; server_max_window_bits=08"],
    ["server_max_window_bits=abc", "permessage-deflate; server_max_window_bits=abc"],
    ["client_max_window_bits=0", "permessage-deflate; client_max_window_bits=0"],
    ['a quoted bad value', 'permessage-deflate; client_max_window_bits="16"'],
    ["a value on server_no_context_takeover", "permessage-deflate; server_no_context_takeover=1"],
    ["a value on client_no_context_takeover", "permessage-deflate; client_no_context_takeover=true"],
  ])("declines an offer with %s, and takes the next valid one", (_, offer) => {
    expect(answer(offer)).toBeUndefined();
    expect(answer(`${offer}, permessage-deflate; server_max_window_bits=11`, TAKEOVER)).toBe(
      "permessage-deflate; server_max_window_bits=11",
    );
  });

  it("takes the first acceptable offer in the client's order, skipping other extensions", () => {
    const header = "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=10, permessage-deflate";
    expect(answer(header, TAKEOVER)).toBe("permessage-deflate; client_max_window_bits=10");
  });

  it("a quoted value is accepted once unquoted (RFC 6455 §9.1)", () => {
    expect(answer('permessage-deflate; server_max_window_bits="10"', TAKEOVER)).toBe(
      "permessage-deflate; server_max_window_bits=10",
    );
  });

  it("agrees on the parameters it answers", () => {
    const agreed = negotiateDeflate(
      parseExtensions("permessage-deflate; server_max_window_bits=12; client_max_window_bits"),
      { serverNoContextTakeover: false, clientNoContextTakeover: true, clientMaxWindowBits: 11 },
    );
    expect(agreed?.params).toEqual({
      serverNoContextTakeover: false,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 11,
    });
  });

  it("rejects a policy with window bits outside 8..15 (a configuration error, at once)", () => {
    expect(() => negotiateDeflate([], { serverMaxWindowBits: 16 })).toThrow(RangeError);
    expect(() => negotiateDeflate([], { clientMaxWindowBits: 7 })).toThrow(RangeError);
  });
});

/** Any parameter list an offer could carry, valid or not. */
const windowValue = fc.oneof(
  fc.integer({ min: 8, max: 15 }).map(String),
  fc.constantFrom("7", "16", "0", "08", "015", "abc", "-9", "9.0"),
);
const anyParam = fc.oneof(
  fc.constantFrom("server_no_context_takeover", "client_no_context_takeover").chain((name) =>
    fc.oneof(fc.constant(name), windowValue.map((value) => `${name}=${value}`)),
  ),
  fc.constantFrom("server_max_window_bits", "client_max_window_bits").chain((name) =>
    fc.oneof(fc.constant(name), windowValue.map((value) => `${name}=${value}`)),
  ),
  fc.constantFrom("foo", "max_window_bits", "x"),
);

/** Whether RFC 7692 §7.1 makes this parameter list acceptable. */
function isValidOffer(params: string[]): boolean {
  const names = params.map((param) => param.split("=")[0]);
  if (new Set(names).size !== names.length) return false;
  return params.every((param) => {
    const [name, value] = param.split("=");
    const bits = value !== undefined && /^(?:[89]|1[0-5])$/.test(value);
    if (name.endsWith("_no_context_takeover")) return value === undefined;
    if (name === "server_max_window_bits") return bits;
    if (name === "client_max_window_bits") return value === undefined || bits;
    return false;
  });
}

describe("negotiateDeflate: properties", () => {
  it("accepts exactly the valid offers, and its answer is one a client accepts", () => {
    fc.assert(
      fc.property(fc.array(anyParam, { maxLength: 5 }), fc.boolean(), fc.boolean(), (params, serverNo, clientNo) => {
        const header = ["permessage-deflate", ...params].join("; ");
        const policy = { serverNoContextTakeover: serverNo, clientNoContextTakeover: clientNo, clientMaxWindowBits: 10 };
        const agreed = negotiateDeflate(parseExtensions(header), policy);
        expect(agreed !== undefined).toBe(isValidOffer(params));
        if (agreed === undefined) return;
        // The answer never holds what the client cannot accept (§7.1.2).
        const offered = Object.fromEntries(params.map((param) => param.split("=")));
        const offer: DeflateOffer = {
          serverNoContextTakeover: "server_no_context_takeover" in offered,
          clientNoContextTakeover: "client_no_context_takeover" in offered,
          serverMaxWindowBits: offered.server_max_window_bits ? Number(offered.server_max_window_bits) : undefined,
          clientMaxWindowBits:
            "client_max_window_bits" in offered ? Number(offered.client_max_window_bits ?? 15) : undefined,
        };
        const response = parseExtensions(formatExtensions([agreed.response]))[0];
        if (offer.clientMaxWindowBits === undefined) expect(response.params).not.toHaveProperty("client_max_window_bits");
        else expect(acceptDeflateResponse(response, offer)).toEqual(agreed.params);
        if (offer.serverMaxWindowBits === undefined) expect(response.params).not.toHaveProperty("server_max_window_bits");
      }),
      { numRuns: 2000 },
    );
  });
});

describe("deflateOffer and acceptDeflateResponse: the client's side", () => {
  it("offers as Chromium does by default, and names what it asks for", () => {
    expect(formatExtensions([deflateOffer()])).toBe("permessage-deflate; client_max_window_bits");
    expect(
      formatExtensions([deflateOffer({ serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 })]),
    ).toBe("permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12");
  });

  it.each([
    ["an unknown parameter", "permessage-deflate; foo", {}],
    ["server_max_window_bits above the offered value", "permessage-deflate; server_max_window_bits=12", { serverMaxWindowBits: 10 }],
    ["client_max_window_bits above the offered value", "permessage-deflate; client_max_window_bits=13", { clientMaxWindowBits: 12 }],
    ["client_max_window_bits without a value", "permessage-deflate; client_max_window_bits", {}],
    ["server_no_context_takeover asked for and not confirmed", "permessage-deflate", { serverNoContextTakeover: true }],
  ])("refuses a response with %s", (_, header, offer: DeflateOffer) => {
    expect(() => acceptDeflateResponse(parseExtensions(header)[0], offer)).toThrow(/invalid permessage-deflate response/);
  });

  it("accepts no context takeover asked for by the server unasked", () => {
    const params = acceptDeflateResponse(
      parseExtensions("permessage-deflate; server_no_context_takeover; client_no_context_takeover")[0],
    );
    expect(params).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
  });
});
