#!/usr/bin/env node
/**
 * The `wsraw` command:
 *   wsraw echo --port N [--host H] [--max-payload BYTES] [--heartbeat-ms MS]
 *   wsraw demo [--port 8080] [--host H]
 */
import { parseArgs } from "node:util";
import { createDemoServer } from "./apps/demo.js";
import { broadcastRoute, echoRoute } from "./apps/echo.js";
import { type ServerOptions, type WsrawServer, createServer } from "./server/index.js";

const USAGE = `usage:
  wsraw echo --port N [--host H] [--max-payload BYTES] [--heartbeat-ms MS]
      echoes every message on any path; on /broadcast, sends it to all /broadcast peers
  wsraw demo [--port 8080] [--host H]
      serves the demo page (echo and chat) at http://H:PORT/`;

function fail(message: string): never {
  console.error(`wsraw: ${message}\n${USAGE}`);
  process.exit(2);
}

function positiveInteger(name: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) fail(`--${name} must be a non-negative integer, got ${value}`);
  return number;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "max-payload": { type: "string" },
        "heartbeat-ms": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    fail((error as Error).message);
  }
  if (parsed.help || command === undefined || command === "help") {
    console.log(USAGE);
    return;
  }
  const host = parsed.host ?? "127.0.0.1";
  const heartbeatMs = positiveInteger("heartbeat-ms", parsed["heartbeat-ms"]);
  const options: ServerOptions = {
    maxPayload: positiveInteger("max-payload", parsed["max-payload"]),
    // Ping every MS and drop a peer that has not answered by the next ping.
    heartbeat: heartbeatMs ? { intervalMs: heartbeatMs, timeoutMs: heartbeatMs } : undefined,
  };

  let server: WsrawServer;
  let port: number;
  if (command === "echo") {
    port = positiveInteger("port", parsed.port) ?? fail("echo needs --port N");
    server = createServer(options);
    server.route("/broadcast", broadcastRoute(server)).route("*", echoRoute());
  } else if (command === "demo") {
    port = positiveInteger("port", parsed.port, 8080)!;
    server = createDemoServer(options);
  } else {
    fail(`unknown command ${JSON.stringify(command)}`);
  }

  const address = await server.listen(port, host);
  const url = `${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  console.log(command === "demo" ? `wsraw demo: open http://${url}/` : `wsraw echo: listening on ws://${url}/`);

  const shutdown = (): void => {
    server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error("wsraw:", error instanceof Error ? error.message : error);
  process.exit(1);
});
