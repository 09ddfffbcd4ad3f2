/**
 * A real Redis for the adapter's tests: Debian's `redis-server`, started on a free
 * loopback port with persistence off, and killed by its PID at teardown.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { afterAll, beforeAll } from "vitest";
import { killChild, within } from "../support/index.js";

const REDIS_SERVER = "redis-server";

/** Why these tests cannot run here, or undefined when they can. Under CI=true they always run. */
export const redisSkip =
  process.env.CI === "true" || spawnSync(REDIS_SERVER, ["--version"]).status === 0
    ? undefined
    : "install Debian's redis-server to run them";
if (redisSkip !== undefined) console.warn(`skipping the Redis adapter tests: ${redisSkip}`);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class RedisServer {
  private constructor(
    readonly port: number,
    private child: ChildProcess,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a redis-server; resolves once it accepts connections. */
  static async start(port?: number): Promise<RedisServer> {
    port ??= await freePort();
    return new RedisServer(port, await launch(port));
  }

  /** Kills the server (SIGKILL: as if its machine went away) and waits for it to exit. */
  async kill(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once("close", resolve));
    if (this.child.exitCode === null && this.child.signalCode === null) {
      killChild(this.child);
      await within(exited, 10_000, "redis-server to exit");
    }
  }

  /** Starts it again on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    this.child = await launch(this.port);
  }
}

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  await within(
    new Promise<void>((resolve, reject) => {
      const onData = (chunk: string): void => {
        output += chunk;
        if (output.includes("Ready to accept connections")) resolve();
      };
      child.stdout!.setEncoding("utf8").on("data", onData);
      child.stderr!.setEncoding("utf8").on("data", onData);
      child.once("error", reject);
      child.once("close", (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
    }),
    10_000,
    `redis-server on port ${port} to start`,
  ).catch((error: unknown) => {
    killChild(child);
    throw error;
  });
  return child;
}

/**
 * A redis-server started before the calling `describe` block's tests and killed after
 * them; the getter returns it (inside a test).
 */
export function useRedisServer(): () => RedisServer {
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.kill();
  });
  return () => {
    if (redis === undefined) throw new Error("redis-server is not started (use inside a test)");
    return redis;
  };
}
