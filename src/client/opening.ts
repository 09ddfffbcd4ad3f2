import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { Heartbeat } from "../connection/liveness.js";
import { type Compression, type ConnectionOptions, WebSocket } from "../connection/websocket.js";
import type { DeflateSettings } from "../deflate/index.js";
import { type AcceptedHandshake, type ExtensionOffer, HandshakeError, acceptDeflateResponse } from "../http/index.js";
import type { ConnectOptions } from "./connect.js";

/** What `connect()` worked out before opening: the same over HTTP/1.1 and HTTP/2. */
export interface Opening {
  target: URL;
  /** `wss://`. */
  secure: boolean;
  /** The host to connect to, an IPv6 address without its brackets, and the port. */
  host: string;
  port: number;
  options: ConnectOptions;
  connection: ConnectionOptions;
  timeoutMs: number;
  deflate: DeflateSettings | undefined;
  offer: ExtensionOffer | undefined;
  protocols: readonly string[] | undefined;
}

/**
 * The connection a server's accepting answer opens on `stream`: its permessage-deflate
 * parameters checked against the offer, the heartbeat started, `rest` (bytes that came
 * with the answer) read first.
 *
 * @throws HandshakeError when the server's permessage-deflate answer cannot be accepted.
 */
export function openWebSocket(stream: Duplex, accepted: AcceptedHandshake, opening: Opening, rest: Buffer, refuse: (message: string) => HandshakeError): WebSocket {
  let compression: Compression | undefined;
  const response = accepted.extensions[0];
  if (response !== undefined) {
    try {
      compression = { params: acceptDeflateResponse(response, opening.deflate!.policy), settings: opening.deflate! };
    } catch (error) {
      throw refuse((error as Error).message);
    }
  }
  const ws = new WebSocket(stream as never, opening.connection, accepted.protocol, accepted.extensionsHeader, compression);
  if (opening.options.heartbeat !== undefined) {
    const heartbeat = new Heartbeat(new Set([ws]), opening.options.heartbeat);
    void ws.closed.then(() => heartbeat.stop());
  }
  ws.start(rest);
  return ws;
}

/** The most of a refusal's body kept in `HandshakeError.body`. */
const MAX_ERROR_BODY = 64 * 1024;
/** How long a refusal's body is waited for once its head is in. */
const ERROR_BODY_WAIT_MS = 1_000;

/**
 * Reads what follows a refusal's head, up to its Content-Length and at most
 * `MAX_ERROR_BODY` bytes, until the server closes or a second passes, and resolves with
 * `error` carrying it.
 */
export function readBody(socket: Duplex, rest: Buffer, error: HandshakeError): Promise<HandshakeError> {
  const declared = Number(error.headers["content-length"]);
  const limit = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, MAX_ERROR_BODY) : MAX_ERROR_BODY;
  return new Promise((resolve) => {
    const parts = [rest];
    let length = rest.length;
    const done = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", done);
      socket.off("close", done);
      socket.on("error", ignore);
      socket.destroy();
      const body = Buffer.concat(parts).subarray(0, limit);
      resolve(new HandshakeError(error.message, error.status, error.headers, body));
    };
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      length += chunk.length;
      if (length >= limit) done();
    };
    const timer = setTimeout(done, ERROR_BODY_WAIT_MS);
    if (length >= limit) return done();
    socket.on("data", onData);
    socket.once("end", done);
    socket.once("close", done);
    socket.on("error", done);
  });
}


function ignore(): void {}
