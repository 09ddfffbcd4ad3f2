import type { Http2Server, ServerHttp2Session, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import type { Http2RequestHeaders } from "../http/index.js";
import { nodeHttp2 } from "../http/node-http2.js";

/** Streams one HTTP/2 connection may have open at once (nginx allows 128, Go 250). */
export const MAX_CONCURRENT_STREAMS = 256;

/**
 * The HTTP/2 side of a listener with `http2: true`: a TLS connection whose client chose
 * `h2` (ALPN), or a plain one that opened with the HTTP/2 preface, is handed to a
 * `node:http2` server that never listens, which announces extended CONNECT (RFC 8441 §3)
 * and gives each stream to the server's routes.
 *
 * HTTP/2 connections outlive their requests, so one with no stream open is closed
 * (GOAWAY) after `idleTimeoutMs` without traffic; one that carries a WebSocket stays.
 */
export class Http2Sessions {
  private readonly server: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(
    options: { idleTimeoutMs: number; maxHeaderSize: number },
    onStream: (stream: ServerHttp2Stream, headers: Http2RequestHeaders) => void,
  ) {
    this.server = nodeHttp2().createServer({
      settings: {
        enableConnectProtocol: true,
        maxHeaderListSize: options.maxHeaderSize,
        // node:http2 allows 2^32 - 1 streams at once: one connection could then open as
        // many WebSockets and requests as it likes without a TCP handshake each.
        maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      },
    });
    this.server.on("stream", onStream);
    this.server.on("session", (session: ServerHttp2Session) => this.watch(session, options.idleTimeoutMs));
  }

  /** Runs HTTP/2 on a connection whose client chose it (its preface may wait, unshifted, in the socket). */
  accept(socket: Socket): void {
    this.server.emit("connection", socket);
  }

  /** Asks every connection to end (GOAWAY): streams open go on until they close. */
  close(): void {
    for (const session of this.sessions) session.close();
  }

  private watch(session: ServerHttp2Session, idleTimeoutMs: number): void {
    this.sessions.add(session);
    let open = 0;
    session.on("stream", (stream: ServerHttp2Stream) => {
      open++;
      stream.once("close", () => {
        // The last stream gone: the idle clock starts again.
        if (--open === 0 && !session.closed) session.setTimeout(idleTimeoutMs);
      });
    });
    session.setTimeout(idleTimeoutMs);
    session.on("timeout", () => {
      if (open === 0) session.close();
    });
    session.on("error", () => {}); // a reset or a protocol error: 'close' follows
    session.once("close", () => this.sessions.delete(session));
  }
}
