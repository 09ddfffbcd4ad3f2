/**
 * The WebSocket opening handshake, sans-I/O: parse a request head from bytes, validate it
 * (RFC 6455 §4.2.1), negotiate subprotocol and extensions, and build the response bytes.
 * Nothing here touches a socket or a timer.
 *
 * @packageDocumentation
 */
export { acceptKey } from "./accept-key.js";
export { HttpError } from "./errors.js";
export { formatExtensions, parseExtensions, type ExtensionNegotiator, type ExtensionOffer } from "./extensions.js";
export { isUpgradeRequest, validateUpgradeRequest, type UpgradeRequest } from "./handshake.js";
export {
  RequestHeadParser,
  createHeaderFields,
  parseRequestHead,
  type RequestHead,
  type RequestHeadParserOptions,
} from "./request-head.js";
export {
  PERMESSAGE_DEFLATE,
  acceptDeflateResponse,
  deflateOffer,
  negotiateDeflate,
  type DeflateOffer,
  type DeflateParams,
  type DeflatePolicy,
} from "./permessage-deflate.js";
export { parseRequestTarget, type RequestTarget } from "./request-target.js";
export {
  assertHeader,
  buildResponse,
  buildUpgradeResponse,
  errorResponse,
  statusText,
  type ResponseHeaders,
} from "./response.js";
export { parseProtocolList, selectProtocol, type ProtocolSelector } from "./subprotocol.js";
