import type { Socket } from "node:net";
import { type Server as TlsServer, type TLSSocket, type TlsOptions, createServer as createTlsServer } from "node:tls";

/** The first byte of every TLS connection: a handshake record (RFC 8446 §5.1, RFC 5246 §6.2.1). */
const HANDSHAKE_RECORD = 0x16;

/**
 * The TLS side of a `wss://` listener: each connection's first byte tells a TLS client
 * from a plain HTTP one (answered with a 400 that says to use `wss://`, rather than a
 * reset), then the TLS handshake runs on the same socket, bounded in time.
 *
 * The handshake is a `tls.Server`'s, which never listens: the connections are handed to
 * it. So every `tls.createServer` option means what it means there: client certificates
 * (`requestCert`) are refused unless they verify, as `rejectUnauthorized` (default true)
 * asks, and SNI, session resumption and ALPN callbacks work. A bare `TLSSocket` would
 * take any client certificate: only `tls.Server` checks the verification result.
 */
export class TlsHandshake {
  private readonly server: TlsServer;
  /** What to do with each connection once it is secure, by its peer's address and port. */
  private readonly waiting = new Map<string, (tls: TLSSocket) => void>();

  constructor(
    options: TlsOptions,
    private readonly timeoutMs: number,
    /** ALPN protocols offered, in order of preference: `h2` first when HTTP/2 is served. */
    alpn: string[] = ["http/1.1"],
  ) {
    // A context without a certificate would fail every handshake ("no shared cipher").
    if (options.pfx === undefined && (options.key === undefined || options.cert === undefined)) {
      throw new TypeError("tls needs a certificate and its key: key and cert (PEM), or pfx");
    }
    // The context is made here: a bad key or certificate fails createServer, not the first connection.
    this.server = createTlsServer({ ...options, handshakeTimeout: timeoutMs, ALPNProtocols: alpn });
    // A client that refuses our certificate, is refused, or speaks broken TLS ends here.
    this.server.on("tlsClientError", (_error, tls) => tls.destroy());
    this.server.on("secureConnection", (tls: TLSSocket) => {
      const key = peerKey(tls);
      const secured = this.waiting.get(key);
      this.waiting.delete(key);
      if (secured === undefined) tls.destroy();
      else secured(tls);
    });
  }

  /**
   * Runs the handshake on `socket`: `secured` gets the TLS socket once it is done,
   * `plaintext` the socket and its first bytes when they are not TLS. A handshake that
   * fails or does not finish within the time allowed destroys the socket.
   */
  start(socket: Socket, secured: (tls: TLSSocket) => void, plaintext: (socket: Socket, first: Buffer) => void): void {
    if (socket.remotePort === undefined) {
      socket.destroy(); // reset before it was accepted: no peer, nothing to answer
      return;
    }
    // A TCP connection's peer address and port name it among the open ones: the
    // `secureConnection` event gives the TLS socket alone, which has the same peer.
    const key = peerKey(socket);
    const timer = setTimeout(() => socket.destroy(), this.timeoutMs);
    const onSecure = (tls: TLSSocket): void => {
      clearTimeout(timer);
      secured(tls);
    };
    socket.on("close", () => {
      clearTimeout(timer);
      if (this.waiting.get(key) === onSecure) this.waiting.delete(key);
    });
    socket.once("data", (first: Buffer) => {
      socket.pause();
      if (first[0] !== HANDSHAKE_RECORD) {
        clearTimeout(timer);
        plaintext(socket, first);
        return;
      }
      socket.unshift(first);
      this.waiting.set(key, onSecure);
      this.server.emit("connection", socket);
    });
  }
}

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}
