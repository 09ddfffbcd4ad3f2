/**
 * The programs in examples/, compiled as `npm run examples` compiles them (strict
 * TypeScript against the built package, into examples/dist/) and run as a user runs them:
 * `node examples/dist/NAME.js --port 0`. Each is stopped with SIGTERM and must exit by
 * itself; anything left is killed by its process group at the end of its test.
 *
 * Needs dist/ (`npm test` builds it; `npm run build` first when running this file alone).
 * The cluster chat needs Debian's redis-server: without it (and without CI=true) that
 * test is skipped with a message saying so.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, RpcError } from "../../examples/rpc-protocol.js";
import { RpcClient } from "../../examples/rpc-client.js";
import { RedisServer } from "../redis/redis-server.js";
import { WsPeer, within } from "../support/index.js";
import { Program, killPrograms, runOk } from "../support/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const example = (name: string): string => join(ROOT, "examples", "dist", `${name}.js`);

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist", "index.d.ts"))) {
    throw new Error("dist/ is missing: run `npm run build` first (npm test does it)");
  }
  await runOk(process.execPath, [TSC, "-p", join(ROOT, "examples", "tsconfig.json")], { cwd: ROOT, timeoutMs: 60_000 });
}, 60_000);

afterEach(killPrograms);

async function start(name: string, args: string[], ready: RegExp, env?: NodeJS.ProcessEnv) {
  return Program.start(process.execPath, [example(name), ...args], ready, { cwd: ROOT, env });
}

describe("examples/http-server: wsraw behind node:http through handleUpgrade", () => {
  it("serves HTTP and the WebSocket echo on one port, 404 elsewhere, and shuts down with 1001", async () => {
    const { program, match } = await start("http-server", ["--port", "0"], /listening on http:\/\/127\.0\.0\.1:(\d+)\//);
    const port = match[1];
    const get = async (path: string) => {
      const response = await within(fetch(`http://127.0.0.1:${port}${path}`), 10_000, `GET ${path}`);
      return { status: response.status, body: await response.text() };
    };
    expect(await get("/")).toEqual({ status: 200, body: "hello over HTTP; 0 WebSocket connection(s) open\n" });
    expect((await get("/nowhere")).status).toBe(404);

    const peer = await WsPeer.open(`ws://127.0.0.1:${port}/echo`);
    peer.ws.send("through node:http");
    peer.ws.send(Buffer.from([1, 2, 3]));
    expect(await peer.next()).toBe("through node:http");
    expect(await peer.next()).toEqual(Buffer.from([1, 2, 3]));
    // The HTTP side sees wsraw's connections; wsraw refuses upgrades it has no route for.
    expect((await get("/")).body).toBe("hello over HTTP; 1 WebSocket connection(s) open\n");
    await expect(WsPeer.open(`ws://127.0.0.1:${port}/nowhere`)).rejects.toThrow(/unexpected response 404/);

    expect(await program.stop()).toEqual({ code: 0, signal: null });
    expect((await peer.closed()).code).toBe(1001);
    expect(program.printed).toContain("http-server: closed");
  });
});

describe("examples/rpc-server and rpc-client: request and response over the pull API", () => {
  async function connect(args: string[] = []) {
    const { program, match } = await start("rpc-server", ["--port", "0", ...args], /listening on (ws:\/\/\S+\/rpc)/);
    const peer = await WsPeer.open(match[1]);
    const rpc = new RpcClient((text) => peer.ws.send(text));
    peer.ws.on("message", (data: Buffer, binary: boolean) => {
      if (!binary) rpc.receive(data.toString());
    });
    peer.ws.on("close", () => rpc.fail(new Error("connection closed")));
    return { program, peer, rpc };
  }

  /** The RpcError a call rejects with. */
  async function failure(call: Promise<unknown>): Promise<{ code: number; message: string }> {
    const error = await call.then(
      (result) => new Error(`expected a failure, got ${JSON.stringify(result)}`),
      (error: unknown) => error,
    );
    if (!(error instanceof RpcError)) throw error;
    return { code: error.code, message: error.message };
  }

  it("answers by id, in the order calls finish, and reports every kind of error", async () => {
    const { program, rpc } = await connect();
    expect(await rpc.call("add", [1, 2])).toBe(3);
    expect(await rpc.call("divide", [1, 4])).toBe(0.25);
    expect(await failure(rpc.call("divide", [1, 0]))).toEqual({ code: 1, message: "division by zero" });
    expect(await failure(rpc.call("add", ["1", 2]))).toEqual({ code: ErrorCode.InvalidParams, message: "expected [a, b], two numbers" });
    expect(await failure(rpc.call("nope"))).toEqual({ code: ErrorCode.MethodNotFound, message: 'no method "nope"' });
    // A bug in a method: the caller learns nothing of it, the server's stderr has it all.
    expect(await failure(rpc.call("crash"))).toEqual({ code: ErrorCode.InternalError, message: "internal error" });
    // The child's stderr is its own pipe: the report may arrive after the answer does.
    await expect.poll(() => program.printed, { timeout: 5_000 }).toContain("a bug in a method");

    // Calls run side by side: the slow one made first is answered last.
    const finished: string[] = [];
    const slow = rpc.call("sleep", { ms: 300 }).then(() => finished.push("sleep"));
    const fast = rpc.call("add", [2, 2]).then(() => finished.push("add"));
    await within(Promise.all([slow, fast]), 10_000, "both calls");
    expect(finished).toEqual(["add", "sleep"]);
    expect(rpc.waiting).toBe(0);
  });

  it("times out on both sides: the caller stops waiting, the server stops the method", async () => {
    const { rpc } = await connect(["--max-timeout-ms", "500"]);
    // The caller's own deadline (sent along, so the server gives up then too).
    let started = Date.now();
    expect(await failure(rpc.call("sleep", { ms: 5_000 }, { timeoutMs: 100 }))).toEqual({
      code: ErrorCode.Timeout,
      message: "sleep: no answer within 100 ms",
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(rpc.waiting).toBe(0);
    // The server's limit, shorter than what the caller would wait.
    started = Date.now();
    expect(await failure(rpc.call("sleep", { ms: 5_000 }, { timeoutMs: 10_000 }))).toEqual({
      code: ErrorCode.Timeout,
      message: "sleep: timed out after 500 ms",
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(3_000);
    // The connection goes on; the late answer to the first call was dropped.
    expect(await rpc.call("add", [20, 22])).toBe(42);
  });

  it("stops reading requests while maxInFlight calls run", async () => {
    const { rpc } = await connect(["--max-in-flight", "2"]);
    const started = Date.now();
    const sleeps = [rpc.call("sleep", { ms: 500 }), rpc.call("sleep", { ms: 500 })];
    // Unread until a sleep has finished, though add itself takes no time.
    expect(await rpc.call("add", [1, 1])).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(await Promise.all(sleeps)).toEqual([500, 500]);
  });

  it("answers what is not a request with id null, and shuts down with 1001", async () => {
    const { program, peer } = await connect();
    const next = async (): Promise<unknown> => JSON.parse(String(await peer.next()));
    peer.ws.send("not json");
    expect(await next()).toEqual({ id: null, error: { code: ErrorCode.ParseError, message: "not JSON" } });
    peer.ws.send(Buffer.from("{}"));
    expect(await next()).toEqual({ id: null, error: { code: ErrorCode.InvalidRequest, message: "requests are text messages" } });
    peer.ws.send(JSON.stringify({ id: 1 }));
    expect(await next()).toMatchObject({ id: null, error: { code: ErrorCode.InvalidRequest } });

    expect(await program.stop()).toEqual({ code: 0, signal: null });
    expect((await peer.closed()).code).toBe(1001);
  });
});

const redisMissing = process.env.CI !== "true" && spawnSync("redis-server", ["--version"]).status !== 0;
if (redisMissing) console.warn("skipping the examples/cluster-chat test: install Debian's redis-server to run it");

describe.skipIf(redisMissing)("examples/cluster-chat: node:cluster workers on one port, rooms in Redis", () => {
  it("people on different workers share a room; SIGTERM stops every worker", async () => {
    const redis = await RedisServer.start();
    try {
      const { program, match } = await start(
        "cluster-chat",
        ["--port", "0", "--workers", "2", "--redis", redis.url],
        /2 workers on ws:\/\/127\.0\.0\.1:(\d+)\//,
      );
      const url = (room: string, name: string) => `ws://127.0.0.1:${match[1]}/chat?room=${room}&name=${name}`;
      const json = async (peer: WsPeer): Promise<Record<string, unknown>> => JSON.parse(String(await peer.next()));

      // Connect until two people in room "r" are on different workers.
      const people: Array<{ peer: WsPeer; worker: number }> = [];
      while (new Set(people.map((p) => p.worker)).size < 2) {
        if (people.length === 10) throw new Error("10 connections, all on one worker");
        const peer = await WsPeer.open(url("r", `p${people.length}`));
        const welcome = await json(peer);
        expect(welcome).toMatchObject({ type: "welcome", room: "r" });
        people.push({ peer, worker: welcome.worker as number });
      }
      const first = people[0];
      const other = people.find((p) => p.worker !== first.worker)!;
      const outsider = await WsPeer.open(url("elsewhere", "x"));
      expect(await json(outsider)).toMatchObject({ type: "welcome", room: "elsewhere" });

      other.peer.ws.send("hello from the other worker");
      for (const { peer } of people) {
        expect(await json(peer)).toEqual({
          type: "message",
          room: "r",
          name: `p${people.indexOf(other)}`,
          text: "hello from the other worker",
          worker: other.worker,
        });
      }
      expect(outsider.messages.length).toBe(0);

      const workers = [...new Set(people.map((p) => p.worker))];
      // SIGTERM to the primary alone: it tells each worker to close its connections and leave Redis.
      expect(await program.stop(15_000, { leaderOnly: true })).toEqual({ code: 0, signal: null });
      for (const { peer } of [...people, { peer: outsider }]) expect((await peer.closed()).code).toBe(1001);
      for (const pid of workers) expect(() => process.kill(pid, 0), `worker ${pid} still running`).toThrow();
      expect(program.printed).not.toMatch(/exited|failed/); // no worker died on the way
    } finally {
      await redis.kill();
    }
  }, 40_000);
});
