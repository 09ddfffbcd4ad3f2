import type { IncomingMessage } from "node:http";
import type { ServerHttp2Stream } from "node:http2";
import { type AddressInfo, type Server as NetServer, type Socket, createServer as createNetServer } from "node:net";
import type { Duplex } from "node:stream";
import type { TlsOptions } from "node:tls";
import { CloseCode, resolveMaxPayload } from "../frame/index.js";
import { type DeflateSettings, type PerMessageDeflateOptions, deflateSettings, zlibAvailable } from "../deflate/index.js";
import {
  HttpError,
  type Http2RequestHeaders,
  type ExtensionNegotiator,
  type ExtensionOffer,
  type ProtocolSelector,
  type RequestHead,
  RequestHeadParser,
  buildResponse,
  buildUpgradeResponse,
  createHeaderFields,
  errorResponse,
  formatExtensions,
  http2RequestHead,
  PERMESSAGE_DEFLATE,
  isExtendedConnect,
  isUpgradeRequest,
  negotiateDeflate,
  parseRequestTarget,
  selectProtocol,
  type WebSocketOffers,
  validateExtendedConnect,
  validateUpgradeRequest,
} from "../http/index.js";
import { ConnectionClosedError } from "../connection/errors.js";
import {
  type BroadcastOptions,
  type BroadcastReport,
  Group,
  type GroupOptions,
  GroupRegistry,
  type MembershipWatcher,
  deliver,
} from "./group.js";
import { Heartbeat, type HeartbeatOptions, IdleTimeout, pausedKeepAliveMs } from "../connection/liveness.js";
import { type LimitKind, checkLimit } from "../connection/limits.js";
import type { BinaryData } from "../frame/buffer-view.js";
import { lingerUntilPeerEnds } from "./linger.js";
import { ConnectionStats } from "../connection/stats.js";
import { TlsHandshake } from "./tls-handshake.js";
import { Http2Sessions } from "./http2-sessions.js";
import { HTTP2_PREFACE, NOTHING_YET, http2Acceptance, http2Peer, respondHttp2, respondOnHttp2Stream } from "./http2-stream.js";
import { type UpgradedRequest, type UserId, WsRequest } from "./request.js";
import { type Authorizer, type HttpResult, type OriginPolicy, type Route, type RouteOptions, checkPolicies, httpAnswer, isRoute } from "./routes.js";
import { type Compression, type ConnectionOptions, ReadyState, WebSocket } from "../connection/websocket.js";

/** Server options. Every limit has a default; see the README's "Limits and defaults". */
export interface ServerOptions {
  /** Largest frame and largest message, in bytes; larger ones fail with 1009. Default 16 MiB. */
  maxPayload?: number;
  /** Largest request head in bytes; larger ones get 431. Default 16 KiB. */
  maxHeaderSize?: number;
  /**
   * Time allowed for the request head to arrive; then the socket is closed (408). An
   * `authorize` hook has as long again to settle; then the answer is 503 (and `onError`
   * is told). Default 10 s.
   */
  handshakeTimeoutMs?: number;
  /** Time allowed for the peer's side of the closing handshake. Default 5 s. */
  closeTimeoutMs?: number;
  /** Open WebSocket connections at most; more get 503 before the upgrade. Default 100,000. */
  maxConnections?: number;
  /** Unread messages per connection at which the server stops reading it. Default 1,024. */
  maxQueuedMessages?: number;
  /** Unread bytes per connection at which the server stops reading it. Default 8 MiB. */
  maxQueuedBytes?: number;
  /**
   * Unsent bytes per connection above which `send()` returns false, and the peer's pings
   * are answered only once it has read enough (only the latest, RFC 6455 §5.5.3). Default 1 MiB.
   */
  sendHighWaterMark?: number;
  /** Unsent bytes per connection past which it is failed with 1008. Default 64 MiB. */
  maxBufferedAmount?: number;
  /**
   * Close (1001) connections that have sent nothing for this long. Default 0: never. A
   * connection paused by backpressure is not idle; its peer, if it vanishes, is dropped
   * (1006) about `ceil(idleTimeoutMs / 1 s) + 10 s` and a check period later (TCP
   * keepalive; `HeartbeatOptions` tells why, and the worst case).
   */
  idleTimeoutMs?: number;
  /**
   * Ping every connection and drop those that stop answering. Default: off. A connection
   * paused by backpressure is watched with TCP keepalive instead (`HeartbeatOptions`).
   */
  heartbeat?: HeartbeatOptions;
  /** Default for every route's `protocols`. */
  protocols?: ProtocolSelector;
  /**
   * permessage-deflate (RFC 7692): `true` for the defaults, or the settings; each route
   * may override it. The defaults keep no compression state between messages, so an idle
   * connection holds no zlib memory. Default false: messages are not compressed.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Negotiates other extensions: what it accepts is confirmed in the 101 after
   * permessage-deflate. The default accepts none.
   */
  extensions?: ExtensionNegotiator;
  /**
   * Serve `wss://` (and `https://` for the plain HTTP routes) through `node:tls`: the key,
   * certificate and any other `tls.createServer` option, meaning what it means there
   * (`requestCert: true` with `ca` refuses a client whose certificate does not verify,
   * unless `rejectUnauthorized: false`; `req.tls` shows it). A plain HTTP request on the
   * TLS port gets a 400 that says so; a TLS handshake must end within `handshakeTimeoutMs`.
   */
  tls?: TlsOptions;
  /**
   * Speak HTTP/2 too: with `tls`, to clients that offer it (ALPN `h2`, as browsers do);
   * without, to clients that open with the HTTP/2 preface (prior knowledge, as proxies
   * and non-browser clients do; browsers speak HTTP/2 over TLS only). Plain HTTP routes
   * are then served over HTTP/2, and WebSockets open as streams (RFC 8441): a browser
   * does so for `wss://` to a page that came over HTTP/2. HTTP/1.1 clients are served as
   * before, on the same port. Default false.
   */
  http2?: boolean;
  /** Default for every route's `authorize`. */
  authorize?: Authorizer;
  /** Default for every route's `allowOrigin`. */
  allowOrigin?: OriginPolicy;
  /**
   * Called with an error thrown by a handler or hook (the connection concerned is closed
   * with 1011 or answered with 500), or by a membership watcher (`watchMembership`).
   * Default: print it to stderr.
   */
  onError?: (error: unknown, req: WsRequest | undefined) => void;
}

