/**
 * A chat on every core of one machine: `node:cluster` workers share one port (the primary
 * hands each new connection to the next worker), and their rooms are shared through Redis
 * with `wsraw/redis`, so two people in one room talk whichever worker holds them.
 *
 *   npm run examples && node examples/dist/cluster-chat.js \
 *     [--port 8080] [--host 127.0.0.1] [--redis redis://127.0.0.1:6379] [--workers N]
 *
 * N defaults to the number of cores. Connect to `ws://127.0.0.1:8080/chat?room=lobby&name=ann`:
 * the first message is `{"type":"welcome",...}` (with the worker's pid), after which every
 * text message sent is broadcast to the room as `{"type":"message","name":...,"text":...}`.
 * A worker that dies is replaced. Ctrl-C (SIGINT) or SIGTERM to the primary closes every
 * connection with 1001, detaches from Redis and exits.
 */
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { createClient } from "redis";
import { createServer, requireWebSocket } from "wsraw";
import { RedisGroups } from "wsraw/redis";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    redis: { type: "string", default: "redis://127.0.0.1:6379" },
    workers: { type: "string" },
  },
});

/** What a worker tells the primary. */
type WorkerReport = { type: "listening"; port: number };

if (cluster.isPrimary) {
  const count = values.workers === undefined ? availableParallelism() : Number(values.workers);
  let stopping = false;
  let listening = 0;

  const ready = new WeakSet<object>();

  const fork = (): void => {
    const worker = cluster.fork();
    worker.on("message", (report: WorkerReport) => {
      if (report.type !== "listening") return;
      ready.add(worker);
      // listen(0) in a cluster gives every worker the same port, chosen by the primary.
      if (++listening === count) {
        console.log(`cluster-chat: ${count} workers on ws://${values.host}:${report.port}/chat?room=lobby&name=YOU`);
      }
    });
  };
  for (let i = 0; i < count; i++) fork();

  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    if (!ready.has(worker)) {
      // It never got as far as listening (Redis unreachable?): another would fail the same way.
      console.error(`cluster-chat: worker ${worker.process.pid} failed to start (${signal ?? code}); stopping`);
      process.exitCode = 1;
      stop();
      return;
    }
    console.error(`cluster-chat: worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    listening--;
    fork();
  });

  function stop(): void {
    if (stopping) return;
    stopping = true;
    // Each worker closes its connections and leaves Redis, then exits; the primary exits
    // when the last one has. One that hangs is killed after 10 s.
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker?.isConnected()) worker.send("shutdown", () => {}); // one that is gone already is fine
    }
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL");
    }, 10_000).unref();
  }
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} else {
  const redis = createClient({ url: values.redis });
  const server = createServer();
  const shared = await RedisGroups.attach(server, redis, { prefix: "cluster-chat" });

  server.route(
    "/chat",
    requireWebSocket(async ({ websocket: ws, query }) => {
      const room = query.get("room") ?? "lobby";
      const name = query.get("name") ?? "anonymous";
      const group = shared.group(room).add(ws); // a member on this worker; it leaves when it closes
      await shared.ready(); // subscribed: whatever the room says from now on reaches ws
      ws.send(JSON.stringify({ type: "welcome", room, name, worker: process.pid }));
      for await (const text of ws) {
        if (typeof text !== "string") continue; // the chat speaks text
        // Published once to Redis; every worker with members in the room delivers it.
        await group.broadcast(JSON.stringify({ type: "message", room, name, text, worker: process.pid }));
      }
    }),
  );

  const { port } = await server.listen(Number(values.port), values.host);
  process.send!({ type: "listening", port } satisfies WorkerReport);

  // Told by the primary, or signalled directly: Ctrl-C reaches every process of the
  // terminal's group, and a service manager may signal every process of the service.
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await server.close(); // 1001 to every connection of this worker
      await shared.close();
      await redis.close();
      cluster.worker!.disconnect(); // nothing left: the worker exits
    })());
  process.on("message", (message) => void (message === "shutdown" && stop()));
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}
