import { Buffer } from "node:buffer";
import { HttpError } from "./errors.js";
import { isFieldValue, isToken, isTokenByte } from "./grammar.js";
import { splitRequestTarget } from "./request-target.js";

/** A parsed HTTP/1.x request head: request line and header fields (RFC 9112 §2.1). */
export interface RequestHead {
  /** The method as sent, e.g. `"GET"` (methods are case-sensitive, RFC 9110 §9.1). */
  method: string;
  /** The raw request-target, e.g. `"/echo?x=1"`. */
  target: string;
  /**
   * The path part of the target, without the query, e.g. `"/echo"`. NOT percent-decoded,
   * so routing is exact (`/a%2Fb` is not `/a/b`). For an absolute-form target
   * (`http://host/echo`) this is the URL's path.
   */
  path: string;
  /** The query string, decoded. */
  query: URLSearchParams;
  /** `"1.1"` or `"1.0"` (any HTTP/1.x minor version is accepted, as sent). */
  httpVersion: string;
  /**
   * Header fields by lower-cased name. Repeated fields are joined with `", "`
   * (RFC 9110 §5.3). Values are latin1-decoded bytes, trimmed of surrounding whitespace.
   * The object inherits nothing (see `createHeaderFields`), so `headers["constructor"]` is
   * undefined unless sent.
   */
  headers: Record<string, string>;
  /** Header fields as received, in order, names in their original case. */
  rawHeaders: Array<[name: string, value: string]>;
  /**
   * The head as received (latin1-decoded, without the final empty line), when it was
   * parsed from bytes; `parseRequestHead(text)` gives the same head again.
   */
  text?: string;
}

/** Limits for {@link RequestHeadParser} (and {@link HeadParser}). */
export interface RequestHeadParserOptions {
  /**
   * Maximum size in bytes of the whole head: request line, header lines and the final
   * empty line. Default 16 KiB. A longer head is refused with 431.
   */
  maxHeaderSize?: number;
}

const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
const HEAD_TERMINATOR = Buffer.from("\r\n\r\n", "latin1");
const CRLF = Buffer.from("\r\n", "latin1");
const CR = 0x0d;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version, single spaces.
// HTTP-name is case-sensitive ("HTTP", RFC 9112 §2.3).
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ ]+) HTTP\/(\d)\.(\d)$/;

/** What tells a request head from a response head, for {@link HeadParser}. */
export interface HeadSyntax<Head> {
  /** "Request" or "Response", for messages. */
  kind: string;
  /** Parses the complete head's text (without the final empty line). */
  parse(text: string): Head;
  /**
   * Throws for a first line that no head can start with, checked as soon as that line is
   * complete: a peer that is not speaking HTTP at all is told at once instead of at a timeout.
   */
  checkStartLine(line: string): void;
  /** Whether a start line may begin with this byte (checked on the first byte that arrives). */
  startLineBegins(byte: number): boolean;
  /** Skip empty lines before the start line (a request's: RFC 9112 §2.2). */
  skipLeadingEmptyLines: boolean;
}

/**
 * Incremental parser for one HTTP/1.x message head (a request's, or a response's: see
 * `ResponseHeadParser`), fed with byte chunks as they arrive.
 *
 * Sans-I/O: it never touches a socket; the caller pushes bytes and gets back the head once
 * the empty line (CRLF CRLF) has been seen. Memory is bounded by `maxHeaderSize`.
 *
 * Line endings must be CRLF. RFC 9112 §2.2 lets a recipient accept a bare LF, but a
 * WebSocket peer always sends CRLF, and accepting both is how request-smuggling
 * discrepancies between parsers start; a bare LF or bare CR is a 400.
 */
export class HeadParser<Head> {
  readonly #maxHeaderSize: number;
  readonly #syntax: HeadSyntax<Head>;
  /** The first line was complete and checked. */
  #startLineChecked = false;
  /** Bytes of an incomplete head, kept across pushes; only the first `#length` are valid. */
  #buffer: Buffer = EMPTY;
  #length = 0;
  #finished = false;
  /** Bytes of empty lines skipped before the start line; they count towards the limit. */
  #skipped = 0;
  /** The last byte skipped was the CR of an empty line whose LF has not arrived yet. */
  #pendingLineFeed = false;

