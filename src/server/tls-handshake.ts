import type { Socket } from "node:net";
import { type SecureContext, TLSSocket, type TlsOptions, createSecureContext } from "node:tls";

/** The first byte of every TLS connection: a handshake record (RFC 8446 §5.1, RFC 5246 §6.2.1). */
const HANDSHAKE_RECORD = 0x16;

/**
 * The TLS side of a `wss://` listener: each connection's first byte tells a TLS client
 * from a plain HTTP one (answered with a 400 that says to use `wss://`, rather than a
 * reset), then the TLS handshake runs on the same socket, bounded in time.
 */
export class TlsHandshake {
  private readonly context: SecureContext;

  constructor(
    private readonly options: TlsOptions,
    private readonly timeoutMs: number,
  ) {
    // A context without a certificate would fail every handshake ("no shared cipher").
    if (options.pfx === undefined && (options.key === undefined || options.cert === undefined)) {
      throw new TypeError("tls needs a certificate and its key: key and cert (PEM), or pfx");
    }
    // Made once: a bad key or certificate fails createServer, not the first connection.
    this.context = createSecureContext(options);
  }

  /**
   * Runs the handshake on `socket`: `secured` gets the TLS socket once it is done,
   * `plaintext` the socket and its first bytes when they are not TLS. A handshake that
   * fails or does not finish within the time allowed destroys the socket.
   */
  start(socket: Socket, secured: (tls: TLSSocket) => void, plaintext: (socket: Socket, first: Buffer) => void): void {
    const timer = setTimeout(() => socket.destroy(), this.timeoutMs);
    socket.on("close", () => clearTimeout(timer));
    socket.once("data", (first: Buffer) => {
      socket.pause();
      if (first[0] !== HANDSHAKE_RECORD) {
        clearTimeout(timer);
        plaintext(socket, first);
        return;
      }
      socket.unshift(first);
      const tls = new TLSSocket(socket, {
        isServer: true,
        secureContext: this.context,
        requestCert: this.options.requestCert,
        rejectUnauthorized: this.options.rejectUnauthorized,
        ALPNProtocols: ["http/1.1"],
      });
      // A client that refuses our certificate, or speaks broken TLS, ends here.
      tls.on("error", () => tls.destroy());
      tls.once("secure", () => {
        clearTimeout(timer);
        secured(tls);
      });
    });
  }
}
