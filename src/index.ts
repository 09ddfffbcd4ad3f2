/**
 * wsraw: a WebSocket server for Node.js written from raw TCP, and its client.
 *
 * The server (`createServer`, routes, connections) and the client (`connect`) are
 * exported here; the sans-I/O layers are also importable on their own: `wsraw/frame` (the
 * RFC 6455 codec) and `wsraw/http` (the opening handshake).
 */
export * from "./server/index.js";
export * from "./client/index.js";
export { CloseCode, ProtocolError } from "./frame/index.js";
export { HandshakeError, HttpError } from "./http/index.js";
