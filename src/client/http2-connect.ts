import { Buffer } from "node:buffer";
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from "node:http2";
import type { WebSocket } from "../connection/websocket.js";
import { HandshakeError, checkExtendedConnectResponse } from "../http/index.js";
import { nodeHttp2 } from "../http/node-http2.js";
import { type Opening, openWebSocket, readBody } from "./opening.js";
import { explainTlsError, tlsOptions } from "./tls-options.js";

const NOTHING_YET = Buffer.alloc(0);

/**
 * `connect()` over HTTP/2 (RFC 8441): the handshake is an extended CONNECT on a stream of
 * `session` (made here when `true`, and closed with the WebSocket), answered 200; the
 * stream then carries the frames, masked as over TCP.
 */
export function connectOverHttp2(opening: Opening, fields: Record<string, string>, session: true | ClientHttp2Session): Promise<WebSocket> {
  const { target, secure, host, port, options, timeoutMs, offer, protocols } = opening;
  const own = session === true;
  const connection: ClientHttp2Session = own
    ? nodeHttp2().connect(`${secure ? "https" : "http"}://${target.host}`, secure ? tlsOptions(options, host, port, ["h2"]) : {})
    : session;
  if (own) connection.on("error", () => {}); // reported through the stream or the handshake

  return new Promise<WebSocket>((resolve, reject) => {
    let stream: ClientHttp2Stream | undefined;
    let settled = false;
    const timer = setTimeout(
      () => fail(new HandshakeError(`No answer to the WebSocket's extended CONNECT from ${target.host} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    // The session is watched only until the stream exists: a session of the caller's may
    // carry many handshakes at once, and the stream reports the session's end itself.
    const unwatchSession = (): void => {
      connection.off("remoteSettings", onSettings);
      connection.off("error", onSessionError);
      connection.off("close", onSessionClose);
    };
    const cleanUp = (): void => {
      settled = true;
      clearTimeout(timer);
      unwatchSession();
      options.signal?.removeEventListener("abort", onAbort);
    };
    const fail = (error: unknown): void => {
      if (settled) return;
      cleanUp();
      stream?.close(nodeHttp2().constants.NGHTTP2_CANCEL);
      if (own) connection.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(options.signal!.reason);
    const onSessionError = (error: Error): void => fail(secure ? explainTlsError(error, target.host, "h2") : error);
    const onSessionClose = (): void => fail(new HandshakeError(`${target.host} closed the HTTP/2 connection before answering the handshake`));
    const onSettings = (): void => {
      if (stream !== undefined) return;
      // RFC 8441 §3: a client uses :protocol only once the server has allowed it.
      if (!connection.remoteSettings.enableConnectProtocol) {
        fail(new HandshakeError(`${target.host} does not take WebSockets over HTTP/2: its SETTINGS do not enable extended CONNECT (RFC 8441 §3)`));
        return;
      }
      if (own && secure && (connection.socket as { alpnProtocol?: string | false }).alpnProtocol !== "h2") {
        fail(new HandshakeError(`${target.host} did not agree to HTTP/2 (ALPN h2)`));
        return;
      }
      let opened: ClientHttp2Stream;
      try {
        opened = connection.request(fields);
      } catch (error) {
        return fail(error);
      }
      unwatchSession();
      stream = opened;
      opened.on("error", onStreamError);
      opened.once("close", onStreamClose);
      opened.once("response", (headers: IncomingHttpHeaders) => onResponse(opened, headers));
    };
    const onStreamClose = (): void => fail(new HandshakeError(`${target.host} closed the stream before answering the handshake`));
    // A stream reset before the answer (RST_STREAM: REFUSED_STREAM, ENHANCE_YOUR_CALM when
    // the server counts too many streams open) is a handshake that failed.
    const onStreamError = (error: Error): void => fail(new HandshakeError(`${target.host} reset the stream before answering the handshake: ${error.message}`));
    const onResponse = (opened: ClientHttp2Stream, headers: IncomingHttpHeaders): void => {
      let accepted;
      try {
        accepted = checkExtendedConnectResponse(headers, { protocols, extensions: offer && [offer] });
      } catch (error) {
        if (!(error instanceof HandshakeError)) return fail(error);
        // A refusal: keep the start of its body for the error.
        cleanUp();
        readBody(opened, NOTHING_YET, error).then((withBody) => {
          if (own) connection.close();
          reject(withBody);
        });
        return;
      }
      let ws: WebSocket;
      try {
        ws = openWebSocket(opened, accepted, opening, NOTHING_YET, (message) => new HandshakeError(message, Number(headers[":status"]), {}));
      } catch (error) {
        return fail(error);
      }
      cleanUp();
      opened.off("close", onStreamClose);
      opened.off("error", onStreamError);
      if (own) void ws.closed.then(() => connection.close());
      resolve(ws);
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    // A session of the caller's may have its server's SETTINGS already.
    if (!own && connection.remoteSettings.enableConnectProtocol) {
      onSettings();
      return;
    }
    connection.on("error", onSessionError);
    connection.on("close", onSessionClose);
    connection.on("remoteSettings", onSettings);
  });
}
