import type { Socket } from "node:net";
import { type RequestHead, parseRequestHead } from "../http/index.js";
import type { UserId, WebSocket } from "../connection/websocket.js";

export type { UserId };

type Peer = Partial<Pick<Socket, "remoteAddress" | "remotePort">>;

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
    return this.peer.remoteAddress;
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.peer.remotePort;
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

/** A request whose opening handshake succeeded: `websocket` is set. */
export interface UpgradedRequest extends WsRequest {
  readonly websocket: WebSocket;
}
