import { createRequire } from "node:module";

type NodeHttp2 = typeof import("node:http2");

let loaded: NodeHttp2 | undefined;

/**
 * `node:http2`, loaded the first time HTTP/2 is used rather than with wsraw. Loading it
 * makes Node open the process's standard streams (sockets, when they are pipes), and
 * sockets made before a server's first connection lead V8 to size every later
 * `net.Socket` in the process by them: 40 B more per connection, measured, for servers
 * that never speak HTTP/2.
 */
export function nodeHttp2(): NodeHttp2 {
  return (loaded ??= createRequire(import.meta.url)("node:http2") as NodeHttp2);
}
