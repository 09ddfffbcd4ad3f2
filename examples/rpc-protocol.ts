/**
 * The RPC's messages, one JSON text message each (the shape of JSON-RPC 2.0, without its
 * version field and batches):
 *
 *   request   {"id": 7, "method": "add", "params": [1, 2], "timeoutMs": 500}
 *   answer    {"id": 7, "result": 3}
 *   failure   {"id": 7, "error": {"code": -32601, "message": "no method \"ad\""}}
 *
 * `id` is the caller's, to match answers with calls: answers come in the order calls
 * finish, not the order they were made. `timeoutMs` (optional) is how long the caller
 * waits; the server gives up on the call then too. A message that is not a request gets a
 * failure with `"id": null`.
 */

/** Error codes: JSON-RPC's own, and one for timeouts; applications use any others. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  Timeout: -32000,
} as const;

export type RequestId = number | string;

export interface RpcRequest {
  id: RequestId;
  method: string;
  params?: unknown;
  timeoutMs?: number;
}

export type RpcResponse =
  | { id: RequestId | null; result: unknown }
  | { id: RequestId | null; error: { code: number; message: string } };

/** A failed call, on either side: `code` is one of `ErrorCode` or the application's own. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}