  /**
   * @param syntax - what the head must look like
   * @param options - limits; see {@link RequestHeadParserOptions}
   */
  constructor(syntax: HeadSyntax<Head>, options: RequestHeadParserOptions = {}) {
    this.#syntax = syntax;
    const maxHeaderSize = options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
    if (!Number.isSafeInteger(maxHeaderSize) || maxHeaderSize < 1) {
      throw new RangeError(`maxHeaderSize must be a positive integer, got ${maxHeaderSize}`);
    }
    this.#maxHeaderSize = maxHeaderSize;
  }

  /**
   * Feeds the next bytes of the connection, in chunks of any size (one byte at a time too).
   *
   * @returns `null` while the head is incomplete; then `{ head, rest }`, where `rest` holds
   *   the bytes that followed the head in the same chunk (the first WebSocket frames may
   *   arrive with the handshake). `rest` may be empty and may be a view of `chunk`.
   * @throws HttpError 431 as soon as the head cannot fit in `maxHeaderSize`; 400 for a
   *   malformed request line, target or header line; 505 for an HTTP major version other than 1.
   * @throws Error when called again after it returned a head or threw.
   */
  push(chunk: Buffer): { head: Head; rest: Buffer } | null {
    if (this.#finished) {
      throw new Error(`${this.#syntax.kind} head parser is finished: it already returned a head or threw`);
    }
    try {
      const result = this.#length === 0 ? this.#pushFirst(chunk) : this.#pushMore(chunk);
      if (result !== null) this.#finish();
      return result;
    } catch (error) {
      this.#finish();
      throw error;
    }
  }

