/**
 * Servers started and closed per test: `useResources()` gives each test file a tracker;
 * servers and clients made through it are torn down after each test (clients destroyed
 * first, then servers closed). `usePairs()` does the same for wsraw servers and wsraw
 * clients made by the test. `Tap` hands each server-side connection to the test.
 */
import { afterAll, afterEach } from "vitest";
import type WsClient from "ws";
import {
  type Route,
  type RouteOptions,
  type ServerOptions,
  type UpgradedRequest,
  type WebSocket,
  type WsrawServer,
  connect,
  createServer,
  requireWebSocket,
} from "../../src/index.js";
import { HOST, type RequestSpec } from "./handshake.js";
import { type HttpResponse, RawClient } from "./raw-client.js";
import { AsyncQueue, WAIT_MS, within } from "./timeouts.js";
import { WsPeer } from "./ws-peer.js";

/** Sends every message back with its opcode, respecting the send buffer's high-water mark. */
export async function echo(ws: WebSocket): Promise<void> {
  for await (const message of ws) {
    if (!ws.send(message)) await ws.drained();
  }
}

export function echoRoute(options?: RouteOptions): Route {
  return requireWebSocket(({ websocket }) => echo(websocket), options);
}

/**
 * A route that hands each accepted connection to the test (`next()`), then runs `body`
 * (default: keep the connection open until it closes, so the test drives it).
 */
export class Tap {
  readonly requests = new AsyncQueue<UpgradedRequest>("connection accepted by the server");

  constructor(private readonly body: (req: UpgradedRequest) => Promise<unknown> = (req) => req.websocket.closed) {}

  route(options?: RouteOptions): Route {
    return requireWebSocket(async (req) => {
      this.requests.push(req);
      await this.body(req);
    }, options);
  }

  async next(ms = WAIT_MS): Promise<WebSocket> {
    return (await this.requests.next(ms)).websocket;
  }
}

// ---------------------------------------------------------------------------------------
// Resource tracking
// ---------------------------------------------------------------------------------------

export interface TestServer {
  server: WsrawServer;
  port: number;
  /** `ws://127.0.0.1:PORT/path` */
  url(path?: string): string;
}

/** Servers and clients of a test, torn down together. */
export class Resources {
  private servers: WsrawServer[] = [];
  private clients: Array<{ destroy(): void }> = [];
  private cleanups: Array<() => unknown> = [];

  async server(routes: Record<string, Route>, options: ServerOptions = {}): Promise<TestServer> {
    const server = createServer(options);
    for (const [path, route] of Object.entries(routes)) server.route(path, route);
    const { port } = await server.listen(0, HOST);
    this.servers.push(server);
    return { server, port, url: (path = "/") => `ws://${HOST}:${port}${path}` };
  }

  /** A raw client, connected (no request sent yet). */
  async raw(port: number, allowHalfOpen = false): Promise<RawClient> {
    const client = await RawClient.connect(port, HOST, allowHalfOpen);
    this.clients.push(client);
    return client;
  }

  /** A raw client past a successful handshake. */
  async rawWebSocket(port: number, request: RequestSpec = {}): Promise<RawClient> {
    const client = await this.raw(port);
    await client.handshake(request);
    return client;
  }

  /** A raw client on a server of its own, and that server's side of the connection. */
  async rawPair(): Promise<{ client: RawClient; ws: WebSocket }> {
    const tap = new Tap();
    const { port } = await this.server({ "/tap": tap.route() });
    const client = await this.rawWebSocket(port, { path: "/tap" });
    return { client, ws: await tap.next() };
  }

  /** Sends one request on a new connection and returns the whole response. */
  async request(port: number, bytes: Buffer): Promise<HttpResponse> {
    const client = await this.raw(port);
    client.write(bytes);
    return client.response();
  }

  async ws(url: string, protocols?: string | string[], options?: WsClient.ClientOptions): Promise<WsPeer> {
    const peer = await WsPeer.open(url, protocols, options);
    this.clients.push({ destroy: () => peer.ws.terminate() });
    return peer;
  }

  /** Runs `cleanup` at teardown, after the clients are destroyed and before the servers close. */
  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  async release(): Promise<void> {
    for (const client of this.clients.splice(0)) client.destroy();
    for (const cleanup of this.cleanups.splice(0)) await cleanup();
    const servers = this.servers.splice(0);
    await within(Promise.all(servers.map((server) => server.close())), 20_000, "the test servers to close");
  }
}

/** A resource tracker released after each test (or, with "all", after the file). */
export function useResources(scope: "each" | "all" = "each"): Resources {
  const resources = new Resources();
  (scope === "each" ? afterEach : afterAll)(() => resources.release());
  return resources;
}

/**
 * Checks that the server at `port` still completes a handshake on `path` and echoes a
 * message: what every rejection test ends with.
 */
export async function expectEchoes(resources: Resources, port: number, path = "/echo"): Promise<void> {
  const client = await resources.rawWebSocket(port, { path });
  client.sendText("still alive");
  const frame = await client.nextFrame();
  if (frame.type !== "text" || frame.data !== "still alive") {
    throw new Error(`expected the echo of "still alive", got ${JSON.stringify(frame)}`);
  }
  client.destroy();
}

export interface Pairs {
  /** Registers a server to close after the test; returns it. */
  serve(server: WsrawServer): WsrawServer;
  /** Connects a client that is terminated after the test. */
  open(url: string): Promise<WebSocket>;
}

/** wsraw servers and wsraw clients of a test, closed after each test. */
export function usePairs(): Pairs {
  const servers: WsrawServer[] = [];
  const clients: WebSocket[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  return {
    serve(server) {
      servers.push(server);
      return server;
    },
    async open(url) {
      const ws = await connect(url);
      clients.push(ws);
      return ws;
    },
  };
}
