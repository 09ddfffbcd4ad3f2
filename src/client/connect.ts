import { Buffer } from "node:buffer";
import type { ClientHttp2Session } from "node:http2";
import { type Socket, connect as netConnect } from "node:net";
import { type ConnectionOptions as TlsConnectionOptions, type SecureContextOptions, connect as tlsConnect } from "node:tls";
import { type HeartbeatOptions, checkHeartbeat } from "../connection/liveness.js";
import { checkLimit } from "../connection/limits.js";
import { ConnectionStats } from "../connection/stats.js";
import type { ConnectionOptions, WebSocket } from "../connection/websocket.js";
import { type PerMessageDeflateOptions, deflateSettings, zlibAvailable } from "../deflate/index.js";
import { resolveMaxPayload } from "../frame/index.js";
import {
  HandshakeError,
  ResponseHeadParser,
  buildClientRequest,
  buildExtendedConnect,
  checkUpgradeResponse,
  deflateOffer,
} from "../http/index.js";
import { connectOverHttp2 } from "./http2-connect.js";
import { type Opening, openWebSocket, readBody } from "./opening.js";
import { explainTlsError, tlsOptions } from "./tls-options.js";

/** Options of `connect`. Every limit has the server's default. */
export interface ConnectOptions {
  /**
   * Subprotocols to offer, in order of preference (one as a string, as the browser's
   * `WebSocket` takes it); `ws.protocol` is the one selected.
   */
  protocols?: readonly string[] | string;
  /**
   * More request headers, e.g. `{ Authorization: "Bearer ..." }`. A URL with credentials
   * (`ws://user:pass@host/`) sends them as `Authorization: Basic`, unless given here.
   */
  headers?: Readonly<Record<string, string>>;
  /** The `Origin` header, for servers that check it (browsers always send one). */
  origin?: string;
  /** Time allowed for the TCP (and TLS) connection and the server's 101. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Largest message accepted (inflated size too); larger ones fail with 1009. Default 16 MiB. */
  maxPayload?: number;
  /** Ping the server every `intervalMs`; drop it (1006) if it has not answered within `timeoutMs`. */
  heartbeat?: HeartbeatOptions;
  /**
   * Offer permessage-deflate (RFC 7692): `true` offers it as Chromium does
   * (`client_max_window_bits`); the options' `serverNoContextTakeover`,
   * `clientNoContextTakeover` and window bits are asked for in the offer. Default false.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Cancels connecting: `connect` rejects with the signal's reason. */
  signal?: AbortSignal;
  /** wss: the certificate authorities to trust instead of Node's defaults. */
  ca?: SecureContextOptions["ca"];
  /** wss: refuse a certificate that does not verify. Default true; false only for tests. */
  rejectUnauthorized?: boolean;
  /** wss: the name for SNI and certificate checks. Default: the URL's host name. */
  servername?: string;
  /** wss, mutual TLS: this client's certificate (PEM), for a server that asks for one. */
  cert?: SecureContextOptions["cert"];
  /** wss, mutual TLS: the private key of `cert` (PEM). */
  key?: SecureContextOptions["key"];
  /** wss, mutual TLS: the certificate and its key in one PKCS#12 file, instead of `cert` and `key`. */
  pfx?: SecureContextOptions["pfx"];
  /** wss, mutual TLS: the passphrase of `key` or `pfx`. */
  passphrase?: string;
  /**
   * wss: any other `tls.connect` option, e.g. `checkServerIdentity` to pin a certificate,
   * or `minVersion`. The options above win over the same ones here.
   */
  tls?: Omit<TlsConnectionOptions, "host" | "port" | "socket" | "path">;
  /** Time allowed for the server's side of the closing handshake. Default 5 s. */
  closeTimeoutMs?: number;
  /** Unread messages at which reading the socket stops. Default 1,024. */
  maxQueuedMessages?: number;
  /** Unread bytes at which reading the socket stops. Default 8 MiB. */
  maxQueuedBytes?: number;
  /** Unsent bytes above which `send()` returns false and pings wait to be answered (only the latest). Default 1 MiB. */
  sendHighWaterMark?: number;
  /** Unsent bytes past which the connection is failed with 1008. Default 64 MiB. */
  maxBufferedAmount?: number;
  /**
   * Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441) instead of an
   * HTTP/1.1 upgrade: `true` makes a connection for it (ALPN h2 over TLS; for `ws://`,
   * HTTP/2 without TLS), closed with the WebSocket; a `ClientHttp2Session` of your own
   * (`http2.connect(origin)`) carries it beside its other streams, and stays open. The
   * server must announce extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL).
   */
  http2?: boolean | ClientHttp2Session;
}