  /** Nothing buffered: search the chunk in place, the common case being a whole head in it. */
  #pushFirst(chunk: Buffer): { head: Head; rest: Buffer } | null {
    if (this.#syntax.skipLeadingEmptyLines && (this.#pendingLineFeed || chunk[0] === CR)) {
      chunk = chunk.subarray(this.#skipEmptyLines(chunk));
    }
    if (chunk.length === 0) return null;
    if (!this.#syntax.startLineBegins(chunk[0]!)) throw notHttpError(this.#syntax.kind, chunk[0]!);
    const limit = this.#maxHeaderSize - this.#skipped;
    const end = findHeadEnd(chunk, 0, Math.min(chunk.length, limit));
    if (end !== -1) return { head: this.#parseHead(chunk, end), rest: chunk.subarray(end) };
    assertNoBareLineFeed(chunk, 0, Math.min(chunk.length, limit));
    this.#checkFirstLine(chunk, Math.min(chunk.length, limit));
    this.#assertRoomLeft(chunk.length);
    this.#append(chunk);
    return null;
  }

  /**
   * How many bytes at the start of `chunk` belong to empty lines (CRLF) before the start
   * line. A CR that ends the chunk is taken as the start of one more; the LF must follow.
   */
  #skipEmptyLines(chunk: Buffer): number {
    let i = 0;
    if (this.#pendingLineFeed) {
      if (chunk[0] !== LF) throw bareLineEndingError();
      this.#pendingLineFeed = false;
      i = 1;
    }
    while (chunk[i] === CR && chunk[i + 1] === LF) i += 2;
    if (i === chunk.length - 1 && chunk[i] === CR) {
      this.#pendingLineFeed = true;
      i++;
    }
    this.#skipped += i;
    this.#assertRoomLeft(0);
    return i;
  }

  /** Part of the head is buffered: append (never past the limit) and search only new bytes. */
  #pushMore(chunk: Buffer): { head: Head; rest: Buffer } | null {
    const previous = this.#length;
    this.#append(chunk.subarray(0, this.#maxHeaderSize - this.#skipped - previous));
    // The terminator may straddle the old and new bytes: back up by its length minus one.
    const searchFrom = Math.max(0, previous - (HEAD_TERMINATOR.length - 1));
    const end = findHeadEnd(this.#buffer, searchFrom, this.#length);
    if (end !== -1) {
      // The head ends inside this chunk; whatever follows in the chunk is the rest.
      return { head: this.#parseHead(this.#buffer, end), rest: chunk.subarray(end - previous) };
    }
    assertNoBareLineFeed(this.#buffer, previous, this.#length);
    this.#checkFirstLine(this.#buffer, this.#length);
    this.#assertRoomLeft(previous + chunk.length);
    return null;
  }

  /**
   * With `size` bytes and no terminator among them, a head within the limit is still
   * possible only if `size` is below it. Deciding here, not when the limit is overrun by
   * more, is what keeps the buffer bounded.
   */
  #assertRoomLeft(size: number): void {
    if (this.#skipped + size >= this.#maxHeaderSize) {
      // RFC 6585 §5: 431 Request Header Fields Too Large.
      throw new HttpError(
        431,
        `${this.#syntax.kind} head is larger than the ${this.#maxHeaderSize}-byte limit; send fewer or shorter headers`,
      );
    }
  }

  /** Checks the first line once it is complete within `bytes[0, length)`. */
  #checkFirstLine(bytes: Buffer, length: number): void {
    if (this.#startLineChecked) return;
    const end = bytes.subarray(0, length).indexOf(CRLF);
    if (end === -1) return;
    this.#syntax.checkStartLine(bytes.toString("latin1", 0, end));
    this.#startLineChecked = true;
  }

  #append(bytes: Buffer): void {
    const needed = this.#length + bytes.length;
    if (needed > this.#buffer.length) {
      // Grow geometrically (amortised O(1) per byte when fed byte by byte), capped at the limit.
      const capacity = Math.min(this.#maxHeaderSize, Math.max(needed, this.#buffer.length * 2, 256));
      const grown = Buffer.allocUnsafe(capacity);
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    bytes.copy(this.#buffer, this.#length);
    this.#length = needed;
  }

  #finish(): void {
    this.#finished = true;
    this.#buffer = EMPTY;
    this.#length = 0;
  }

  /** Parses the complete head `bytes[0, end)`, which ends with CRLFCRLF. */
  #parseHead(bytes: Buffer, end: number): Head {
    // latin1 maps each byte to one UTF-16 code unit: obs-text survives unchanged and a byte
    // count is a character count (RFC 9110 §5.5 treats field values as octets).
    return this.#syntax.parse(bytes.toString("latin1", 0, end - HEAD_TERMINATOR.length));
  }
}

/**
 * The incremental parser of a request head: see {@link HeadParser}. Empty lines before
 * the request line are skipped (RFC 9112 §2.2) and count towards `maxHeaderSize`.
 */
export class RequestHeadParser extends HeadParser<RequestHead> {
  constructor(options: RequestHeadParserOptions = {}) {
    super(REQUEST_SYNTAX, options);
  }
}

const REQUEST_SYNTAX: HeadSyntax<RequestHead> = {
  kind: "Request",
  parse: parseRequestHead,
  checkStartLine: parseRequestLine,
  startLineBegins: isTokenByte,
  skipLeadingEmptyLines: true,
};

/** Offset just past the first CRLFCRLF found within `bytes[from, to)`, or -1. */
function findHeadEnd(bytes: Buffer, from: number, to: number): number {
  const index = bytes.subarray(from, to).indexOf(HEAD_TERMINATOR);
  return index === -1 ? -1 : from + index + HEAD_TERMINATOR.length;
}

/**
 * Rejects an LF not preceded by CR in `bytes[from, to)`. Checked while the head is still
 * incomplete so that a client using bare LF gets its 400 at once, instead of waiting for a
 * CRLFCRLF that will never come and finally getting a misleading 431.
 */
function assertNoBareLineFeed(bytes: Buffer, from: number, to: number): void {
  const window = bytes.subarray(from, to);
  for (let i = window.indexOf(LF); i !== -1; i = window.indexOf(LF, i + 1)) {
    const at = from + i;
    if (at === 0 || bytes[at - 1] !== CR) throw bareLineEndingError();
  }
}

/**
 * For a head whose first byte no start line begins with: most often a TLS record (a
 * `wss://` client on a plain port, or the server's answer to a `ws://` client on a TLS
 * port), which is said, so the mistake is found at once instead of after a timeout.
 */
function notHttpError(kind: string, byte: number): HttpError {
  // TLS records start with their content type: 20-23 (RFC 8446 §5.1).
  const tls = byte >= 0x14 && byte <= 0x17;
  const hint = tls
    ? kind === "Request"
      ? ": this looks like a TLS handshake, and this port speaks plain ws:// (and http://)"
      : ": this looks like TLS; the server speaks wss://"
    : "";
  const what = kind === "Request" ? "a method (RFC 9112 §3)" : '"HTTP/" (RFC 9112 §4)';
  return new HttpError(400, `${kind} must start with ${what}; byte 0x${byte.toString(16).padStart(2, "0")} came first${hint}`);
}

function bareLineEndingError(): HttpError {
  return new HttpError(400, "Head lines must end with CRLF; found a bare CR or LF (RFC 9112 §2.2)");
}

/**
 * Parses a complete request head given as text: request line and header lines separated
 * by CRLF, without the final empty line (a head's `text`). Same errors as
 * `RequestHeadParser.push`, except 431.
 */
export function parseRequestHead(text: string): RequestHead {
  assertNoForbiddenControls(text);
  let lineEnd = text.indexOf("\r\n");
  if (lineEnd === -1) lineEnd = text.length;
  const { method, target, httpVersion } = parseRequestLine(text.slice(0, lineEnd));
  const { path, search } = splitRequestTarget(target);
  const headers = createHeaderFields();
  forEachField(text, lineEnd, (name, value) => {
    const key = lowerCaseName(name);
    const previous = headers[key];
    // RFC 9110 §5.3: repeated fields combine into one comma-separated list, in order.
    headers[key] = previous === undefined ? value : `${previous}, ${value}`;
  });
  return new ParsedRequestHead(method, target, path, search, httpVersion, headers, text);
}

/**
 * A head as `parseHead` returns it. `query` and `rawHeaders` are made from the head's text
 * when first asked for: a WebSocket handler usually keeps its request for the life of the
 * connection, and most never look at either (the header values are slices of that text
 * anyway, so keeping it costs nothing more).
 */
class ParsedRequestHead implements RequestHead {
  #query: URLSearchParams | undefined;
  #rawHeaders: Array<[name: string, value: string]> | undefined;

  constructor(
    readonly method: string,
    readonly target: string,
    readonly path: string,
    private readonly search: string,
    readonly httpVersion: string,
    readonly headers: Record<string, string>,
    readonly text: string,
  ) {}

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.search));
  }

  get rawHeaders(): Array<[name: string, value: string]> {
    if (this.#rawHeaders === undefined) {
      const fields: Array<[name: string, value: string]> = [];
      // The lines were checked when the head was parsed: this cannot throw.
      forEachField(this.text, this.text.indexOf("\r\n"), (name, value) => fields.push([name, value]));
      this.#rawHeaders = fields;
    }
    return this.#rawHeaders;
  }
}

