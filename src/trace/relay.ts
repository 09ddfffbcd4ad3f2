import { type AddressInfo, type Server, type Socket, connect as netConnect, createServer as createNetServer } from "node:net";
import { type ConnectionOptions, type SecureContextOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import { tlsOptions } from "../client/tls-options.js";
import { ConnectionAnnotator, type ConnectionAnnotatorOptions } from "./connection-annotator.js";
import type { Direction, TraceEvent } from "./events.js";

/** Options of {@link Relay.start}. */
export interface RelayOptions {
  /**
   * Where each connection is forwarded; with `secure`, over TLS (the target's certificate
   * is checked against Node's CAs, or `ca`).
   */
  target: { host: string; port: number; secure?: boolean; ca?: SecureContextOptions["ca"] };
  /** The port to listen on; 0 picks a free one. */
  port: number;
  /** The address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Called with every event of every connection, in the order they happen. */
  onEvent(event: TraceEvent): void;
  /** Preview and inflation limits. */
  annotator?: ConnectionAnnotatorOptions;
}

/**
 * An annotating relay: it accepts TCP connections, opens one to the target for each, and
 * forwards both directions **byte for byte**: every chunk is written on as it came, and
 * the annotator only reads it (it unmasks copies). What it sees, it reports as events:
 * the handshake, each frame, and the rules broken, which are forwarded all the same so
 * that both ends can be studied as they are.
 *
 * Backpressure passes through: a side that reads slowly pauses the other. Half-closes
 * pass through (a FIN is forwarded as a FIN), and an error on one side destroys the other.
 */
export class Relay {
  private readonly sockets = new Set<Socket>();
  private count = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: RelayOptions,
  ) {}

  /** Starts listening; resolves once the port is bound. */
  static async start(options: RelayOptions): Promise<Relay> {
    const server = createNetServer({ allowHalfOpen: true, noDelay: true });
    const relay = new Relay(server, options);
    server.on("connection", (client) => relay.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return relay;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and destroys every relayed connection. */
  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** A connection to the target: TCP, or TLS for a `wss://` one (SNI: its host name). */
  private connectTarget(): Socket {
    const { host, port, secure, ca } = this.options.target;
    if (!secure) return netConnect({ host, port, allowHalfOpen: true, noDelay: true });
    // As connect() would; allowHalfOpen is honoured by tls.connect (a FIN passes through), though not typed.
    const options: ConnectionOptions & { allowHalfOpen: boolean } = { ...tlsOptions({ ca }, host, port), allowHalfOpen: true };
    const socket = tlsConnect(options);
    socket.setNoDelay(true);
    return socket;
  }

  private relay(client: Socket): void {
    const id = ++this.count;
    const { host, port } = this.options.target;
    const emit = (events: TraceEvent[]): void => {
      for (const event of events) this.options.onEvent(event);
    };
    emit([{ type: "connection", connection: id, from: `${client.remoteAddress}:${client.remotePort}`, target: `${host}:${port}` }]);
    const server = this.connectTarget();
    const sides: Record<Direction, Socket> = { client, server };
    let annotator: ConnectionAnnotator | undefined = new ConnectionAnnotator(id, this.options.annotator);
    const received: Record<Direction, number> = { client: 0, server: 0 };
    const transport = (what: "target-connected" | "end" | "error" | "closed", side: Direction | null, message: string): void =>
      emit([{ type: "transport", connection: id, what, side, message }]);
    // The trace only reads: if describing the bytes ever throws, forwarding goes on untraced.
    const annotate = (step: (a: ConnectionAnnotator) => TraceEvent[]): void => {
      if (annotator === undefined) return;
      try {
        emit(step(annotator));
      } catch (error) {
        annotator = undefined;
        transport("error", null, `the trace stopped (forwarding goes on): ${(error as Error).message}`);
      }
    };

    for (const from of ["client", "server"] as const) {
      const source = sides[from];
      const sink = sides[from === "client" ? "server" : "client"];
      this.sockets.add(source);
      source.on("data", (chunk: Buffer) => {
        received[from] += chunk.length;
        // Forwarded first and untouched; the annotator works on copies.
        if (!sink.write(chunk)) source.pause();
        annotate((a) => a.push(from, chunk));
      });
      sink.on("drain", () => source.resume());
      source.on("end", () => {
        transport("end", from, `${from === "client" ? "the client" : "the server"} ended its side (TCP FIN), passed on`);
        annotate((a) => a.end(from));
        sink.end();
      });
      source.on("error", (error: Error) => {
        const who = from === "client" ? "client" : `target ${host}:${port}`;
        transport("error", from, `${who}: ${error.message}`);
        sink.destroy();
      });
    }
    if (this.options.target.secure) {
      server.once("secureConnect", () => {
        const tls = server as TLSSocket;
        transport("target-connected", "server", `connected to the target ${host}:${port} over ${tls.getProtocol()}, certificate verified`);
      });
    } else {
      server.once("connect", () => transport("target-connected", "server", `connected to the target ${host}:${port}`));
    }
    let open = 2;
    const onClose = (): void => {
      if (--open > 0) return;
      this.sockets.delete(client);
      this.sockets.delete(server);
      transport("closed", null, `closed: ${received.client} bytes from the client, ${received.server} from the server, forwarded`);
    };
    client.once("close", () => {
      onClose();
      // A side that is gone for good takes the other with it once that has flushed.
      if (!server.destroyed) server.end();
    });
    server.once("close", () => {
      onClose();
      if (!client.destroyed) client.end();
    });
  }
}