type Limit =
  | "maxHeaderSize"
  | "handshakeTimeoutMs"
  | "closeTimeoutMs"
  | "maxConnections"
  | "maxQueuedMessages"
  | "maxQueuedBytes"
  | "sendHighWaterMark"
  | "maxBufferedAmount";

const LIMIT_KINDS: Record<Limit, LimitKind> = {
  maxHeaderSize: "size",
  handshakeTimeoutMs: "ms",
  closeTimeoutMs: "ms",
  maxConnections: "limit",
  maxQueuedMessages: "limit",
  maxQueuedBytes: "limit",
  sendHighWaterMark: "limit",
  maxBufferedAmount: "limit",
};

const DEFAULTS: Required<Pick<ServerOptions, Limit>> = {
  maxHeaderSize: 16 * 1024,
  handshakeTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  maxConnections: 100_000,
  maxQueuedMessages: 1024,
  maxQueuedBytes: 8 * 1024 * 1024,
  sendHighWaterMark: 1024 * 1024,
  maxBufferedAmount: 64 * 1024 * 1024,
};

/**
 * A WebSocket server on `node:net`. Register routes, then `listen`; or attach it to an
 * existing `node:http` server with `handleUpgrade`.
 *
 * @example
 * ```ts
 * const server = createServer();
 * server.route("/echo", requireWebSocket(async ({ websocket }) => {
 *   for await (const message of websocket) websocket.send(message);
 * }));
 * await server.listen(8080);
 * ```
 */
export class WsrawServer {
  /** Routes by path; the path is kept too, so a request can share its string. */
  private readonly routes = new Map<string, { path: string; route: Route }>();
  private readonly openConnections = new Set<WebSocket>();
  /**
   * Sockets before or during the handshake, and plain HTTP exchanges, each with the 'close'
   * listener that forgets it (removed at the upgrade: an open connection keeps no closure).
   */
  private readonly pendingSockets = new Map<Duplex, () => void>();
  /** HTTP/2 streams given to `handleHttp2Stream`: answered with HTTP/2 headers, not HTTP/1.1 bytes. */
  private readonly http2Streams = new WeakSet<Duplex>();
  private readonly membershipWatchers = new Set<MembershipWatcher>();
  private readonly groupRegistry = new GroupRegistry(this.membershipWatchers);
  private readonly userConnections = new Map<UserId, Set<WebSocket>>();
  private readonly connectionOptions: ConnectionOptions;
  /** The same with `answerAppPings`: shared by the connections, not copied for each. */
  private readonly connectionOptionsAnsweringPings: ConnectionOptions;
  private readonly options: ServerOptions & typeof DEFAULTS;
  private readonly heartbeat: Heartbeat | undefined;
  private readonly idleTimeout: IdleTimeout | undefined;
  private netServer: NetServer | undefined;
  private closing = false;
  /** Each route's permessage-deflate settings, resolved once; undefined when off. */
  private readonly deflateByRoute = new WeakMap<Route, DeflateSettings | undefined>();
  /** The server's own, for routes that do not say. */
  private readonly deflate: DeflateSettings | undefined;
  /** Set when serving TLS. */
  private readonly tls: TlsHandshake | undefined;
  /** Set when serving HTTP/2 (`http2: true`). */
  private readonly http2: Http2Sessions | undefined;
  /** What the connections have done (shared by all of them), and the handshakes. */
  private readonly counters = new ConnectionStats();
  private handshakesAccepted = 0;
  private readonly handshakesRefused = new Map<number, number>();
  /** Bound to each upgraded request by `runHandler`: one function per server, not a closure per connection. */
  private readonly handlerSettled = settledHandlerListener(this);

