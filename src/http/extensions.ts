import { HttpError } from "./errors.js";
import { isToken } from "./grammar.js";
import type { RequestHead } from "./request-head.js";

/**
 * One extension from a `Sec-WebSocket-Extensions` list (RFC 6455 §9.1), e.g.
 * `permessage-deflate; client_max_window_bits` is
 * `{ name: "permessage-deflate", params: { client_max_window_bits: true } }`.
 */
export interface ExtensionOffer {
  /** The extension token, as sent. */
  name: string;
  /**
   * Parameters by name: their value (unquoted), or `true` for a parameter without one.
   * Parsed offers use a prototype-less object, so a parameter named `__proto__` is kept.
   */
  params: Record<string, string | true>;
  /**
   * The first parameter named more than once, if any. `params` keeps its first value; no
   * extension allows a repeat, so a negotiator declines such an offer (RFC 7692 §7.1) and
   * considers the next one.
   */
  repeated?: string;
}

/**
 * Decides which of the client's extension offers the server accepts, with the parameters
 * to confirm in the 101 response. The server's default accepts none.
 */
export type ExtensionNegotiator = (offers: ExtensionOffer[], head: RequestHead) => ExtensionOffer[];

const TOKEN_AT = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
// RFC 9110 §5.6.4: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
const QDTEXT = /[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]/;
// RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
const QUOTED_PAIR_CHAR = /[\t\x20-\x7e\x80-\xff]/;

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1):
 *
 * ```
 * extension-list = 1#extension
 * extension      = extension-token *( ";" extension-param )
 * extension-param = token [ "=" ( token / quoted-string ) ]
 * ```
 *
 * A quoted value must be a token once unquoted (RFC 6455 §9.1). Whitespace is allowed
 * around `,`, `;` and `=`; empty list elements are ignored (RFC 9110 §5.6.1.2).
 *
 * @throws HttpError 400 when the value is malformed or lists no extension. A parameter
 *   repeated within one extension is not an error here: the offer is marked `repeated`,
 *   for its negotiator to decline.
 */
export function parseExtensions(value: string): ExtensionOffer[] {
  let position = 0;

  const fail = (expected: string): never => {
    throw new HttpError(
      400,
      `Malformed Sec-WebSocket-Extensions header: expected ${expected} at character ${position + 1} (RFC 6455 §9.1)`,
    );
  };
  const skipWhitespace = (): void => {
    while (value[position] === " " || value[position] === "\t") position++;
  };
  const readToken = (what: string): string => {
    TOKEN_AT.lastIndex = position;
    const match = TOKEN_AT.exec(value);
    if (match === null) return fail(what);
    position = TOKEN_AT.lastIndex;
    return match[0];
  };
  const readQuotedString = (): string => {
    let text = "";
    position++; // opening DQUOTE
    for (;;) {
      const char = value[position];
      if (char === '"') {
        position++;
        return text;
      }
      if (char === "\\" && position + 1 < value.length && QUOTED_PAIR_CHAR.test(value[position + 1])) {
        text += value[position + 1];
        position += 2;
      } else if (char !== undefined && char !== "\\" && QDTEXT.test(char)) {
        text += char;
        position++;
      } else {
        return fail('a closing "');
      }
    }
  };

  const offers: ExtensionOffer[] = [];
  for (;;) {
    skipWhitespace();
    if (position >= value.length) break;
    if (value[position] === ",") {
      position++;
      continue;
    }
    const name = readToken("an extension name");
    const params: Record<string, string | true> = Object.create(null);
    let repeated: string | undefined;
    skipWhitespace();
    while (value[position] === ";") {
      position++;
      skipWhitespace();
      const paramName = readToken("a parameter name");
      skipWhitespace();
      let paramValue: string | true = true;
      if (value[position] === "=") {
        position++;
        skipWhitespace();
        const valueStart = position;
        paramValue = value[position] === '"' ? readQuotedString() : readToken("a parameter value");
        if (!isToken(paramValue)) {
          position = valueStart;
          fail("a quoted value that is a token");
        }
        skipWhitespace();
      }
      if (!(paramName in params)) params[paramName] = paramValue;
      else repeated ??= paramName;
    }
    offers.push(repeated === undefined ? { name, params } : { name, params, repeated });
    if (position < value.length && value[position] !== ",") fail('"," or ";"');
  }
  if (offers.length === 0) {
    throw new HttpError(400, "Sec-WebSocket-Extensions must name at least one extension");
  }
  return offers;
}

/**
 * Formats extensions for a `Sec-WebSocket-Extensions` response header, the inverse of
 * {@link parseExtensions}: `name; param=value; flag, name2`. Values are written as tokens.
 *
 * @throws TypeError when a name, parameter name or value is not a token (a server bug:
 *   it must never reach the wire).
 */
export function formatExtensions(list: ExtensionOffer[]): string {
  return list
    .map(({ name, params }) => {
      assertToken(name, "extension name");
      const parts = [name];
      for (const [paramName, paramValue] of Object.entries(params)) {
        assertToken(paramName, "extension parameter name");
        if (paramValue === true) {
          parts.push(paramName);
        } else {
          assertToken(paramValue, "extension parameter value");
          parts.push(`${paramName}=${paramValue}`);
        }
      }
      return parts.join("; ");
    })
    .join(", ");
}

function assertToken(value: string, what: string): void {
  if (!isToken(value)) {
    throw new TypeError(`Invalid ${what} ${JSON.stringify(value)}: must be a token (RFC 6455 §9.1)`);
  }
}
