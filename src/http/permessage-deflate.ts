import type { ExtensionOffer } from "./extensions.js";

/** The extension token of RFC 7692. */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/**
 * What both ends agreed on for permessage-deflate (RFC 7692 §7.1): the "agreed
 * parameters". Window bits are 8..15, 15 when the response named no limit.
 */
export interface DeflateParams {
  /** The server resets its compression context after every message (§7.1.1.1). */
  serverNoContextTakeover: boolean;
  /** The client resets its compression context after every message (§7.1.1.2). */
  clientNoContextTakeover: boolean;
  /** The largest LZ77 window the server compresses with, as a power of two (§7.1.2.1). */
  serverMaxWindowBits: number;
  /** The largest LZ77 window the client compresses with, as a power of two (§7.1.2.2). */
  clientMaxWindowBits: number;
}

/**
 * The server's side of the negotiation: what it asks for whatever the client offers.
 * The defaults hold no compression state between messages on either side, so an idle
 * connection holds no zlib memory at all.
 */
export interface DeflatePolicy {
  /** Answer `server_no_context_takeover` even when not offered. Default true. */
  serverNoContextTakeover?: boolean;
  /** Answer `client_no_context_takeover` even when not offered (§7.1.1.2 allows it). Default true. */
  clientNoContextTakeover?: boolean;
  /** The server's window, 8..15 (also the most it confirms when the client offers a limit). Default 15. */
  serverMaxWindowBits?: number;
  /** The client's window to ask for when the client offers `client_max_window_bits`, 8..15. Default 15. */
  clientMaxWindowBits?: number;
}

/** Why one offer is not acceptable, or the parameters it offers. */
type ParsedOffer =
  | { ok: false; reason: string }
  | {
      ok: true;
      serverNoContextTakeover: boolean;
      clientNoContextTakeover: boolean;
      /** undefined: not offered. */
      serverMaxWindowBits: number | undefined;
      /** undefined: not offered; true: offered without a value. */
      clientMaxWindowBits: number | true | undefined;
    };

// RFC 7692 §7.1.2.1: the value "MUST conform to the ABNF: %x38-39 / "1" %x30-35", so
// "8".."15" with no leading zero, no sign.
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/**
 * Reads one `permessage-deflate` offer or response (RFC 7692 §7.1): every parameter must
 * be one of the four, appear once, and carry a valid value. Returns why not otherwise:
 * an offer that fails is declined (§5: the server considers the next one), a response
 * that fails makes a client fail the connection.
 */
function parseDeflateParams(extension: ExtensionOffer): ParsedOffer {
  if (extension.repeated !== undefined) {
    return { ok: false, reason: `parameter ${extension.repeated} is given twice` };
  }
  let serverNoContextTakeover = false;
  let clientNoContextTakeover = false;
  let serverMaxWindowBits: number | undefined;
  let clientMaxWindowBits: number | true | undefined;
  for (const [name, value] of Object.entries(extension.params)) {
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        // §7.1.1.1, §7.1.1.2: "This extension parameter has no value."
        if (value !== true) return { ok: false, reason: `${name} takes no value` };
        if (name === "server_no_context_takeover") serverNoContextTakeover = true;
        else clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
        // §7.1.2.1: it has a value, 8 to 15.
        if (value === true || !WINDOW_BITS.test(value)) {
          return { ok: false, reason: `server_max_window_bits must be 8 to 15, got ${value === true ? "no value" : value}` };
        }
        serverMaxWindowBits = Number(value);
        break;
      case "client_max_window_bits":
        // §7.1.2.2: in an offer it may have no value.
        if (value !== true && !WINDOW_BITS.test(value)) {
          return { ok: false, reason: `client_max_window_bits must be 8 to 15, got ${value}` };
        }
        clientMaxWindowBits = value === true ? true : Number(value);
        break;
      default:
        // §7.1: "A server MUST decline an extension negotiation offer ... with an unknown parameter".
        return { ok: false, reason: `unknown parameter ${name}` };
    }
  }
  return { ok: true, serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits };
}

/**
 * The server's negotiation (RFC 7692 §5, §7.1): takes the client's `permessage-deflate`
 * offers in order, declines those that are invalid, and accepts the first valid one.
 * Returns the parameters to confirm in the 101 and the agreed parameters, or undefined
 * when no offer is acceptable (the connection then goes on without compression).
 *
 * The answer never holds what the client cannot accept: `server_max_window_bits` is at
 * most the offered value, and `client_max_window_bits` is answered only when offered
 * (§7.1.2.2). Within that, `policy` keeps memory bounded: it may ask for no context
 * takeover on either side, which §7.1.1 lets a server do unasked.
 */