  constructor(options: ServerOptions = {}) {
    this.options = { ...DEFAULTS, ...withoutUndefined(options) };
    const o = this.options;
    for (const [name, kind] of Object.entries(LIMIT_KINDS)) checkLimit(name, o[name as Limit], kind);
    checkPolicies(o, "createServer()");
    for (const name of ["onError", "extensions"] as const) {
      if (o[name] !== undefined && typeof o[name] !== "function") throw new TypeError(`createServer(): ${name} must be a function`);
    }
    this.connectionOptions = {
      role: "server",
      maxPayload: resolveMaxPayload(o.maxPayload),
      maxQueuedMessages: o.maxQueuedMessages,
      maxQueuedBytes: o.maxQueuedBytes,
      sendHighWaterMark: o.sendHighWaterMark,
      maxBufferedAmount: o.maxBufferedAmount,
      closeTimeoutMs: o.closeTimeoutMs,
      answerAppPings: false,
      stats: this.counters,
      pausedKeepAliveMs: pausedKeepAliveMs(o.heartbeat, o.idleTimeoutMs),
      // Hears of every connection's end: one object for the server, not a closure per connection.
      owner: { connectionClosed: (ws) => this.forgetConnection(ws) },
    };
    this.connectionOptionsAnsweringPings = { ...this.connectionOptions, answerAppPings: true };
    this.deflate = resolveDeflate(o.perMessageDeflate);
    if (o.http2 !== undefined && typeof o.http2 !== "boolean") throw new TypeError(`http2 must be a boolean, got ${typeof o.http2}`);
    if (o.tls !== undefined) this.tls = new TlsHandshake(o.tls, o.handshakeTimeoutMs, o.http2 ? ["h2", "http/1.1"] : ["http/1.1"]);
    if (o.http2) {
      this.http2 = new Http2Sessions({ idleTimeoutMs: o.handshakeTimeoutMs, maxHeaderSize: o.maxHeaderSize }, (stream, headers) =>
        this.serveHttp2Stream(stream, headers),
      );
    }
    if (o.heartbeat) this.heartbeat = new Heartbeat(this.openConnections, o.heartbeat);
    if (o.idleTimeoutMs !== undefined && o.idleTimeoutMs !== 0) this.idleTimeout = new IdleTimeout(this.openConnections, o.idleTimeoutMs);
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.openConnections.size;
  }

  /**
   * The counters people watch in production, since the server was created: a snapshot
   * that `JSON.stringify` takes as it is (the demo serves it at `/stats`).
   */
  stats(): ServerStats {
    const c = this.counters;
    return {
      connections: this.openConnections.size,
      handshakes: { accepted: this.handshakesAccepted, refused: Object.fromEntries(this.handshakesRefused) },
      messages: { in: c.messagesIn, out: c.messagesOut },
      bytes: { in: c.bytesIn, out: c.bytesOut },
      closeCodes: Object.fromEntries(c.closeCodes),
      backpressurePauses: c.backpressurePauses,
      slowMembersSkipped: c.slowMembersSkipped,
    };
  }

  /** The open WebSocket connections. */
  get clients(): ReadonlySet<WebSocket> {
    return this.openConnections;
  }

  /** Groups that currently have members, by name. */
  get groups(): ReadonlyMap<string, Group> {
    return this.groupRegistry.handles;
  }

  /**
   * A handle on the group called `name`. Membership belongs to the name: every handle on
   * it sees the same members, and while it has members this returns the same handle. A
   * name is forgotten when its last member leaves, so names that come from users (chat
   * rooms) cannot pile up. `options` (the slow-member policy of broadcasts made through
   * the handle) give a new handle on the same members.
   */
  group(name: string, options?: GroupOptions): Group {
    const existing = options === undefined ? this.groupRegistry.handles.get(name) : undefined;
    return existing ?? new Group(name, this.groupRegistry, options);
  }

  /**
   * Sends `data` to every open connection (except `options.except`), encoded once. Members
   * over the send high-water mark are skipped and counted.
   */
  broadcast(data: string | BinaryData, options: BroadcastOptions = {}): BroadcastReport {
    return deliver(data, this.openConnections, options.except, "skip", this.options.sendHighWaterMark);
  }

  /**
   * Sends `data` to every open connection of a user (several tabs or devices), as set by
   * `req.user` in the `authorize` hook. `delivered` is 0 when the user has none.
   */
  sendToUser(user: UserId, data: string | BinaryData): BroadcastReport {
    const connections = this.userConnections.get(user);
    if (connections === undefined) return { delivered: 0, skipped: 0, closed: 0 };
    return deliver(data, connections, undefined, "skip", this.options.sendHighWaterMark);
  }

  /** The open connections of `user`. */
  connectionsOf(user: UserId): ReadonlySet<WebSocket> {
    return this.userConnections.get(user) ?? NO_CONNECTIONS;
  }

