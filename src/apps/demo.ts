import { type ServerOptions, type WsrawServer, acceptWebSocket, createServer, httpOnly } from "../server/index.js";
import { type ChatRooms, chatRoute, localChatRooms } from "./chat.js";
import { echo } from "./echo.js";
import { fileRoute, packageFile } from "./static-files.js";

/**
 * The demo of `npm start`: the seed's page at `/` (echo over `/echo`, chat over `/chat`),
 * its script and style, the browser client at `/client.js`, and the server's counters
 * at `/stats` (JSON), which the page shows live.
 */
export function createDemoServer(options: ServerOptions = {}): WsrawServer {
  return serveDemo(createServer(options));
}

/** Adds the demo's routes to `server`, its chat in `chatRooms` (default: this server's own). */
export function serveDemo(server: WsrawServer, chatRooms: ChatRooms = localChatRooms(server)): WsrawServer {
  const page = packageFile("public/index.html");
  const pageResponse = { status: 200, headers: { "Content-Type": page.contentType }, body: page.body };
  server
    .route("/", fileRoute("public/index.html"))
    .route("/demo.js", fileRoute("public/demo.js"))
    .route("/demo.css", fileRoute("public/demo.css"))
    .route("/client.js", fileRoute("src/client/browser/client.js"))
    .route(
      // As in the seed's `echo` view: plain HTTP answers `?message=`, or shows the page.
      "/echo",
      acceptWebSocket(async (req) => {
        if (!req.isWebSocket()) {
          const message = req.query.get("message");
          return message === null ? pageResponse : message;
        }
        await echo(req.websocket!);
      }),
    )
    .route("/chat", chatRoute(server, chatRooms))
    // The server's counters, for the page's panel and for anyone watching.
    .route(
      "/stats",
      httpOnly(() => ({
        status: 200,
        headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
        body: JSON.stringify(server.stats()),
      })),
    );
  return server;
}
