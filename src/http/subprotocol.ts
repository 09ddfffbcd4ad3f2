import { HttpError } from "./errors.js";
import { isToken, splitList } from "./grammar.js";
import type { RequestHead } from "./request-head.js";

/**
 * How the server picks a subprotocol from the client's `Sec-WebSocket-Protocol` offers:
 * either the list of subprotocols it supports, or a function that returns one of the
 * offers (or `undefined`/`null` for none).
 */
export type ProtocolSelector =
  | readonly string[]
  | ((offered: string[], head: RequestHead) => string | undefined | null);

/**
 * Parses a `Sec-WebSocket-Protocol` value: a comma-separated list of tokens
 * (RFC 6455 §4.1, §11.3.4), which must be unique. Empty list elements are ignored, as
 * RFC 9110 §5.6.1.2 requires, but at least one subprotocol must be present.
 *
 * @throws HttpError 400 when an element is not a token, is repeated, or the list is empty.
 */
export function parseProtocolList(value: string): string[] {
  const protocols = splitList(value);
  if (protocols.length === 0) {
    throw new HttpError(400, "Sec-WebSocket-Protocol must name at least one subprotocol");
  }
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) {
      throw new HttpError(
        400,
        `Sec-WebSocket-Protocol: ${JSON.stringify(protocol)} is not a valid subprotocol name (names are tokens, RFC 6455 §4.1)`,
      );
    }
    // RFC 6455 §4.1: the offered values "MUST all be unique strings".
    if (seen.has(protocol)) {
      throw new HttpError(400, `Sec-WebSocket-Protocol offers ${JSON.stringify(protocol)} more than once`);
    }
    seen.add(protocol);
  }
  return protocols;
}

/**
 * Chooses the subprotocol to confirm in the 101 response (RFC 6455 §4.2.2 step 5.4).
 *
 * - array: the first of the client's offers, in the client's order of preference, that the
 *   server supports (exact, case-sensitive match);
 * - function: its answer; not called when the client offered nothing.
 *
 * @returns the chosen subprotocol, or `undefined` for none (the response then carries no
 *   `Sec-WebSocket-Protocol` header).
 * @throws Error when the function returns a subprotocol the client did not offer: a
 *   programming error in the server application (RFC 6455 §4.2.2 allows only an offer).
 */
export function selectProtocol(
  offered: string[],
  selector: ProtocolSelector | undefined,
  head: RequestHead,
): string | undefined {
  if (selector === undefined || offered.length === 0) return undefined;
  if (typeof selector !== "function") return offered.find((protocol) => selector.includes(protocol));
  const chosen = selector(offered, head);
  if (chosen === undefined || chosen === null) return undefined;
  if (!offered.includes(chosen)) {
    throw new Error(
      `Protocol selector returned ${JSON.stringify(chosen)}, which the client did not offer (offered: ${offered.join(", ")})`,
    );
  }
  return chosen;
}