  /**
   * Tells `watcher` when a group gains its first member or loses its last, and when a
   * user's first connection opens or last one closes; it is told at once of the groups and
   * users present now. Returns the function that stops it. This is how an adapter such as
   * `wsraw/redis` knows which channels this server must listen to.
   *
   * An exception from the watcher goes to `onError`: it is called from the server's own
   * bookkeeping (a connection's end, from its socket's 'close' event), which it must
   * neither interrupt nor crash.
   */
  watchMembership(watcher: MembershipWatcher): () => void {
    const tell = (call: () => void): void => {
      try {
        call();
      } catch (error) {
        this.reportError(error, undefined);
      }
    };
    const guarded: MembershipWatcher = {
      groupOccupied: (name) => tell(() => watcher.groupOccupied?.(name)),
      groupVacated: (name) => tell(() => watcher.groupVacated?.(name)),
      userOnline: (user) => tell(() => watcher.userOnline?.(user)),
      userOffline: (user) => tell(() => watcher.userOffline?.(user)),
    };
    this.membershipWatchers.add(guarded);
    for (const name of this.groupRegistry.handles.keys()) guarded.groupOccupied!(name);
    for (const user of this.userConnections.keys()) guarded.userOnline!(user);
    return () => {
      this.membershipWatchers.delete(guarded);
    };
  }

  /**
   * Serves `path` (exact match, without the query string) with `route`. The path `"*"`
   * serves every path that has no route of its own.
   */
  route(path: string, route: Route): this {
    if (typeof path !== "string" || (!path.startsWith("/") && path !== "*")) {
      throw new TypeError(`route path must start with "/" or be "*", got ${JSON.stringify(path)}`);
    }
    if (!isRoute(route)) {
      throw new TypeError("server.route() takes a route made by requireWebSocket(), acceptWebSocket() or httpOnly()");
    }
    const own = route.options.perMessageDeflate;
    this.deflateByRoute.set(route, own === undefined ? this.deflate : resolveDeflate(own));
    this.routes.set(path, { path, route });
    return this;
  }

  /**
   * Starts listening on a TCP port (0 picks a free one). Resolves with the bound address.
   * The host defaults to 127.0.0.1, this machine only: give `"::"` (or `"0.0.0.0"`) to be
   * reachable from others.
   */
  listen(port: number, host = "127.0.0.1"): Promise<AddressInfo> {
    // Closing stops the heartbeat and refuses upgrades for good: a closed server stays closed.
    if (this.closing) return Promise.reject(new Error("the server was closed; createServer() makes a new one"));
    if (this.netServer !== undefined) return Promise.reject(new Error("server is already listening"));
    const netServer = createNetServer({ noDelay: true }, (socket) => {
      if (this.tls !== undefined) this.acceptTlsSocket(socket, this.tls);
      else if (this.http2 !== undefined) this.acceptPlainHttp2(socket, this.http2);
      else this.acceptSocket(socket);
    });
    this.netServer = netServer;
    return new Promise((resolve, reject) => {
      netServer.once("error", reject);
      netServer.listen(port, host, () => {
        netServer.off("error", reject);
        resolve(netServer.address() as AddressInfo);
      });
    });
  }

