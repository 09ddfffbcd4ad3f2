/**
 * The calling side of the RPC in rpc-server.ts, for any WebSocket (a browser's, Node's
 * built-in one, `ws`): give it a way to send text, and feed it what arrives.
 *
 * ```ts
 * const socket = new WebSocket("ws://127.0.0.1:8080/rpc");
 * const rpc = new RpcClient((text) => socket.send(text));
 * socket.onmessage = (event) => rpc.receive(String(event.data));
 * socket.onclose = () => rpc.fail(new Error("connection closed"));
 * socket.onopen = async () => console.log(await rpc.call("add", [1, 2], { timeoutMs: 500 })); // 3
 * ```
 */
import { ErrorCode, type RequestId, RpcError, type RpcResponse } from "./rpc-protocol.js";

export interface CallOptions {
  /** How long to wait for the answer; the server is told, and gives up then too. */
  timeoutMs?: number;
}

interface PendingCall {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<RequestId, PendingCall>();

  constructor(
    private readonly sendText: (text: string) => void,
    private readonly defaultTimeoutMs = 10_000,
  ) {}

  /**
   * Calls `method`: resolves with its result, or rejects with an `RpcError` (the server's
   * failure, or `ErrorCode.Timeout` when no answer came within `timeoutMs`).
   */
  call<T = unknown>(method: string, params?: unknown, options: CallOptions = {}): Promise<T> {
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id); // an answer that comes later is dropped
        reject(new RpcError(ErrorCode.Timeout, `${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject, timer });
      try {
        this.sendText(JSON.stringify({ id, method, params, timeoutMs }));
      } catch (error) {
        this.settle(id)?.reject(error as Error);
      }
    });
  }

  /** Every text message the connection receives goes here. */
  receive(text: string): void {
    let response: RpcResponse;
    try {
      response = JSON.parse(text);
    } catch {
      return; // not ours
    }
    if (response?.id === null || response?.id === undefined) return; // the server could not read a request
    const call = this.settle(response.id);
    if (call === undefined) return; // unknown, or given up on
    if ("error" in response) call.reject(new RpcError(response.error.code, response.error.message));
    else call.resolve(response.result);
  }

  /** The connection is gone: every call still waiting fails with `reason`. */
  fail(reason: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(reason);
  }

  /** Calls sent and not yet answered. */
  get waiting(): number {
    return this.pending.size;
  }

  private settle(id: RequestId): PendingCall | undefined {
    const call = this.pending.get(id);
    if (call === undefined) return undefined;
    this.pending.delete(id);
    clearTimeout(call.timer);
    return call;
  }
}