/**
 * The header names browsers and WebSocket clients send, as they spell them and in lower
 * case, each mapped to its lower-case form: one lookup instead of `toLowerCase()`, and the
 * key is a constant, which V8 need not look up in its string table again when the field is
 * stored under it. Any other spelling is lower-cased as usual.
 */
const COMMON_NAMES = new Map(
  [
    "Host", "Upgrade", "Connection", "Origin", "Pragma", "Cache-Control", "User-Agent", "Accept-Encoding",
    "Accept-Language", "Cookie", "Authorization", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "X-Forwarded-For", "X-Real-IP",
  ].flatMap((name) => [
    [name, name.toLowerCase()],
    [name.toLowerCase(), name.toLowerCase()],
  ]),
);

function lowerCaseName(name: string): string {
  return COMMON_NAMES.get(name) ?? name.toLowerCase();
}

/** The prototype of `createHeaderFields` objects: empty, and with no prototype of its own. */
const HEADER_FIELDS_PROTOTYPE = Object.create(null) as object;

/**
 * A new, empty object for header fields by name. It inherits nothing, so a request cannot
 * reach `Object.prototype` through a header name (`constructor`, `__proto__` are ordinary
 * entries). Unlike `Object.create(null)`, which V8 keeps in dictionary mode (~470 B for a
 * handshake), such objects keep fast properties (~100 B).
 */
export function createHeaderFields(): Record<string, string> {
  return Object.create(HEADER_FIELDS_PROTOTYPE) as Record<string, string>;
}

// After the head is cut into lines at CRLF, any other CR or LF is bare (RFC 9112 §2.2).
const BARE_LINE_ENDING = /\r(?!\n)|(?<!\r)\n/;

