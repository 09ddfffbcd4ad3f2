/**
 * Request/response over the Node IPC channel between `bench/run.mjs` and its children
 * (the servers under test and the load generator), plus how children are started:
 * each in its own process, pinned to one core with `taskset` when it is available.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Milliseconds a child may take to say it is ready. */
const READY_TIMEOUT_MS = 15_000;

let tasksetChecked;

/** True when `taskset -c 0` works here (Linux with util-linux, at least two cores). */
export function tasksetAvailable(cores) {
  if (tasksetChecked === undefined) {
    const probe = spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    tasksetChecked = probe.status === 0 && cores >= 2;
  }
  return tasksetChecked;
}

/**
 * Starts `script` in a child Node process, on `core` when taskset is usable, and resolves
 * once the child sends `{ ready: true, ... }`. `child.call(cmd, args)` sends a request and
 * resolves with the child's result; `child.stop()` kills it (by its PID) and waits for it.
 */
export function startChild(script, { core, pin, nodeArgs = [], args = [], env = {}, name = script } = {}) {
  const nodeCommand = [process.execPath, ...nodeArgs, script, ...args];
  const [command, ...argv] = pin ? ["taskset", "-c", String(core), ...nodeCommand] : nodeCommand;
  const proc = spawn(command, argv, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, ...env },
  });
  const pending = new Map();
  let nextId = 1;
  let exited = false;
  const exitedPromise = new Promise((resolve) => proc.once("exit", resolve));

  const fail = (error) => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  proc.once("exit", (code, signal) => {
    exited = true;
    fail(new Error(`${name} exited (code ${code}, signal ${signal})`));
  });
  proc.on("error", (error) => fail(error));

  const child = {
    name,
    pid: proc.pid,
    info: undefined,
    call(cmd, callArgs = {}, timeoutMs = 120_000) {
      if (exited) return Promise.reject(new Error(`${name} has exited`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: "${cmd}" got no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (value) => (clearTimeout(timer), resolve(value)),
          reject: (error) => (clearTimeout(timer), reject(error)),
        });
        proc.send({ id, cmd, args: callArgs });
      });
    },
    /** Asks the child to exit (it does when the IPC channel closes); kills it after 5 s. */
    async stop() {
      if (exited) return;
      if (proc.connected) proc.disconnect();
      else proc.kill("SIGKILL");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void child.stop();
      reject(new Error(`${name} did not start within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    proc.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready`));
    });
    proc.on("message", (message) => {
      if (message.ready) {
        clearTimeout(timer);
        child.info = message;
        resolve(child);
        return;
      }
      const waiter = pending.get(message.id);
      if (waiter === undefined) return;
      pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message.result);
    });
  });
}

/**
 * Child side: answers requests from the parent with `handlers[cmd](args)` (sync or async),
 * then announces `{ ready: true, ...info }`. The child exits when the parent goes away.
 */
export function serveRequests(handlers, info = {}) {
  process.on("message", async ({ id, cmd, args }) => {
    const handler = handlers[cmd];
    try {
      if (handler === undefined) throw new Error(`unknown command ${cmd}`);
      const result = await handler(args);
      process.send({ id, result });
    } catch (error) {
      process.send({ id, error: error instanceof Error ? error.stack ?? error.message : String(error) });
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ ready: true, ...info });
}

/**
 * CPU time (user + system, ms) and wall time (ms) of this process, for `cpuShare`; and,
 * on Linux, how long its main (JavaScript) thread has waited on a run queue: runnable but
 * not running because other processes had the core, for `waitShare`.
 */
export function cpuSnapshot() {
  const { user, system } = process.cpuUsage();
  return { cpuMs: (user + system) / 1000, wallMs: performance.now(), waitMs: runQueueWaitMs() };
}

function runQueueWaitMs() {
  try {
    // /proc/<pid>/schedstat: time on the CPU, time waiting on a run queue (ns), timeslices.
    return Number(readFileSync("/proc/self/schedstat", "latin1").split(" ")[1]) / 1e6;
  } catch {
    return NaN;
  }
}

/** CPU time over wall time between two snapshots: 1.0 is one core fully busy. */
export function cpuShare(start, end) {
  const wall = end.wallMs - start.wallMs;
  return wall > 0 ? (end.cpuMs - start.cpuMs) / wall : 0;
}

/** Run-queue wait over wall time between two snapshots (NaN where unknown). */
export function waitShare(start, end) {
  const wall = end.wallMs - start.wallMs;
  return wall > 0 ? (end.waitMs - start.waitMs) / wall : NaN;
}
