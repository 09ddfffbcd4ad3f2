import { HttpError } from "./errors.js";
import {
  HeadParser,
  type HeadSyntax,
  type RequestHeadParserOptions,
  assertNoForbiddenControls,
  createHeaderFields,
  forEachField,
} from "./request-head.js";

/** A parsed HTTP/1.x response head: status line and header fields (RFC 9112 §4). */
export interface ResponseHead {
  /** `"1.1"` (any HTTP/1.x minor version is accepted, as sent). */
  httpVersion: string;
  /** The three-digit status code. */
  status: number;
  /** The reason phrase, possibly empty; it carries no meaning (RFC 9112 §4). */
  reason: string;
  /** Header fields by lower-cased name, repeated fields joined with `", "` (RFC 9110 §5.3). */
  headers: Record<string, string>;
  /** Header fields as received, in order, names in their original case. */
  rawHeaders: Array<[name: string, value: string]>;
}

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]. Some servers
// leave out the second space when there is no reason phrase; that is accepted.
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/**
 * Parses a complete response head given as text, without the final empty line.
 *
 * @throws HttpError 400 for a malformed status line or header line (the status says what
 *   kind of fault it is; a client reports it as its own error).
 */
export function parseResponseHead(text: string): ResponseHead {
  assertNoForbiddenControls(text);
  let lineEnd = text.indexOf("\r\n");
  if (lineEnd === -1) lineEnd = text.length;
  const { major, minor, status, reason } = parseStatusLine(text.slice(0, lineEnd));
  const headers = createHeaderFields();
  const rawHeaders: Array<[string, string]> = [];
  forEachField(text, lineEnd === text.length ? -1 : lineEnd, (name, value) => {
    const key = name.toLowerCase();
    const previous = headers[key];
    headers[key] = previous === undefined ? value : `${previous}, ${value}`;
    rawHeaders.push([name, value]);
  });
  return { httpVersion: `${major}.${minor}`, status: Number(status), reason, headers, rawHeaders };
}

function parseStatusLine(line: string): { major: string; minor: string; status: string; reason: string } {
  const match = STATUS_LINE.exec(line);
  if (match === null) {
    const shown = line.length > 60 ? `${line.slice(0, 60)}...` : line;
    throw new HttpError(
      400,
      `Malformed status line ${JSON.stringify(shown)}: expected "HTTP/1.1 101 Switching Protocols" (RFC 9112 §4)`,
    );
  }
  const [, major, minor, status, reason = ""] = match;
  if (major !== "1") throw new HttpError(400, `HTTP/${major}.${minor} is not HTTP/1`);
  return { major, minor, status, reason };
}

const RESPONSE_SYNTAX: HeadSyntax<ResponseHead> = {
  kind: "Response",
  parse: parseResponseHead,
  checkStartLine: parseStatusLine,
  startLineBegins: (byte) => byte === 0x48, // "H" of "HTTP/"
  skipLeadingEmptyLines: false,
};

/** The incremental parser of a response head, fed as bytes arrive: see `HeadParser`. */
export class ResponseHeadParser extends HeadParser<ResponseHead> {
  constructor(options: RequestHeadParserOptions = {}) {
    super(RESPONSE_SYNTAX, options);
  }
}
