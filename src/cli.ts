#!/usr/bin/env node
/**
 * The `wsraw` command:
 *   wsraw echo --port N [--host H] [--max-payload BYTES] [--heartbeat-ms MS] [--no-deflate] [--tls-cert F --tls-key F] [--http2]
 *   wsraw demo [--port 8080] [--host H] [--redis URL] [--no-deflate] [--tls-cert F --tls-key F] [--http2]
 *   wsraw trace --listen PORT --target ws[s]://HOST:PORT[/path] [--ca F] [--host H] [--json] [--preview BYTES]
 *   wsraw connect URL [--protocol P]... [--header "Name: value"]... [--binary-hex] [--deflate] [--http2] [--ca F] [--trace] [--json]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { serveDemo } from "./apps/demo.js";
import { redisChatRooms } from "./apps/redis-chat-rooms.js";
import { broadcastRoute, echoRoute } from "./apps/echo.js";
import { type ServerOptions, type WsrawServer, createServer } from "./server/index.js";
import { connectCommand } from "./trace/connect-command.js";
import { traceCommand } from "./trace/trace-command.js";
import { UsageError } from "./trace/usage-error.js";

const USAGE = `usage:
  wsraw echo --port N [--host H] [--max-payload BYTES] [--heartbeat-ms MS] [--no-deflate] [--tls-cert F --tls-key F] [--http2]
      echoes every message on any path; on /broadcast, sends it to all /broadcast peers
  wsraw demo [--port 8080] [--host H] [--redis URL] [--no-deflate] [--tls-cert F --tls-key F] [--http2]
      serves the demo page (echo and chat) at http://H:PORT/; with --redis (e.g.
      redis://127.0.0.1:6379, needs the redis package), every demo on that Redis shares
      the chat rooms
  Both accept permessage-deflate (RFC 7692) when the client offers it, keeping no
  compression context between messages; --no-deflate declines it. With --tls-cert and
  --tls-key (PEM files) both serve wss:// and https:// instead. --http2 adds HTTP/2 for
  clients that ask for it (ALPN h2 over TLS, prior knowledge without), on which
  WebSockets open as streams (RFC 8441); browsers use it over TLS.
  wsraw trace --listen PORT --target ws[s]://HOST:PORT[/path] [--ca F] [--host H] [--json] [--preview BYTES]
      a relay that forwards every byte unchanged and prints the handshake and each frame,
      field by field with its RFC 6455 section, pointing out (and forwarding) violations;
      --json prints one JSON object per event; clients connect with ws://, and to a wss://
      target the relay speaks TLS (--ca: trust the CA certificates of that PEM file)
  wsraw connect URL [--protocol P]... [--header "Name: value"]... [--binary-hex] [--deflate] [--http2] [--ca F] [--trace]
      an interactive client: each stdin line is sent as a text message (--binary-hex: hex
      bytes as a binary one), every message is printed; EOF or Ctrl-C closes with 1000;
      --deflate offers permessage-deflate; --http2 opens it over HTTP/2 (RFC 8441);
      --trace prints the annotated frames on stderr`;

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
  if (command === "trace" || command === "connect") {
    if (rest.includes("--help") || rest.includes("-h")) return void console.log(USAGE);
    try {
      if (command === "trace") await traceCommand(rest);
      else process.exit(await connectCommand(rest));
    } catch (error) {
      // parseArgs' own errors (unknown option, missing value) are usage errors too.
      if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
        fail((error as Error).message);
      }
      throw error;
    }
    return;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "max-payload": { type: "string" },
        "heartbeat-ms": { type: "string" },
        redis: { type: "string" },
        "no-deflate": { type: "boolean" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        http2: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    fail((error as Error).message);
  }
  if (parsed.help || command === undefined || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return;
  }
  const host = parsed.host ?? "127.0.0.1";
  const heartbeatMs = positiveInteger("heartbeat-ms", parsed["heartbeat-ms"]);
  const options: ServerOptions = {
    maxPayload: positiveInteger("max-payload", parsed["max-payload"]),
    // Ping every MS and drop a peer that has not answered by the next ping.
    heartbeat: heartbeatMs ? { intervalMs: heartbeatMs, timeoutMs: heartbeatMs } : undefined,
    // On unless told otherwise, so that browsers and test suites exercise it.
    perMessageDeflate: !parsed["no-deflate"],
    tls: tlsOptions(parsed["tls-cert"], parsed["tls-key"]),
    http2: parsed.http2,
  };

  let server: WsrawServer;
  let port: number;
  let detach = async (): Promise<void> => {};
  if (command === "echo") {
    if (parsed.redis !== undefined) fail("--redis is for wsraw demo (its chat rooms)");
    port = positiveInteger("port", parsed.port) ?? fail("echo needs --port N");
    server = createServer(options);
    server.route("/broadcast", broadcastRoute(server)).route("*", echoRoute());
  } else if (command === "demo") {
    port = positiveInteger("port", parsed.port, 8080)!;
    server = createServer(options);
    if (parsed.redis === undefined) {
      serveDemo(server);
    } else {
      const shared = await attachRedis(server, parsed.redis);
      const rooms = redisChatRooms(shared.groups, shared.client);
      serveDemo(server, rooms);
      detach = async () => {
        await rooms.close();
        await shared.groups.close();
        await shared.client.close();
      };
    }
  } else {
    fail(`unknown command ${JSON.stringify(command)}`);
  }

  const address = await server.listen(port, host);
  const url = `${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  const secure = options.tls !== undefined ? "s" : "";
  console.log(command === "demo" ? `wsraw demo: open http${secure}://${url}/` : `wsraw echo: listening on ws${secure}://${url}/`);

  const shutdown = (): void => {
    server
      .close()
      .then(detach)
      .finally(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

/** The key and certificate for wss://, read from their PEM files; both or neither. */
function tlsOptions(certFile: string | undefined, keyFile: string | undefined): ServerOptions["tls"] {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) fail("--tls-cert and --tls-key go together");
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      return fail(`${flag}: cannot read ${file}: ${(error as Error).message}`);
    }
  };
  return { cert: read("--tls-cert", certFile), key: read("--tls-key", keyFile) };
}

/** Connects `server` to the others on the Redis at `url` (the optional `redis` package). */
async function attachRedis(server: WsrawServer, url: string) {
  let redis;
  try {
    redis = await import("redis");
  } catch {
    fail("--redis needs the redis package: npm install redis");
  }
  const { RedisGroups } = await import("./redis/index.js");
  let connected = false;
  const client = redis.createClient({
    url,
    // Give up at once if Redis is not there at start; once connected, retry an outage
    // every 0.1 s to 2 s (RedisGroups reports it and resubscribes after).
    socket: {
      connectTimeout: 5_000,
      reconnectStrategy: (retries, cause) => (connected ? Math.min(100 * 2 ** retries, 2_000) : cause),
    },
  });
  client.on("error", () => {}); // the failed connect() below says it; RedisGroups reports the rest
  try {
    await client.connect();
    connected = true;
  } catch (error) {
    throw new Error(`cannot reach Redis at ${url}: ${(error as Error).message}`);
  }
  return { client, groups: await RedisGroups.attach(server, client, { prefix: "wsraw-demo" }) };
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error("wsraw:", error instanceof Error ? error.message : error);
  process.exit(1);
});
