import { HttpError } from "./errors.js";

/** The routing-relevant parts of a request-target. */
export interface RequestTarget {
  /** The path, raw: percent-encoding is left as sent. */
  path: string;
  /** The decoded query string (`URLSearchParams` decodes `%XX` and `+`). */
  query: URLSearchParams;
}

// RFC 9112 §3.2: a request-target never contains whitespace, controls or non-ASCII bytes,
// and never a fragment ("#"). Within that we accept every visible ASCII character rather than
// RFC 3986's narrower set, because browsers send `|`, `[`, `]`, `^`… unencoded (WHATWG URL's
// path and query percent-encode sets leave them alone) and rejecting them would break clients.
const TARGET_CHARACTERS = /^[\x21\x22\x24-\x7e]+$/;

// RFC 9112 §3.2.2: absolute-form, e.g. "http://example.com/chat?room=1".
const ABSOLUTE_FORM = /^https?:\/\/([^/?]*)(.*)$/i;

/**
 * Splits a request-target into path and query (RFC 9112 §3.2).
 *
 * Accepts origin-form (`/path?query`) and absolute-form (`http://host/path?query`, whose
 * authority is dropped: routing uses the path). Rejects asterisk-form and authority-form
 * (only meaningful for `OPTIONS *` and `CONNECT`, which this server does not serve).
 *
 * The path is NOT percent-decoded, so `/a%2Fb` and `/a/b` stay distinct and routing is exact.
 *
 * @throws HttpError 400 when the target is malformed.
 */
export function parseRequestTarget(target: string): RequestTarget {
  const { path, search } = splitRequestTarget(target);
  return { path, query: new URLSearchParams(search) };
}

/**
 * `parseRequestTarget` without decoding the query: `search` is the raw text after "?" (or
 * ""), so a parser can leave building the `URLSearchParams` until someone asks for it.
 *
 * @throws HttpError 400 when the target is malformed.
 */
export function splitRequestTarget(target: string): { path: string; search: string } {
  if (!TARGET_CHARACTERS.test(target)) {
    throw new HttpError(
      400,
      "The request target contains a character that must be percent-encoded (or a #fragment)",
    );
  }
  let pathAndQuery = target;
  if (!target.startsWith("/")) {
    const absolute = ABSOLUTE_FORM.exec(target);
    // RFC 9110 §4.2.4: userinfo ("user@host") in an http URI is to be treated as an error.
    if (absolute === null || absolute[1] === "" || absolute[1].includes("@")) {
      throw new HttpError(
        400,
        'The request target must be a path such as "/chat" or an absolute http(s) URL',
      );
    }
    pathAndQuery = absolute[2];
  }
  const queryStart = pathAndQuery.indexOf("?");
  const path = queryStart === -1 ? pathAndQuery : pathAndQuery.slice(0, queryStart);
  const search = queryStart === -1 ? "" : pathAndQuery.slice(queryStart + 1);
  // An absolute-form target may have an empty path ("http://host?x"): it means "/" (RFC 9112 §3.2.1).
  return { path: path === "" ? "/" : path, search };
}