/** Rejects a bare CR or LF, and NUL, anywhere in a head's text (400). */
export function assertNoForbiddenControls(text: string): void {
  if (BARE_LINE_ENDING.test(text)) throw bareLineEndingError();
  // RFC 9110 §5.5: NUL is never valid; report it by name since it is a classic smuggling probe.
  if (text.includes("\0")) throw new HttpError(400, "Head contains a NUL byte");
}

function parseRequestLine(line: string): { method: string; target: string; httpVersion: string } {
  const match = REQUEST_LINE.exec(line);
  if (match === null) {
    throw new HttpError(
      400,
      'Malformed request line: expected "METHOD /path HTTP/1.1" separated by single spaces (RFC 9112 §3)',
    );
  }
  const [, method, target, major, minor] = match;
  // RFC 9110 §6.2: any 1.x is processed as the highest 1.x we implement; other majors are not HTTP/1.
  if (major !== "1") {
    throw new HttpError(505, `HTTP/${major}.${minor} is not supported; use HTTP/1.1`);
  }
  // The common values as literals: a request kept for a connection's life holds no copy of them.
  return {
    method: method === "GET" ? "GET" : method,
    target,
    httpVersion: major === "1" && minor === "1" ? "1.1" : `${major}.${minor}`,
  };
}

const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/**
 * The grammar's rules as tables over latin1 characters (all below 256), for the one-pass
 * field scan: which a header name may have (tchar, RFC 9110 §5.6.2) and which a field
 * value may have (VCHAR, SP, HTAB and obs-text, RFC 9110 §5.5).
 */
const TCHAR = characterSet((c) => isToken(String.fromCharCode(c)));
const FIELD_VCHAR = characterSet((c) => isFieldValue(String.fromCharCode(c)));

function characterSet(allowed: (code: number) => boolean): Uint8Array {
  const set = new Uint8Array(256);
  for (let code = 0; code < 256; code++) set[code] = allowed(code) ? 1 : 0;
  return set;
}

/**
 * Calls `onField` with each header field of `text`, whose request line ends at
 * `requestLineEnd` (-1: it has no header lines). RFC 9112 §5:
 * field-line = field-name ":" OWS field-value OWS. One pass over the characters, with no
 * array per line: the request head is parsed once per connection, on the handshake's path.
 */
export function forEachField(text: string, requestLineEnd: number, onField: (name: string, value: string) => void): void {
  if (requestLineEnd === -1) return;
  const length = text.length;
  for (let start = requestLineEnd + 2; start <= length; ) {
    let end = text.indexOf("\r\n", start);
    if (end === -1) end = length;
    const first = text.charCodeAt(start);
    if (first === SP || first === HTAB) {
      // RFC 9112 §5.2: obs-fold (a continuation line) is rejected with 400 rather than unfolded.
      throw new HttpError(400, "Header lines must not start with whitespace (obs-fold is not accepted, RFC 9112 §5.2)");
    }
    let colon = start;
    while (colon < end && text.charCodeAt(colon) !== COLON) colon++;
    if (colon === end) throw new HttpError(400, "Malformed header line: missing colon");
    const last = text.charCodeAt(colon - 1);
    if (colon > start && (last === SP || last === HTAB)) {
      // RFC 9112 §5.1: whitespace between name and colon MUST be rejected with 400.
      throw new HttpError(400, "No whitespace is allowed between a header name and its colon (RFC 9112 §5.1)");
    }
    let valid = colon > start;
    for (let i = start; valid && i < colon; i++) valid = TCHAR[text.charCodeAt(i)] === 1;
    if (!valid) throw new HttpError(400, "Malformed header name: names must be tokens (RFC 9110 §5.1)");
    let valueStart = colon + 1;
    let valueEnd = end;
    while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
    const name = text.slice(start, colon);
    for (let i = valueStart; i < valueEnd; i++) {
      if (FIELD_VCHAR[text.charCodeAt(i)] !== 1) {
        throw new HttpError(400, `Header ${name} contains a control character, which is not allowed (RFC 9110 §5.5)`);
      }
    }
    onField(name, text.slice(valueStart, valueEnd));
    start = end + 2;
  }
}

function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}
