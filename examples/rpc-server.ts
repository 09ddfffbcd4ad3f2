/**
 * Request and response over the pull API: a small RPC server (protocol in rpc-protocol.ts,
 * a client for any WebSocket in rpc-client.ts).
 *
 *   npm run examples && node examples/dist/rpc-server.js [--port 8080] [--host 127.0.0.1]
 *       [--max-timeout-ms 10000] [--max-in-flight 16]
 *
 * serves `ws://127.0.0.1:8080/rpc` with the methods `add([a, b])`, `divide([a, b])`
 * (fails with code 1 on a zero divisor), `sleep({ ms })` and `crash()` (a bug: the caller
 * gets "internal error", the server's stderr the stack).
 *
 * The handler pulls requests with `for await` and runs each call without waiting for the
 * previous one. At `maxInFlight` calls running it stops pulling: the requests stay unread
 * in the socket, and once wsraw's queue is full TCP backpressure slows the client down.
 * A call that outlives its deadline is answered with a timeout and its method's
 * AbortSignal fires; so does every running call's when the connection closes.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type Message, ReadyState, type Route, type WebSocket, createServer, requireWebSocket } from "wsraw";
import { ErrorCode, RpcError, type RpcRequest, type RpcResponse } from "./rpc-protocol.js";

/** A method: takes the call's params; `signal` fires when the caller no longer waits. */
export type Method = (params: unknown, signal: AbortSignal) => unknown;

export interface RpcRouteOptions {
  /** The longest a call may run, whatever its caller asks. Default 10 s. */
  maxTimeoutMs?: number;
  /** Calls of one connection running at once; past it, requests wait unread. Default 16. */
  maxInFlight?: number;
  /** Hears of methods that threw something other than an `RpcError`. Default: stderr. */
  onError?: (error: unknown, request: RpcRequest) => void;
}

/** A route that answers the RPC requests of each connection with `methods`. */
export function rpcRoute(methods: Record<string, Method>, options: RpcRouteOptions = {}): Route {
  const maxTimeoutMs = options.maxTimeoutMs ?? 10_000;
  const maxInFlight = options.maxInFlight ?? 16;
  const onError = options.onError ?? ((error: unknown) => console.error("rpc: a method failed:", error));

  async function answer(ws: WebSocket, request: RpcRequest, connectionClosed: AbortSignal): Promise<void> {
    const method = Object.hasOwn(methods, request.method) ? methods[request.method] : undefined;
    if (method === undefined) {
      const message = `no method ${JSON.stringify(request.method)}`;
      return reply(ws, { id: request.id, error: { code: ErrorCode.MethodNotFound, message } });
    }
    const timeoutMs = Math.min(request.timeoutMs ?? maxTimeoutMs, maxTimeoutMs);
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new RpcError(ErrorCode.Timeout, `${request.method}: timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onClosed = (): void => deadline.abort(connectionClosed.reason);
    connectionClosed.addEventListener("abort", onClosed);
    const abandoned = new Promise<never>((_, reject) => {
      deadline.signal.addEventListener("abort", () => reject(deadline.signal.reason));
    });
    try {
      const result = await Promise.race([(async () => method(request.params, deadline.signal))(), abandoned]);
      await reply(ws, { id: request.id, result: result ?? null });
    } catch (error) {
      if (!(error instanceof RpcError)) onError(error, request);
      const failure =
        error instanceof RpcError
          ? { code: error.code, message: error.message }
          : { code: ErrorCode.InternalError, message: "internal error" }; // a bug: no details to the caller
      await reply(ws, { id: request.id, error: failure });
    } finally {
      clearTimeout(timer);
      connectionClosed.removeEventListener("abort", onClosed);
    }
  }

  return requireWebSocket(async ({ websocket: ws }) => {
    const running = new Set<Promise<void>>();
    const closed = new AbortController();
    try {
      for await (const message of ws) {
        const request = parseRequest(message);
        if (request instanceof RpcError) {
          await reply(ws, { id: null, error: { code: request.code, message: request.message } });
          continue;
        }
        const call: Promise<void> = answer(ws, request, closed.signal).finally(() => running.delete(call));
        running.add(call);
        // Pull the next request only when a call slot is free.
        while (running.size >= maxInFlight) await Promise.race(running);
      }
    } finally {
      // The peer is gone (or the server closing): the methods still running can stop.
      closed.abort(new RpcError(ErrorCode.InternalError, "connection closed"));
      await Promise.allSettled(running);
    }
  });
}

function parseRequest(message: Message): RpcRequest | RpcError {
  if (typeof message !== "string") return new RpcError(ErrorCode.InvalidRequest, "requests are text messages");
  let request: Partial<RpcRequest> | null;
  try {
    request = JSON.parse(message);
  } catch {
    return new RpcError(ErrorCode.ParseError, "not JSON");
  }
  const valid =
    typeof request === "object" &&
    request !== null &&
    (typeof request.id === "number" || typeof request.id === "string") &&
    typeof request.method === "string" &&
    (request.timeoutMs === undefined || (typeof request.timeoutMs === "number" && request.timeoutMs > 0));
  return valid ? (request as RpcRequest) : new RpcError(ErrorCode.InvalidRequest, "expected {id, method, params?, timeoutMs?}");
}

/** Sends an answer, unless the connection is already closing; waits if the peer reads slowly. */
async function reply(ws: WebSocket, response: RpcResponse): Promise<void> {
  if (ws.readyState !== ReadyState.OPEN) return;
  if (!ws.send(JSON.stringify(response))) await ws.drained();
}

// ---- The program ----

function numbers(params: unknown): [number, number] {
  if (Array.isArray(params) && params.length === 2 && params.every((n) => typeof n === "number")) {
    return params as [number, number];
  }
  throw new RpcError(ErrorCode.InvalidParams, "expected [a, b], two numbers");
}

export const exampleMethods: Record<string, Method> = {
  add: (params) => {
    const [a, b] = numbers(params);
    return a + b;
  },
  divide: (params) => {
    const [a, b] = numbers(params);
    if (b === 0) throw new RpcError(1, "division by zero"); // an application error
    return a / b;
  },
  sleep: async (params, signal) => {
    const ms = (params as { ms?: unknown } | null)?.ms;
    if (typeof ms !== "number" || ms < 0) throw new RpcError(ErrorCode.InvalidParams, "expected { ms }");
    await sleep(ms, undefined, { signal }); // stops early when the caller gives up
    return ms;
  },
  crash: () => {
    throw new TypeError("a bug in a method");
  },
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      "max-timeout-ms": { type: "string", default: "10000" },
      "max-in-flight": { type: "string", default: "16" },
    },
  });
  const server = createServer();
  const options = { maxTimeoutMs: Number(values["max-timeout-ms"]), maxInFlight: Number(values["max-in-flight"]) };
  server.route("/rpc", rpcRoute(exampleMethods, options));
  const { port } = await server.listen(Number(values.port), values.host);
  console.log(`rpc-server: listening on ws://${values.host}:${port}/rpc`);
  const shutdown = (): void => void server.close().then(() => console.log("rpc-server: closed"));
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

// Run as a program, not when imported for `rpcRoute`.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
