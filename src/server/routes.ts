import type { PerMessageDeflateOptions } from "../deflate/index.js";
import type { ProtocolSelector, ResponseHeaders } from "../http/index.js";
import type { UpgradedRequest, WsRequest } from "./request.js";

/** What an HTTP handler returns: a response, a string (200 text/plain), or nothing (204). */
export type HttpResult =
  | { status?: number; headers?: ResponseHeaders; body?: string | Uint8Array }
  | string
  | undefined
  | void;

/**
 * What an HTTP handler's result answers: a string is a 200 with that text, nothing a 204,
 * an object its status (200), headers and body ("").
 */
export function httpAnswer(result: HttpResult): { status: number; headers: ResponseHeaders; body: string | Uint8Array | undefined } {
  if (result === undefined) return { status: 204, headers: {}, body: undefined };
  if (typeof result === "string") return { status: 200, headers: {}, body: result };
  return { status: result.status ?? 200, headers: result.headers ?? {}, body: result.body ?? "" };
}

/**
 * The answer of an `authorize` hook, which sees the request before the 101 is sent:
 * `true` or nothing accepts; `false` refuses with 403; `{ status, message }` refuses with
 * that status. Throwing an `HttpError` refuses with its status too.
 */
export type AuthorizeResult =
  | boolean
  | undefined
  | void
  | { status: number; message?: string; headers?: ResponseHeaders };

export type Authorizer = (req: WsRequest) => AuthorizeResult | Promise<AuthorizeResult>;

/** Which origins may open a WebSocket (RFC 6455 §10.2): a list, or a predicate. */
export type OriginPolicy = readonly string[] | ((origin: string | undefined, req: WsRequest) => boolean);

/** Options of a WebSocket route; each overrides the server's option of the same name. */
export interface RouteOptions {
  /** Subprotocols this route speaks, or a function that picks one of the client's offers. */
  protocols?: ProtocolSelector;
  /** Runs before the upgrade; may refuse it or set `req.user`. */
  authorize?: Authorizer;
  /** Origins allowed to connect; others get 403. Default: any. */
  allowOrigin?: OriginPolicy;
  /**
   * Answer the browser client's application-level heartbeat: a text message exactly
   * `wsraw:ping` is answered with `wsraw:pong` and not delivered. Default false.
   */
  answerAppPings?: boolean;
  /** permessage-deflate on this route: `false`, `true` or settings. Default: the server's. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

/** A route registered with `server.route(path, route)`. */
export type Route =
  | { kind: "accept"; handler: (req: WsRequest) => HttpResult | Promise<HttpResult>; options: RouteOptions }
  | { kind: "require"; handler: (req: UpgradedRequest) => unknown; options: RouteOptions }
  | { kind: "http"; handler: (req: WsRequest) => HttpResult | Promise<HttpResult>; options: RouteOptions };

/**
 * A route that serves both plain HTTP and WebSocket on one URL, like dwebsocket's
 * `@accept_websocket`. The handler tells them apart with `req.isWebSocket()`: for plain
 * HTTP it returns the response; for a WebSocket it talks over `req.websocket`, and the
 * connection is closed (1000) when the handler returns, or with 1011 if it throws.
 *
 * @example
 * ```ts
 * server.route("/echo", acceptWebSocket(async (req) => {
 *   if (!req.isWebSocket()) return { status: 200, body: req.query.get("message") ?? "" };
 *   for await (const message of req.websocket!) req.websocket!.send(message);
 * }));
 * ```
 */
export function acceptWebSocket(
  handler: (req: WsRequest) => HttpResult | Promise<HttpResult>,
  options: RouteOptions = {},
): Route {
  checkRoute("acceptWebSocket", handler, options);
  return { kind: "accept", handler, options };
}

/**
 * A WebSocket-only route, like dwebsocket's `@require_websocket`: a plain HTTP request
 * gets 426 Upgrade Required and never reaches the handler. The connection is closed
 * (1000) when the handler returns, or with 1011 if it throws.
 */
export function requireWebSocket(handler: (req: UpgradedRequest) => unknown, options: RouteOptions = {}): Route {
  checkRoute("requireWebSocket", handler, options);
  return { kind: "require", handler, options };
}

/** A plain HTTP route (a page, a file); a WebSocket handshake on it is answered as HTTP. */
export function httpOnly(handler: (req: WsRequest) => HttpResult | Promise<HttpResult>): Route {
  checkRoute("httpOnly", handler, {});
  return { kind: "http", handler, options: {} };
}

/** Whether `value` is a route the factories made (plain JavaScript can pass anything). */
export function isRoute(value: unknown): value is Route {
  const kind = (value as Route | null)?.kind;
  return (kind === "accept" || kind === "require" || kind === "http") && typeof (value as Route).handler === "function";
}

/** The handshake policies a route or the server may set, checked where they are given. */
export interface Policies {
  protocols?: ProtocolSelector;
  authorize?: Authorizer;
  allowOrigin?: OriginPolicy;
}

/**
 * Throws `TypeError` for a policy of the wrong kind. Plain JavaScript gets no compiler
 * to say so, and a string where a list belongs would be searched as a string: an
 * `allowOrigin` of "https://example.com" would admit the origin "https://example.co".
 */
export function checkPolicies(policies: Policies, where: string): void {
  const { protocols, authorize, allowOrigin } = policies;
  if (authorize !== undefined && typeof authorize !== "function") {
    throw new TypeError(`${where}: authorize must be a function, got ${describe(authorize)}`);
  }
  for (const [name, value] of [["allowOrigin", allowOrigin], ["protocols", protocols]] as const) {
    if (value === undefined || typeof value === "function") continue;
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
      throw new TypeError(`${where}: ${name} must be an array of strings or a function, got ${describe(value)}`);
    }
  }
}

function checkRoute(factory: string, handler: unknown, options: RouteOptions): void {
  if (typeof handler !== "function") throw new TypeError(`${factory}() takes a handler function, got ${describe(handler)}`);
  checkPolicies(options, `${factory}()`);
}

function describe(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (Array.isArray(value)) return "an array with an item that is not a string";
  return value === null ? "null" : typeof value;
}
