/**
 * The WebSocket opening handshake, sans-I/O: parse a request head from bytes, validate it
 * (RFC 6455 §4.2.1, or an HTTP/2 extended CONNECT, RFC 8441), negotiate subprotocol and extensions, and build the response bytes.
 * Nothing here touches a socket or a timer.
 *
 * @packageDocumentation
 */
export { acceptKey } from "./accept-key.js";
export { HandshakeError, HttpError } from "./errors.js";
export {
  buildClientRequest,
  checkUpgradeResponse,
  type AcceptedHandshake,
  type ClientRequest,
  type ClientRequestOptions,
} from "./client-handshake.js";
export { ResponseHeadParser, parseResponseHead, type ResponseHead } from "./response-head.js";
export { formatExtensions, parseExtensions, type ExtensionNegotiator, type ExtensionOffer } from "./extensions.js";
export { isUpgradeRequest, validateUpgradeRequest, websocketOffers, type UpgradeRequest, type WebSocketOffers } from "./handshake.js";
export {
  buildExtendedConnect,
  checkExtendedConnectResponse,
  http2RequestHead,
  isExtendedConnect,
  validateExtendedConnect,
  type Http2RequestHeaders,
} from "./http2-request.js";
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
  responseFields,
  statusText,
  type ResponseHeaders,
} from "./response.js";
export { parseProtocolList, selectProtocol, type ProtocolSelector } from "./subprotocol.js";
