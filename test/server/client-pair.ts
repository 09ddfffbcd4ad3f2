/**
 * A wsraw server whose one route hands its connection to the test, and wsraw clients
 * connected to it; everything is closed after each test.
 */
import { afterEach } from "vitest";
import { type WebSocket, type WsrawServer, connect } from "../../src/index.js";

export interface Pairs {
  /** Registers a server to close after the test; returns it. */
  serve(server: WsrawServer): WsrawServer;
  /** Connects a client that is terminated after the test. */
  open(url: string): Promise<WebSocket>;
}

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