  /** The address the server listens on, once `listen` has resolved. */
  address(): AddressInfo | undefined {
    return (this.netServer?.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Takes over an upgrade request from a `node:http` server, so wsraw can share a port
   * with Express, Fastify or any `http.Server`:
   * `httpServer.on("upgrade", (req, socket, head) => wsraw.handleUpgrade(req, socket, head))`.
   * Unknown paths get 404; the socket is always answered and never left hanging.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.trackPendingSocket(socket);
    let requestHead: RequestHead;
    try {
      requestHead = headFromIncomingMessage(req);
    } catch (error) {
      this.refuse(socket, error, undefined);
      return;
    }
    this.dispatch(socket, requestHead, head);
  }

  /**
   * WebSockets over HTTP/2 (RFC 8441) on a `node:http2` server of your own: an extended
   * CONNECT stream (`:method` CONNECT, `:protocol` websocket) becomes a connection on its
   * route, as an upgrade would (`authorize`, origins, subprotocols, permessage-deflate),
   * answered `:status` 200 instead of 101; the stream then carries the frames. Returns
   * false, touching nothing, for any other request: serve it yourself. Browsers use it for
   * `wss://` to an origin whose page came over HTTP/2, once the server announces it with
   * `settings: { enableConnectProtocol: true }`.
   *
   * @example
   * ```ts
   * const h2 = http2.createSecureServer({ key, cert, allowHTTP1: true, settings: { enableConnectProtocol: true } });
   * h2.on("stream", (stream, headers) => {
   *   if (!server.handleHttp2Stream(stream, headers)) stream.respond({ ":status": 404 }), stream.end();
   * });
   * h2.on("upgrade", (req, socket, head) => server.handleUpgrade(req, socket, head)); // HTTP/1.1 clients
   * ```
   *
   * A server made with a request listener (`http2.createSecureServer(options, app)`) answers
   * every CONNECT itself (405) unless it has a `'connect'` listener; hand the stream over there:
   * ```ts
   * h2.on("connect", (req, res) => {
   *   if (!server.handleHttp2Stream(req.stream, req.headers)) res.writeHead(405).end();
   * });
   * ```
   */
  handleHttp2Stream(stream: ServerHttp2Stream, headers: Http2RequestHeaders): boolean {
    if (!isExtendedConnect(headers)) return false;
    if (stream.headersSent) {
      // The usual cause: a server made with a request listener, whose compatibility layer
      // answers every CONNECT itself unless the server has a 'connect' listener.
      this.reportError(
        new Error(
          "handleHttp2Stream: the stream was answered before wsraw saw it. A node:http2 server made with a request listener " +
            "(http2.createSecureServer(options, app)) answers every CONNECT with 405 unless it has a 'connect' listener: " +
            "call server.handleHttp2Stream(req.stream, req.headers) from h2.on(\"connect\", (req, res) => ...) instead",
        ),
        undefined,
      );
      return true;
    }
    const request = this.http2Request(stream, headers, true);
    if (request === undefined) return true;
    const { req, route } = request;
    try {
      if (route === undefined || route.kind === "http") throw new HttpError(404, `No WebSocket route for ${req.path}`);
      this.upgrade(stream, req, route, NOTHING_YET, validateExtendedConnect(req.head));
    } catch (error) {
      this.refuse(stream, error, req);
    }
    return true;
  }

  /**
   * Stops accepting connections, closes every open connection with 1001, and resolves once
   * all are closed (each waits at most `closeTimeoutMs` for its peer).
   */
  async close(): Promise<void> {
    this.closing = true;
    this.heartbeat?.stop();
    this.idleTimeout?.stop();
    const stopped = new Promise<void>((resolve) => {
      if (this.netServer === undefined || !this.netServer.listening) resolve();
      else this.netServer.close(() => resolve());
    });
    for (const socket of this.pendingSockets.keys()) socket.destroy();
    const closing = [...this.openConnections].map((ws) => {
      ws.close(CloseCode.GoingAway, "server shutting down");
      return ws.closed;
    });
    await Promise.all(closing);
    // GOAWAY only now: Firefox fails (1006) every WebSocket of a connection that has
    // received one, even the streams GOAWAY lets finish (RFC 9113 §6.8).
    this.http2?.close();
    await stopped;
  }

  // ---- The opening handshake ----

  private acceptTlsSocket(socket: Socket, tls: TlsHandshake): void {
    this.trackPendingSocket(socket);
    tls.start(
      socket,
      (secure) => {
        // From here the TLS socket stands for the connection; its TCP socket's errors reach it.
        this.untrackPendingSocket(socket);
        if (this.http2 !== undefined && secure.alpnProtocol === "h2") this.http2.accept(secure);
        else this.acceptSocket(secure);
      },
      (plain) => {
        plain.resume();
        this.refuse(plain, new HttpError(400, "This port speaks TLS: connect with wss:// (or https://)"), undefined);
      },
    );
  }

  /**
   * With `http2` on a plain port: a connection that opens with the HTTP/2 preface (RFC 9113
   * §3.3, prior knowledge: proxies such as Envoy speak it to their upstreams) is HTTP/2's;
   * any other is read as HTTP/1.1, from its first byte.
   */
  private acceptPlainHttp2(socket: Socket, http2: Http2Sessions): void {
    this.trackPendingSocket(socket);
    let seen: Buffer = NOTHING_YET;
    // A peer that sends nothing, or only the start of the preface, is let go in the time
    // an HTTP/1.1 request head has.
    const timer = setTimeout(() => socket.destroy(), this.options.handshakeTimeoutMs);
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const length = Math.min(seen.length, HTTP2_PREFACE.length);
      const preface = seen.subarray(0, length).equals(HTTP2_PREFACE.subarray(0, length));
      if (preface && seen.length < HTTP2_PREFACE.length) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      socket.unshift(seen);
      if (preface) {
        this.untrackPendingSocket(socket);
        http2.accept(socket);
      } else {
        this.readRequestHead(socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.once("close", () => clearTimeout(timer));
  }

  private acceptSocket(socket: Socket): void {
    this.trackPendingSocket(socket);
    this.readRequestHead(socket);
  }

  /** Reads a tracked socket's request head, then dispatches it; refuses a bad or late one. */
  private readRequestHead(socket: Socket): void {
    const parser = new RequestHeadParser({ maxHeaderSize: this.options.maxHeaderSize });
    const timer = setTimeout(() => {
      // Stop parsing: a head completed after the 408 must not be upgraded on the ended socket.
      done();
      this.refuse(socket, new HttpError(408, "The request head did not arrive in time"), undefined);
    }, this.options.handshakeTimeoutMs);
    // Every listener of this scope is removed once the head is in, so that nothing keeps
    // the head parser and the timer alive for the life of the connection.
    const done = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", done);
    };
    const onData = (chunk: Buffer): void => {
      let result;
      try {
        result = parser.push(chunk);
      } catch (error) {
        done();
        this.refuse(socket, error, undefined);
        return;
      }
      if (result === null) return;
      done();
      this.dispatch(socket, result.head, result.rest);
    };
    socket.on("data", onData);
    socket.once("close", done);
  }

  /** Routes a complete request head: plain HTTP, or the upgrade. */
  private dispatch(socket: Duplex, head: RequestHead, rest: Buffer): void {
    const upgrade = isUpgradeRequest(head);
    const { route, path } = this.routeFor(head.path);
    const req = new WsRequest(head, upgrade, socket as Partial<Socket>, path);
    try {
      if (route === undefined) throw new HttpError(404, `No route for ${head.path}`);
      if (upgrade && route.kind !== "http") {
        this.upgrade(socket, req, route, rest, validateUpgradeRequest(head));
        return;
      }
      if (route.kind === "require") {
        // RFC 6455 §4.2.2 / RFC 9110 §15.5.22: tell the client what this URL speaks.
        throw new HttpError(426, "This URL only serves WebSocket connections", {
          Upgrade: "websocket",
          "Sec-WebSocket-Version": "13",
        });
      }
      void this.serveHttp(socket, req, route);
    } catch (error) {
      this.refuse(socket, error, req);
    }
  }

  /** A stream of this server's own HTTP/2 connections (`http2: true`): a WebSocket, or plain HTTP. */
  private serveHttp2Stream(stream: ServerHttp2Stream, headers: Http2RequestHeaders): void {
    if (this.handleHttp2Stream(stream, headers)) return;
    const request = this.http2Request(stream, headers, false);
    if (request === undefined) return;
    const { req, route } = request;
    try {
      if (route === undefined) throw new HttpError(404, `No route for ${req.path}`);
      // HTTP/2 has no Upgrade, so no 426 (RFC 9110 §15.5.22 needs one): a plain 400.
      if (route.kind === "require") throw new HttpError(400, "This URL only serves WebSocket connections");
      void this.serveHttp(stream, req, route);
    } catch (error) {
      this.refuse(stream, error, req);
    }
  }

  /**
   * An HTTP/2 stream's request and route, the stream tracked until it closes or becomes a
   * connection; undefined when its header fields are refused (answered on the stream).
   */
  private http2Request(
    stream: ServerHttp2Stream,
    headers: Http2RequestHeaders,
    upgrade: boolean,
  ): { req: WsRequest; route: Route | undefined } | undefined {
    this.http2Streams.add(stream);
    this.trackPendingSocket(stream);
    let head: RequestHead;
    try {
      head = http2RequestHead(headers);
    } catch (error) {
      this.refuse(stream, error, undefined);
      return undefined;
    }
    const { route, path } = this.routeFor(head.path);
    return { req: new WsRequest(head, upgrade, http2Peer(stream), path), route };
  }

  /**
   * The route for a path (or the `*` route), and the route's own string for an exact
   * match: a request held for a connection's life keeps no copy of its path.
   */
  private routeFor(path: string): { route: Route | undefined; path: string | undefined } {
    const exact = this.routes.get(path);
    return { route: (exact ?? this.routes.get("*"))?.route, path: exact?.path };
  }

  private async serveHttp(socket: Duplex, req: WsRequest, route: Exclude<Route, { kind: "require" }>): Promise<void> {
    // Hold the bytes that follow the head while the handler runs.
    socket.pause();
    try {
      const result = await route.handler(req);
      const isHead = req.method === "HEAD";
      if (this.http2Streams.has(socket)) respondHttp2(socket as ServerHttp2Stream, result, isHead);
      else this.respond(socket, toResponse(result, isHead));
    } catch (error) {
      this.refuse(socket, error, req);
    }
  }

  /**
   * Negotiates what a validated handshake offers (with its key over HTTP/1.1; without one
   * over HTTP/2), then opens the connection: at once, or after the `authorize` hook when
   * there is one. Throws HttpError for a request that is refused.
   */
  private upgrade(socket: Duplex, req: WsRequest, route: Route, rest: Buffer, handshake: WebSocketOffers & { key?: string }): void {
    const head = req.head;
    const routeOptions: RouteOptions = route.options;
    if (this.closing) throw new HttpError(503, "The server is shutting down");
    if (this.openConnections.size >= this.options.maxConnections) {
      throw new HttpError(503, "Too many open connections; try again later", { "Retry-After": "5" });
    }
    const allowOrigin = routeOptions.allowOrigin ?? this.options.allowOrigin;
    if (allowOrigin !== undefined && !originAllowed(allowOrigin, handshake.origin, req)) {
      throw new HttpError(403, `Origin ${handshake.origin ?? "(none)"} is not allowed`);
    }
    const accepted: ExtensionOffer[] = [];
    let compression: Compression | undefined;
    const deflate = this.deflateByRoute.get(route);
    const agreed = deflate === undefined ? undefined : negotiateDeflate(handshake.extensions, deflate.policy);
    if (agreed !== undefined) {
      compression = { params: agreed.params, settings: deflate! };
      accepted.push(agreed.response);
    }
    if (this.options.extensions !== undefined) {
      // permessage-deflate is this server's to negotiate: RSV1 has one meaning.
      for (const extension of this.options.extensions(handshake.extensions, head)) {
        if (extension.name !== PERMESSAGE_DEFLATE) accepted.push(extension);
      }
    }
    const negotiated: Negotiated = {
      key: handshake.key,
      protocol: selectProtocol(handshake.protocols, routeOptions.protocols ?? this.options.protocols, head),
      extensions: accepted.length === 0 ? "" : formatExtensions(accepted),
      compression,
    };
    const authorize = routeOptions.authorize ?? this.options.authorize;
    if (authorize === undefined) this.open(socket, req, route, rest, negotiated);
    else void this.authorizeThenOpen(authorize, socket, req, route, rest, negotiated);
  }

  private async authorizeThenOpen(
    authorize: Authorizer,
    socket: Duplex,
    req: WsRequest,
    route: Route,
    rest: Buffer,
    negotiated: Negotiated,
  ): Promise<void> {
    // Hold the bytes that follow the head while the hook runs.
    socket.pause();
    // The hook has the handshake's time (`handshakeTimeoutMs`) again: one that never
    // settles must not hold the socket, and the client waiting for an answer, forever.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const ms = this.options.handshakeTimeoutMs;
        this.reportError(new Error(`authorize did not settle within handshakeTimeoutMs (${ms} ms)`), req);
        reject(new HttpError(503, "The connection could not be authorized in time; try again later"));
      }, this.options.handshakeTimeoutMs);
    });
    try {
      const verdict = await Promise.race([authorize(req), timedOut]);
      if (verdict === false) throw new HttpError(403, "Not authorized");
      if (typeof verdict === "object" && verdict !== null) {
        throw new HttpError(verdict.status, verdict.message ?? "Not authorized", verdict.headers as Record<string, string>);
      }
      // The peer may have gone, or the server started closing, while the hook ran.
      if (socket.destroyed) return;
      if (this.closing) throw new HttpError(503, "The server is shutting down");
      this.open(socket, req, route, rest, negotiated);
    } catch (error) {
      this.refuse(socket, error, req);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends the 101 response and starts the connection and its handler. */
  private open(socket: Duplex, req: WsRequest, route: Route, rest: Buffer, negotiated: Negotiated): void {
    const { protocol, extensions, key } = negotiated;
    if (key !== undefined) socket.write(buildUpgradeResponse({ key, protocol, extensions }));
    else (socket as ServerHttp2Stream).respond(http2Acceptance(protocol, extensions));
    this.handshakesAccepted++;
    this.adoptPendingSocket(socket);
    const ws = new WebSocket(
      socket as Socket,
      route.options.answerAppPings ? this.connectionOptionsAnsweringPings : this.connectionOptions,
      protocol ?? "",
      extensions,
      negotiated.compression,
    );
    ws.user = req.user;
    req.websocket = ws;
    this.openConnections.add(ws);
    if (ws.user !== undefined) this.addUserConnection(ws.user, ws);
    ws.start(rest);
    this.runHandler(route, req as UpgradedRequest);
  }

  private addUserConnection(user: UserId, ws: WebSocket): void {
    let connections = this.userConnections.get(user);
    if (connections === undefined) {
      this.userConnections.set(user, (connections = new Set()));
      for (const watcher of this.membershipWatchers) watcher.userOnline?.(user);
    }
    connections.add(ws);
  }

  /** A connection has closed: it leaves every registry. */
  private forgetConnection(ws: WebSocket): void {
    this.openConnections.delete(ws);
    this.groupRegistry.leaveAll(ws);
    const user = ws.user;
    const connections = user === undefined ? undefined : this.userConnections.get(user);
    if (connections === undefined) return;
    connections.delete(ws);
    if (connections.size === 0) {
      this.userConnections.delete(user!);
      for (const watcher of this.membershipWatchers) watcher.userOffline?.(user!);
    }
  }

  /** Runs a WebSocket handler; its end closes the connection (1000, or 1011 if it threw). */
  private runHandler(route: Route, req: UpgradedRequest): void {
    let result: unknown;
    try {
      result = route.handler(req);
    } catch (error) {
      result = Promise.reject(error);
    }
    // Handlers read their request as they start, which they have now done up to their
    // first await: from here on the request keeps only the head's text.
    req.compact();
    // What an idle connection pays to hear of its handler's end is one reaction, its
    // derived promise and one function bound to the request, the same for both outcomes
    // (which it was is asked of the promise again then): a closure cost ~60 B more, and a
    // second bound function 72 B. The request is held until the handler ends, as the
    // handler's own frame holds it anyway (an async function keeps its arguments).
    const ended = (req.handlerResult = Promise.resolve(result));
    const settled = this.handlerSettled.bind(req);
    ended.then(settled, settled);
  }

  /** The handler threw: report it, close with 1011. A ConnectionClosedError is the conversation ending. */
  private handlerFailed(req: UpgradedRequest, error: unknown): void {
    if (error instanceof ConnectionClosedError) return;
    this.reportError(error, req);
    const ws = req.websocket;
    if (ws.readyState === ReadyState.OPEN) ws.close(CloseCode.InternalError, "internal server error");
  }

  /** Tracks a socket until its upgrade or its end; a handshake error on it is answered, not thrown. */
  private trackPendingSocket(socket: Duplex): void {
    const forget = (): void => {
      this.pendingSockets.delete(socket);
    };
    this.pendingSockets.set(socket, forget);
    socket.on("error", ignore);
    socket.on("close", forget);
  }

  /** The socket becomes a connection: its pending-state listeners go (the WebSocket has its own). */
  private adoptPendingSocket(socket: Duplex): void {
    this.untrackPendingSocket(socket);
    socket.off("error", ignore);
  }

  /** Stops tracking a socket, which keeps its no-op error listener (a TLS connection's TCP socket). */
  private untrackPendingSocket(socket: Duplex): void {
    const forget = this.pendingSockets.get(socket);
    this.pendingSockets.delete(socket);
    if (forget !== undefined) socket.off("close", forget);
  }

  // ---- Plain HTTP answers ----

  private respond(socket: Duplex, response: Buffer): void {
    if (socket.destroyed) return;
    socket.end(response);
    lingerUntilPeerEnds(socket, this.options.closeTimeoutMs);
  }

  /** Answers a failed request: its HttpError's status, or 500 for anything unexpected. */
  private refuse(socket: Duplex, error: unknown, req: WsRequest | undefined): void {
    // A head that could not be read was meant as a handshake as often as not: counted too.
    if (req === undefined || req.isWebSocket()) {
      const status = error instanceof HttpError ? error.status : 500;
      this.handshakesRefused.set(status, (this.handshakesRefused.get(status) ?? 0) + 1);
    }
    let answer: HttpError;
    if (error instanceof HttpError) {
      answer = error;
    } else {
      this.reportError(error, req);
      answer = new HttpError(500, "Internal server error");
    }
    if (this.http2Streams.has(socket)) respondOnHttp2Stream(socket as ServerHttp2Stream, answer);
    else this.respond(socket, errorResponse(answer));
  }

  private reportError(error: unknown, req: WsRequest | undefined): void {
    try {
      if (this.options.onError) this.options.onError(error, req);
      else console.error(`wsraw: error in handler for ${req?.path ?? "(no route)"}:`, error);
    } catch {
      // An error reporter that throws must not take the server down.
    }
  }
}