/**
 * Opens a WebSocket connection to `url` (`ws://` or `wss://`; `http://` and `https://`
 * mean the same, as in the browser's `WebSocket`) and resolves once the
 * server has accepted the handshake, with a `WebSocket` that has the server side's pull
 * API: `wait()`, `read()`, `send()`, `for await`, `close()`, `closed`...
 *
 * Rejects with `HandshakeError` when the server refuses (its status, headers and the start
 * of its body), answers with something a client must not accept (a wrong
 * `Sec-WebSocket-Accept`, an unoffered subprotocol or extension), redirects (redirects are
 * not followed), or does not answer within `handshakeTimeoutMs`; with the socket's error
 * when the connection fails (`ECONNREFUSED`, an untrusted certificate); with the signal's
 * reason when aborted.
 *
 * @example
 * ```ts
 * const ws = await connect("ws://127.0.0.1:8080/echo", { protocols: ["chat"] });
 * ws.send("hello");
 * console.log(await ws.wait()); // "hello"
 * ws.close();
 * ```
 */
export async function connect(url: string | URL, options: ConnectOptions = {}): Promise<WebSocket> {
  const target = new URL(url);
  // As the browser's WebSocket does (WHATWG WebSockets §3.1): http: means ws:, https: wss:.
  if (target.protocol === "http:") target.protocol = "ws:";
  else if (target.protocol === "https:") target.protocol = "wss:";
  if (target.protocol !== "ws:" && target.protocol !== "wss:") {
    throw new TypeError(`connect() takes a ws:// or wss:// URL (or http://, https://), got ${target.protocol}//`);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError("signal must be an AbortSignal, e.g. AbortSignal.timeout(10_000)");
  }
  if (target.hash !== "") throw new TypeError("A WebSocket URL has no fragment (RFC 6455 §3)");
  const { http2 } = options;
  if (http2 !== undefined && typeof http2 !== "boolean" && typeof (http2 as Partial<ClientHttp2Session> | null)?.request !== "function") {
    throw new TypeError("http2 must be true, false or a ClientHttp2Session (http2.connect(origin))");
  }
  if (typeof http2 === "object" && (http2.closed || http2.destroyed)) throw new TypeError("the HTTP/2 session given as http2 is closed");
  // Checked before connecting: a bad limit is the caller's error, not the connection's.
  const connection = connectionOptions(options);
  const timeoutMs = checkLimit("handshakeTimeoutMs", options.handshakeTimeoutMs ?? 10_000, "ms");
  const secure = target.protocol === "wss:";
  const deflate =
    options.perMessageDeflate && zlibAvailable() ? deflateSettings(options.perMessageDeflate) : undefined;
  const offer = deflate === undefined ? undefined : deflateOffer(deflate.policy);
  const protocols = offeredProtocols(options.protocols);
  const offered = {
    host: target.host,
    target: `${target.pathname || "/"}${target.search}`,
    protocols,
    extensions: offer === undefined ? undefined : [offer],
    origin: options.origin,
    headers: withCredentials(options.headers, target),
  };
  // URL keeps an IPv6 host in brackets; sockets take it without.
  const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(target.port || (secure ? 443 : 80));
  const opening: Opening = { target, secure, host, port, options, connection, timeoutMs, deflate, offer, protocols };
  if (http2 !== undefined && http2 !== false) {
    const fields = buildExtendedConnect({ ...offered, secure });
    options.signal?.throwIfAborted();
    return connectOverHttp2(opening, fields, http2);
  }
  const { key, request } = buildClientRequest(offered);
  options.signal?.throwIfAborted();

  const socket: Socket = secure ? tlsConnect(tlsOptions(options, host, port)) : netConnect({ host, port });
  socket.setNoDelay(true);

  return new Promise<WebSocket>((resolve, reject) => {
    const parser = new ResponseHeadParser();
    let settled = false;
    const timer = setTimeout(
      () => fail(new HandshakeError(`No WebSocket handshake response from ${target.host} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const cleanUp = (): void => {
      settled = true;
      clearTimeout(timer);
      socket.off(secure ? "secureConnect" : "connect", sendRequest);
      socket.off("data", onData);
      socket.off("error", fail);
      socket.off("close", onClose);
      options.signal?.removeEventListener("abort", onAbort);
    };
    const fail = (error: unknown): void => {
      if (settled) return;
      cleanUp();
      socket.on("error", ignore);
      socket.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(options.signal!.reason);
    const onClose = (): void => fail(new HandshakeError(`${target.host} closed the connection before answering the handshake`));
    const sendRequest = (): void => void socket.write(request);
    const onData = (chunk: Buffer): void => {
      let result;
      try {
        result = parser.push(chunk);
      } catch (error) {
        fail(new HandshakeError(`Not a valid HTTP response to the handshake: ${(error as Error).message}`));
        return;
      }
      if (result === null) return;
      const { head, rest } = result;
      let accepted;
      try {
        accepted = checkUpgradeResponse(head, key, { protocols, extensions: offer && [offer] });
      } catch (error) {
        if (!(error instanceof HandshakeError) || error.status === 101) return fail(error);
        // A refusal: keep the start of its body for the error.
        cleanUp();
        readBody(socket, rest, error).then(reject);
        return;
      }
      let ws: WebSocket;
      try {
        ws = openWebSocket(socket, accepted, opening, rest, (message) => new HandshakeError(message, head.status, head.headers));
      } catch (error) {
        return fail(error);
      }
      cleanUp();
      resolve(ws);
    };
    socket.once(secure ? "secureConnect" : "connect", sendRequest);
    socket.on("data", onData);
    socket.on("error", (error: Error) => fail(secure ? explainTlsError(error, target.host) : error));
    socket.on("close", onClose);
    options.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function offeredProtocols(protocols: ConnectOptions["protocols"]): readonly string[] | undefined {
  if (protocols === undefined || Array.isArray(protocols)) return protocols;
  if (typeof protocols === "string") return [protocols];
  throw new TypeError(`protocols must be a string or an array of strings, got ${protocols === null ? "null" : typeof protocols}`);
}

/**
 * The URL's credentials as `Authorization: Basic` (RFC 7617), as `ws` sends them; the
 * caller's own Authorization header wins.
 */
function withCredentials(headers: ConnectOptions["headers"], url: URL): ConnectOptions["headers"] {
  if (url.username === "" && url.password === "") return headers;
  if (Object.keys(headers ?? {}).some((name) => name.toLowerCase() === "authorization")) return headers;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return { ...headers, Authorization: `Basic ${Buffer.from(credentials).toString("base64")}` };
}

function connectionOptions(options: ConnectOptions): ConnectionOptions {
  if (options.heartbeat !== undefined) checkHeartbeat(options.heartbeat);
  return {
    role: "client",
    maxPayload: resolveMaxPayload(options.maxPayload),
    maxQueuedMessages: checkLimit("maxQueuedMessages", options.maxQueuedMessages ?? 1024, "limit"),
    maxQueuedBytes: checkLimit("maxQueuedBytes", options.maxQueuedBytes ?? 8 * 1024 * 1024, "limit"),
    sendHighWaterMark: checkLimit("sendHighWaterMark", options.sendHighWaterMark ?? 1024 * 1024, "limit"),
    maxBufferedAmount: checkLimit("maxBufferedAmount", options.maxBufferedAmount ?? 64 * 1024 * 1024, "limit"),
    closeTimeoutMs: checkLimit("closeTimeoutMs", options.closeTimeoutMs ?? 5_000, "ms"),
    answerAppPings: false,
    stats: new ConnectionStats(),
  };
}

function ignore(): void {}
