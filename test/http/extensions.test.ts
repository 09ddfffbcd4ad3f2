import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatExtensions, parseExtensions, type ExtensionOffer } from "../../src/http/extensions.js";
import { expectHttpError } from "./helpers.js";

/** Plain-object copy, so results compare regardless of prototype. */
function plain(offers: ExtensionOffer[]) {
  return offers.map(({ name, params }) => ({ name, params: { ...params } }));
}

describe("parseExtensions", () => {
  it("parses the offer browsers send", () => {
    expect(plain(parseExtensions("permessage-deflate; client_max_window_bits"))).toEqual([
      { name: "permessage-deflate", params: { client_max_window_bits: true } },
    ]);
  });

  it("parses several extensions with token and quoted values, whitespace around separators", () => {
    expect(
      plain(parseExtensions('permessage-deflate ; client_max_window_bits = 10;server_no_context_takeover , x-foo; a="b" ;c="1"')),
    ).toEqual([
      { name: "permessage-deflate", params: { client_max_window_bits: "10", server_no_context_takeover: true } },
      { name: "x-foo", params: { a: "b", c: "1" } },
    ]);
  });

  it("unescapes quoted-pairs in quoted values", () => {
    expect(parseExtensions('x; a="\\b\\c"')[0].params["a"]).toBe("bc");
  });

  it("ignores empty list elements (RFC 9110 §5.6.1.2)", () => {
    expect(parseExtensions(", a ,, b,").map((offer) => offer.name)).toEqual(["a", "b"]);
  });

  it("keeps a parameter named like an Object.prototype member", () => {
    const { params } = parseExtensions("x; __proto__=1; constructor")[0];
    expect(Object.keys(params)).toEqual(["__proto__", "constructor"]);
    expect(params["__proto__"]).toBe("1");
    expect(params["constructor"]).toBe(true);
  });

  it.each([
    "",
    "  ",
    ",",
    "a;",
    "a; ",
    "a;;b",
    "; a",
    "a b",
    "a=1",
    "a; b=",
    "a; =1",
    "a; b=c d",
    'a; b="c',
    'a; b="c d"',
    'a; b="c,d"',
    'a; b=""',
    'a; b="c\\',
    'a; b="c"d',
    "a; b=c=d",
    "a/b",
    "a; b/c",
    "\u00e9",
  ])("400 for %j", (value) => {
    expectHttpError(() => parseExtensions(value), 400);
  });
});

describe("parseExtensions: repeated parameters", () => {
  it.each([
    ["a; b; b", "b", { b: true }],
    ["a; b=1; b=2", "b", { b: "1" }],
    ["a; b=1; c; c=3; b", "c", { b: "1", c: true }],
  ])("%j is parsed, marked repeated (%s), and keeps the first values", (value, repeated, params) => {
    const [offer] = parseExtensions(value);
    expect(offer.repeated).toBe(repeated);
    expect({ ...offer.params }).toEqual(params);
  });

  it("an offer without repeats carries no mark, and the next offer is unaffected", () => {
    const offers = parseExtensions("a; b; b, a; b");
    expect(offers[0].repeated).toBe("b");
    expect("repeated" in offers[1]).toBe(false);
  });
});

describe("formatExtensions", () => {
  it("formats names, flags and values", () => {
    expect(
      formatExtensions([
        { name: "permessage-deflate", params: { server_no_context_takeover: true, client_max_window_bits: "10" } },
        { name: "x-foo", params: {} },
      ]),
    ).toBe("permessage-deflate; server_no_context_takeover; client_max_window_bits=10, x-foo");
  });

  it("formats an empty list as an empty string", () => {
    expect(formatExtensions([])).toBe("");
  });

  it.each<ExtensionOffer>([
    { name: "a b", params: {} },
    { name: "a", params: { "b\r\nX": true } },
    { name: "a", params: { b: "c\r\nX-Injected: 1" } },
    { name: "a", params: { b: "" } },
  ])("throws TypeError for a non-token in %j", (offer) => {
    expect(() => formatExtensions([offer])).toThrow(TypeError);
  });

  it("property: parse(format(list)) gives the list back", () => {
    const token = fc.string({ unit: fc.constantFrom(..."!#$%&'*+-.^_`|~0123456789abcXYZ"), minLength: 1, maxLength: 8 });
    const params = fc.dictionary(token, fc.oneof(token, fc.constant<true>(true)), { maxKeys: 4 });
    fc.assert(
      fc.property(fc.array(fc.record({ name: token, params }), { maxLength: 4 }), (list) => {
        fc.pre(list.length > 0);
        expect(plain(parseExtensions(formatExtensions(list)))).toEqual(plain(list));
      }),
    );
  });
});