/** What `server.stats()` returns. */
export interface ServerStats {
  /** Open WebSocket connections now. */
  connections: number;
  /** Opening handshakes answered with 101, and refused, by the status they got. */
  handshakes: { accepted: number; refused: Record<number, number> };
  /** Messages received and sent (a broadcast counts once per member). */
  messages: { in: number; out: number };
  /** Their bytes: received after inflation, sent before compression. */
  bytes: { in: number; out: number };
  /** How connections ended, by the code their `closed` reported. */
  closeCodes: Record<number, number>;
  /** Times a connection stopped reading its socket because its application was behind. */
  backpressurePauses: number;
  /** Broadcast deliveries left out because the member was over its buffer limit. */
  slowMembersSkipped: number;
}

/** Creates a server; see `ServerOptions` for the limits and hooks. */
export function createServer(options: ServerOptions = {}): WsrawServer {
  return new WsrawServer(options);
}

const NO_CONNECTIONS: ReadonlySet<WebSocket> = new Set();

/** What the server answers a valid handshake with. */
interface Negotiated {
  /** The client's Sec-WebSocket-Key; none over HTTP/2 (RFC 8441 §5). */
  key: string | undefined;
  protocol: string | undefined;
  extensions: string;
  compression: Compression | undefined;
}

/**
 * `perMessageDeflate` resolved once. Where this Node's zlib lacks what the codec drives,
 * the extension is declined (connections work uncompressed) rather than failing later.
 */
