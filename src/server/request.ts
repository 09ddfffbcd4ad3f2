import type { RequestHead } from "../http/index.js";
import type { WebSocket } from "./websocket.js";

/** An application's key for a connection's user: what `sendToUser` addresses. */
export type UserId = string | number;

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
  /** The decoded query string: `req.query.get("token")`. */
  readonly query: URLSearchParams;
  /** Header fields by lower-cased name; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The peer's IP address. */
  readonly remoteAddress: string | undefined;
  /** The peer's port. */
  readonly remotePort: number | undefined;
  /** The raw request head, as parsed. */
  readonly head: RequestHead;
  /**
   * The user this connection belongs to, for `server.sendToUser()`. Set it in the
   * `authorize` hook, before the upgrade; it cannot change once the connection is open.
   */
  user: UserId | undefined;
  /** The connection, once the opening handshake has succeeded; `null` otherwise. */
  websocket: WebSocket | null = null;

  private readonly upgrade: boolean;

  /** @internal */
  constructor(head: RequestHead, upgrade: boolean, remoteAddress?: string, remotePort?: number) {
    this.head = head;
    this.method = head.method;
    this.path = head.path;
    this.query = head.query;
    this.headers = head.headers;
    this.upgrade = upgrade;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
  }

  /** True when the request is a WebSocket opening handshake, false for plain HTTP. */
  isWebSocket(): boolean {
    return this.upgrade;
  }
}

/** A request whose opening handshake succeeded: `websocket` is set. */
export interface UpgradedRequest extends WsRequest {
  readonly websocket: WebSocket;
}
