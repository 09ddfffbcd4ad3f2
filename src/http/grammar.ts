/**
 * Character-level rules of HTTP field syntax (RFC 9110 §5), shared by the request parser,
 * the handshake validation and the response builder.
 */

// RFC 9110 §5.6.2: token = 1*tchar
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// RFC 9110 §5.5: a field value is made of VCHAR, SP, HTAB and obs-text (%x80-FF). Strings
// here are latin1-decoded bytes, so obs-text is U+0080..U+00FF and anything above is invalid.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** True when `value` is an RFC 9110 §5.6.2 token (header names, methods, subprotocols). */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/** True when `byte` is a tchar (RFC 9110 §5.6.2): one byte of a token. */
export function isTokenByte(byte: number): boolean {
  return byte < 128 && TOKEN_BYTES[byte] === 1;
}

const TOKEN_BYTES = new Uint8Array(128);
for (let byte = 0; byte < 128; byte++) if (TOKEN.test(String.fromCharCode(byte))) TOKEN_BYTES[byte] = 1;

/** True when `value` has only characters allowed in a field value (RFC 9110 §5.5). */
export function isFieldValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

function isOws(char: string): boolean {
  return char === " " || char === "\t";
}

/**
 * Removes optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends.
 * A loop rather than a `/[ \t]+$/` regex, whose backtracking is quadratic on long runs of
 * spaces — an attacker controls these strings.
 */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value[start])) start++;
  while (end > start && isOws(value[end - 1])) end--;
  return value.slice(start, end);
}

/**
 * Splits a comma-separated list (RFC 9110 §5.6.1) into its trimmed elements. Empty elements
 * are dropped: RFC 9110 §5.6.1.2 requires recipients to accept and ignore them.
 * Only for lists whose elements cannot contain quoted commas (tokens).
 */
export function splitList(value: string): string[] {
  const elements: string[] = [];
  for (const part of value.split(",")) {
    const element = trimOws(part);
    if (element !== "") elements.push(element);
  }
  return elements;
}