export function negotiateDeflate(
  offers: readonly ExtensionOffer[],
  policy: DeflatePolicy = {},
): { response: ExtensionOffer; params: DeflateParams } | undefined {
  const serverWindow = policy.serverMaxWindowBits ?? 15;
  const clientWindow = policy.clientMaxWindowBits ?? 15;
  checkWindowBits("serverMaxWindowBits", serverWindow);
  checkWindowBits("clientMaxWindowBits", clientWindow);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const parsed = parseDeflateParams(offer);
    if (!parsed.ok) continue;
    const params: DeflateParams = {
      serverNoContextTakeover: parsed.serverNoContextTakeover || (policy.serverNoContextTakeover ?? true),
      clientNoContextTakeover: parsed.clientNoContextTakeover || (policy.clientNoContextTakeover ?? true),
      serverMaxWindowBits: Math.min(parsed.serverMaxWindowBits ?? 15, serverWindow),
      clientMaxWindowBits: 15,
    };
    const response: Record<string, string | true> = Object.create(null);
    if (params.serverNoContextTakeover) response.server_no_context_takeover = true;
    if (params.clientNoContextTakeover) response.client_no_context_takeover = true;
    // §7.1.2.1: confirmed with the same or a smaller value when offered. Unasked, the
    // server says nothing: compressing with a smaller window than the client allows for
    // needs no agreement.
    if (parsed.serverMaxWindowBits !== undefined) {
      response.server_max_window_bits = String(params.serverMaxWindowBits);
    }
    // §7.1.2.2: only when offered, and no more than the offered value.
    const offered = parsed.clientMaxWindowBits;
    if (offered !== undefined) {
      params.clientMaxWindowBits = Math.min(offered === true ? 15 : offered, clientWindow);
      if (offered !== true || params.clientMaxWindowBits < 15) {
        response.client_max_window_bits = String(params.clientMaxWindowBits);
      }
    }
    return { response: { name: PERMESSAGE_DEFLATE, params: response }, params };
  }
  return undefined;
}

/** What a client offers: the parameters it asks the server to honour. */
export interface DeflateOffer {
  /** Ask the server to reset its context after every message. Default false. */
  serverNoContextTakeover?: boolean;
  /** Promise to reset the client's context after every message. Default false. */
  clientNoContextTakeover?: boolean;
  /** Ask the server for a window of at most this many bits, 8..15. Default: no limit. */
  serverMaxWindowBits?: number;
  /**
   * The largest window the client may be asked to use: `client_max_window_bits` with this
   * value, or without one when 15. Default 15.
   */
  clientMaxWindowBits?: number;
}

/** The `permessage-deflate` offer a client sends (RFC 7692 §5, §7.1). */
export function deflateOffer(offer: DeflateOffer = {}): ExtensionOffer {
  const params: Record<string, string | true> = Object.create(null);
  if (offer.serverNoContextTakeover) params.server_no_context_takeover = true;
  if (offer.clientNoContextTakeover) params.client_no_context_takeover = true;
  if (offer.serverMaxWindowBits !== undefined) {
    checkWindowBits("serverMaxWindowBits", offer.serverMaxWindowBits);
    params.server_max_window_bits = String(offer.serverMaxWindowBits);
  }
  const clientWindow = offer.clientMaxWindowBits ?? 15;
  checkWindowBits("clientMaxWindowBits", clientWindow);
  params.client_max_window_bits = clientWindow === 15 ? true : String(clientWindow);
  return { name: PERMESSAGE_DEFLATE, params };
}

/**
 * The client's check of the server's response to `offer` (RFC 7692 §7.1): returns the
 * agreed parameters, or throws `Error` saying what the client cannot accept. A client
 * that gets such a response must fail the connection (§5).
 */
export function acceptDeflateResponse(response: ExtensionOffer, offer: DeflateOffer = {}): DeflateParams {
  const parsed = parseDeflateParams(response);
  if (!parsed.ok) throw new Error(`invalid permessage-deflate response: ${parsed.reason}`);
  if (offer.serverNoContextTakeover && !parsed.serverNoContextTakeover) {
    // §7.1.1.1: a server that accepts the offer confirms the parameter.
    throw new Error("invalid permessage-deflate response: server_no_context_takeover was asked for and not confirmed");
  }
  const serverWindow = parsed.serverMaxWindowBits ?? 15;
  if (offer.serverMaxWindowBits !== undefined && serverWindow > offer.serverMaxWindowBits) {
    throw new Error(
      `invalid permessage-deflate response: server_max_window_bits=${serverWindow} is above the offered ${offer.serverMaxWindowBits}`,
    );
  }
  const clientOffered = offer.clientMaxWindowBits ?? 15;
  const clientWindow = parsed.clientMaxWindowBits === undefined ? clientOffered : parsed.clientMaxWindowBits;
  if (clientWindow === true) {
    throw new Error("invalid permessage-deflate response: client_max_window_bits needs a value in a response");
  }
  if (clientWindow > clientOffered) {
    throw new Error(
      `invalid permessage-deflate response: client_max_window_bits=${clientWindow} is above the offered ${clientOffered}`,
    );
  }
  return {
    serverNoContextTakeover: parsed.serverNoContextTakeover,
    clientNoContextTakeover: parsed.clientNoContextTakeover || (offer.clientNoContextTakeover ?? false),
    serverMaxWindowBits: serverWindow,
    clientMaxWindowBits: clientWindow,
  };
}

function checkWindowBits(name: string, bits: number): void {
  if (!Number.isInteger(bits) || bits < 8 || bits > 15) {
    throw new RangeError(`${name} must be an integer from 8 to 15, got ${bits}`);
  }
}
