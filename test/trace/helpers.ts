/**
 * Helpers for the trace tests: a relay in this process that collects its events, and a
 * raw TCP target that records every byte it gets and sends what a test gives it. Every
 * wait is bounded; everything listens on 127.0.0.1 and is closed after each test.
 */
import { type Server, type Socket, connect, createServer as createNetServer } from "node:net";
import { Relay } from "../../src/trace/relay.js";
import type { TraceEvent } from "../../src/trace/events.js";
import { HOST, type Resources, within } from "../support/index.js";

/** A relay to `port` whose events land in `events`. */
export async function startRelay(resources: Resources, port: number) {
  const events: TraceEvent[] = [];
  const relay = await Relay.start({ port: 0, target: { host: HOST, port }, onEvent: (event) => events.push(event) });
  resources.defer(() => relay.close());
  return { relay, events, port: relay.port };
}

/** Resolves once `check` holds, polling every 5 ms, or rejects naming `what`. */
export function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const poll = (): void => (check() ? resolve() : void setTimeout(poll, 5));
      poll();
    }),
    ms,
    what,
  );
}

/** A TCP server that records what each connection sends and hands the sockets over. */
export class RawTarget {
  readonly sockets: Socket[] = [];
  readonly received: Buffer[][] = [];
  private constructor(private readonly server: Server) {}

  static async start(resources: Resources): Promise<RawTarget> {
    const server = createNetServer({ allowHalfOpen: true });
    const target = new RawTarget(server);
    server.on("connection", (socket) => {
      const chunks: Buffer[] = [];
      target.sockets.push(socket);
      target.received.push(chunks);
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    resources.defer(async () => {
      for (const socket of target.sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return target;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** The bytes connection `index` has sent so far, joined. */
  bytes(index: number): Buffer {
    return Buffer.concat(this.received[index] ?? []);
  }
}

/** A raw client on `port` that records what it receives. */
export async function rawClient(resources: Resources, port: number) {
  const socket = connect({ host: HOST, port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  // The peer's FIN (the client stays half-open, so "close" would wait for our own end).
  socket.on("end", () => (closed = true));
  socket.on("close", () => (closed = true));
  resources.defer(() => void socket.destroy());
  await within(new Promise((resolve) => socket.once("connect", resolve)), 10_000, "the client to connect");
  return { socket, bytes: () => Buffer.concat(chunks), /** The peer has closed its side. */ closed: () => closed };
}
