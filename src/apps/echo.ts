import { type Route, type WebSocket, type WsrawServer, requireWebSocket } from "../server/index.js";

/**
 * Sends every message back to its sender with the same opcode, until the peer closes. It
 * waits for `drained()` when the peer reads slower than it writes, so a client that never
 * reads is slowed down by TCP instead of growing the server's memory.
 */
export async function echo(ws: WebSocket): Promise<void> {
  for await (const message of ws) {
    if (!ws.send(message)) await ws.drained();
  }
}

/** The echo route: `echo` on every connection. */
export function echoRoute(): Route {
  return requireWebSocket(({ websocket }) => echo(websocket));
}

/**
 * The broadcast route: every message goes to every connection open on it, the sender
 * included, encoded once for all.
 */
export function broadcastRoute(server: WsrawServer, groupName = "broadcast"): Route {
  return requireWebSocket(async ({ websocket }) => {
    const group = server.group(groupName).add(websocket);
    for await (const message of websocket) group.broadcast(message);
  });
}
