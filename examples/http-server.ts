/**
 * wsraw behind an existing `node:http` server: the HTTP server keeps its port and its
 * requests, and hands each WebSocket upgrade to wsraw through `handleUpgrade`. An Express
 * or Fastify app runs on such a `node:http` server, so the same line serves them.
 *
 *   npm run examples && node examples/dist/http-server.js [--port 8080] [--host 127.0.0.1]
 *
 * Then `GET http://127.0.0.1:8080/` answers over plain HTTP and `ws://127.0.0.1:8080/echo`
 * echoes; other upgrade paths get 404. Ctrl-C closes every connection with 1001 and exits.
 */
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { createServer, requireWebSocket } from "wsraw";

const { values } = parseArgs({
  options: { port: { type: "string", default: "8080" }, host: { type: "string", default: "127.0.0.1" } },
});

// The WebSocket side: a wsraw server with its routes, that never listens itself.
const wsraw = createServer();
wsraw.route(
  "/echo",
  requireWebSocket(async ({ websocket: ws }) => {
    for await (const message of ws) {
      if (!ws.send(message)) await ws.drained();
    }
  }),
);

// The HTTP side: any `node:http` request handler (an Express app is one).
const http = createHttpServer((req, res) => {
  if (req.method === "GET" && req.url === "/") {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(`hello over HTTP; ${wsraw.connections} WebSocket connection(s) open\n`);
  } else {
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found\n");
  }
});

// The one line that joins them: wsraw answers every upgrade (404 on paths it has no route for).
http.on("upgrade", (req, socket, head) => wsraw.handleUpgrade(req, socket, head));

http.listen(Number(values.port), values.host, () => {
  const { port } = http.address() as AddressInfo;
  console.log(`http-server: listening on http://${values.host}:${port}/ (WebSocket echo at /echo)`);
});

async function shutdown(): Promise<void> {
  const stopped = new Promise((resolve) => http.close(resolve)); // no new connections
  http.closeIdleConnections(); // idle keep-alive HTTP connections
  await wsraw.close(); // every WebSocket gets 1001 and its closing handshake
  await stopped;
  console.log("http-server: closed");
}
process.once("SIGINT", () => void shutdown());
process.once("SIGTERM", () => void shutdown());