function resolveDeflate(option: boolean | PerMessageDeflateOptions | undefined): DeflateSettings | undefined {
  if (option === undefined || option === false) return undefined;
  const settings = deflateSettings(option);
  if (!zlibAvailable()) {
    console.warn("wsraw: this Node's zlib cannot run permessage-deflate synchronously; compression is off");
    return undefined;
  }
  return settings;
}

/**
 * What hears a server's handlers end, bound to each request: it asks the handler's promise
 * again how it ended, then closes the connection (1000), or reports the error (1011).
 */
function settledHandlerListener(server: WsrawServer): (this: UpgradedRequest) => void {
  return function handlerSettled(this: UpgradedRequest): void {
    const result = this.handlerResult!;
    this.handlerResult = undefined;
    result.then(closeAfterHandler.bind(this.websocket), server["handlerFailed"].bind(server, this));
  };
}

/** The handler returned: close with 1000, unless the connection is already closing. */
function closeAfterHandler(this: WebSocket): void {
  if (this.readyState === ReadyState.OPEN) this.close(CloseCode.Normal);
}

function ignore(): void {}

function originAllowed(policy: OriginPolicy, origin: string | undefined, req: WsRequest): boolean {
  if (typeof policy === "function") return policy(origin, req);
  return origin !== undefined && policy.includes(origin);
}

function toResponse(result: HttpResult, isHead: boolean): Buffer {
  const { status, headers, body } = httpAnswer(result);
  const response = buildResponse(status, headers, body);
  if (!isHead) return response;
  // RFC 9110 §9.3.2: HEAD gets the headers of GET, without the content.
  const end = response.indexOf("\r\n\r\n") + 4;
  return response.subarray(0, end);
}

/** The same view of a request that `RequestHeadParser` gives, from a `node:http` request. */
function headFromIncomingMessage(req: IncomingMessage): RequestHead {
  const target = req.url ?? "/";
  const { path, query } = parseRequestTarget(target);
  const rawHeaders: Array<[string, string]> = [];
  const headers = createHeaderFields();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = req.rawHeaders[i + 1];
    rawHeaders.push([name, value]);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return { method: req.method ?? "GET", target, path, query, httpVersion: req.httpVersion, headers, rawHeaders };
}

function withoutUndefined<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as T;
}
