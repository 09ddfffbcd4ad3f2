import type { Socket } from "node:net";
import { type PeerCertificate, TLSSocket } from "node:tls";
import { type RequestHead, parseRequestHead } from "../http/index.js";
import type { UserId, WebSocket } from "../connection/websocket.js";

export type { UserId };

type Peer = Partial<Pick<Socket, "remoteAddress" | "remotePort">>;

/** What a request over TLS tells of its client: see {@link WsRequest.tls}. */
export interface PeerTls {
  /**
   * The client's certificate verified against the server's `ca`. Only a server that asks
   * for one (`tls: { requestCert: true }`) gets a certificate; it refuses one that fails
   * unless `rejectUnauthorized: false`, when this says so.
   */
  authorized: boolean;
  /** Why the certificate did not verify (an OpenSSL code such as `"UNABLE_TO_VERIFY_LEAF_SIGNATURE"`). */
  authorizationError: string | undefined;
  /** The client's certificate (`subject.CN`, `fingerprint256`...), when it sent one. */
  certificate: PeerCertificate | undefined;
  /** The TLS version agreed, e.g. `"TLSv1.3"`. */
  protocol: string | null;
  /** The host name the client asked for (SNI), if any. */
  servername: string | undefined;
}

/**
 * A request that reached a route: a plain HTTP request or a WebSocket opening handshake.
 * Mirrors dwebsocket's request: `isWebSocket()` tells the two apart, and `websocket` is the
 * connection once the handshake has succeeded (`null` before that and for plain HTTP).
 */
export class WsRequest {
  /** The method as sent, e.g. "GET". */
  readonly method: string;
  /** The path, without the query string (not percent-decoded). */
  readonly path: string;
  /**
   * The user this connection belongs to, for `server.sendToUser()`. Set it in the
   * `authorize` hook, before the upgrade; it cannot change once the connection is open.
   */
  user: UserId | undefined;
  /** The connection, once the opening handshake has succeeded; `null` otherwise. */
  websocket: WebSocket | null = null;

  private readonly upgrade: boolean;
  // Asked of the socket when wanted: the system call and the cached address object are
  // not paid by every connection.
  private readonly peer: Peer;
  /** @internal The handler's promise while it runs: the server hears of its end. */
  handlerResult: Promise<unknown> | undefined;
  /** The parsed head; undefined after `compact()` until asked for again. */
  private parsedHead: RequestHead | undefined;
  /** The head's text, from which `compact()` lets it be parsed again. */
  private headText: string | undefined;

  /** @internal */
  constructor(head: RequestHead, upgrade: boolean, peer: Peer, path = head.path) {
    this.parsedHead = head;
    this.method = head.method;
    this.path = path;
    this.upgrade = upgrade;
    this.peer = peer;
  }

  /** The request head, as parsed. */
  get head(): RequestHead {
    // The text parsed without error once: it does again.
    return (this.parsedHead ??= parseRequestHead(this.headText!));
  }

  /** Header fields by lower-cased name; repeated fields joined with ", ". */
  get headers(): Readonly<Record<string, string>> {
    return this.head.headers;
  }

  /** The decoded query string: `req.query.get("token")`. */
  get query(): URLSearchParams {
    return this.head.query;
  }

  /** The peer's IP address (asked of the socket: undefined once it has closed, unless read before). */
  get remoteAddress(): string | undefined {
    return fromPeer(() => this.peer.remoteAddress);
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return fromPeer(() => this.peer.remotePort);
  }

  /**
   * For a request over TLS (`wss://`, `https://`, also behind `node:https`): the client's
   * certificate and whether it verified; undefined over plain TCP. For mutual TLS, create
   * the server with `tls: { key, cert, ca, requestCert: true }` and tell users apart in
   * `authorize` by `req.tls.certificate`.
   *
   * @example
   * ```ts
   * authorize: (req) => {
   *   const name = req.tls?.certificate?.subject.CN; // the TLS handshake refused unverified ones
   *   if (typeof name !== "string") return false;
   *   req.user = name;
   *   return true;
   * },
   * ```
   */
  get tls(): PeerTls | undefined {
    const socket = this.peer;
    if (!fromPeer(() => socket instanceof TLSSocket)) return undefined;
    return fromPeer(() => peerTls(socket as TLSSocket));
  }

  /** True when the request is a WebSocket opening handshake, false for plain HTTP. */
  isWebSocket(): boolean {
    return this.upgrade;
  }

  /**
   * Keeps only the head's text, from which the head is parsed again if asked for. A
   * WebSocket handler usually holds its request for the life of the connection, and the
   * parsed form (headers object, value strings) is several times the size of the text.
   * @internal
   */
  compact(): void {
    const text = this.parsedHead?.text;
    if (text === undefined) return;
    this.headText = text;
    this.parsedHead = undefined;
  }
}

/** What a TLS socket tells of its client. */
function peerTls(socket: TLSSocket): PeerTls {
  const certificate = socket.getPeerCertificate();
  // Without a client certificate, Node gives an empty object (or null once closed).
  const sent = certificate !== null && Object.keys(certificate).length > 0;
  // A code string in fact (typed as an Error), null or undefined when there is none.
  const error = socket.authorizationError as Error | string | null | undefined;
  return {
    authorized: socket.authorized,
    authorizationError: error === undefined || error === null ? undefined : String(error),
    certificate: sent ? certificate : undefined,
    protocol: socket.getProtocol(),
    servername: (socket as TLSSocket & { servername?: string | false }).servername || undefined,
  };
}

/**
 * Reads the peer's socket. Over HTTP/2 that is `node:http2`'s proxy of the session's
 * socket, which throws once the session has let go of it: then there is nothing to tell.
 */
function fromPeer<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** A request whose opening handshake succeeded: `websocket` is set. */
export interface UpgradedRequest extends WsRequest {
  readonly websocket: WebSocket;
}
