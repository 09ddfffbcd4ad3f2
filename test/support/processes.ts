/**
 * Child processes, every wait bounded and every process killed by its PID (or, for
 * programs started in their own process group, by the group id, which is the PID of the
 * process the test started):
 * - `runNode`/`runProgram` run to completion; `startNode` starts a long-running node
 *   whose stdout says when it is ready, killed at the tracker's teardown;
 * - `run`/`runOk`/`Program` for the package and example tests: `npx` runs npm, which runs
 *   a shell, which runs node, so stopping one must reach all of its processes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Resources } from "./resources.js";
import { WAIT_MS, within } from "./timeouts.js";

/** Runs `node ...args` to completion and returns its output; killed (by PID) after `ms`. */
export function runNode(args: readonly string[], ms = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProgram(process.execPath, args, ms);
}

/** Runs `command` with `args`, killed after `ms`; resolves with its exit code and output. */
export async function runProgram(
  command: string,
  args: readonly string[],
  ms = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  try {
    const code = await within(exited, ms, `${command} ${args.join(" ")} to exit`);
    return { code, stdout, stderr };
  } catch (error) {
    killChild(child);
    throw new Error(`${(error as Error).message}; stdout: ${stdout}; stderr: ${stderr}`);
  }
}

/** Sends SIGKILL to `child` by its PID, if it is still running. */
export function killChild(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/**
 * Starts a long-running `node ...args` and resolves once a line of its stdout matches
 * `ready`, with the match. The process is killed by PID at teardown.
 */
export async function startNode(
  resources: Resources,
  args: readonly string[],
  ready: RegExp,
  ms = 20_000,
): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  resources.defer(async () => {
    killChild(child);
    await within(exited, WAIT_MS, "the child process to exit");
  });
  let output = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const match = await within(
    new Promise<RegExpExecArray>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
        const found = ready.exec(output);
        if (found) resolve(found);
      });
      child.once("close", (code) => reject(new Error(`exited with ${code} before ready: ${output}`)));
    }),
    ms,
    `node ${args.join(" ")} to print ${ready}`,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; output so far: ${output}`);
  });
  return { child, match, output: () => output };
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Quiet, offline npm: no update check, no audit, no funding message. */
export const NPM_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  npm_config_update_notifier: "false",
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_loglevel: "warn",
};

/** Runs `command` to completion (killed after `timeoutMs`); resolves with its exit and output. */
export async function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Finished> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<Finished>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  try {
    return await within(exited, options.timeoutMs ?? 30_000, `${command} ${args.join(" ")} to finish`);
  } catch (error) {
    killGroup(child, "SIGKILL");
    throw new Error(`${(error as Error).message}\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
}

/** Like `run`, and fails with the output unless the command exits with 0. */
export async function runOk(...args: Parameters<typeof run>): Promise<Finished> {
  const result = await run(...args);
  if (result.code !== 0) {
    throw new Error(
      `${args[0]} ${args[1].join(" ")} exited with ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return result;
}

/** Sends `signal` to the process group that `child` leads (it was spawned `detached`). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** A long-running program, started in its own process group. */
export class Program {
  private output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private constructor(
    readonly child: ChildProcess,
    readonly description: string,
  ) {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (this.output += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.output += chunk));
    this.exited = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  }

  /** Starts `command`; resolves once its output matches `ready`, with the match. */
  static async start(
    command: string,
    args: readonly string[],
    ready: RegExp,
    options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
  ): Promise<{ program: Program; match: RegExpExecArray }> {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const program = new Program(child, `${command} ${args.join(" ")}`);
    running.add(program);
    const match = await within(
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = (): void => {
          const found = ready.exec(program.output);
          if (found) resolve(found);
        };
        child.stdout!.on("data", check);
        child.stderr!.on("data", check);
        child.once("error", reject);
        child.once("close", (code, signal) => reject(new Error(`exited with ${code ?? signal} before ready`)));
      }),
      options.timeoutMs ?? 20_000, `${program.description} to print ${ready}`,
    ).catch(async (error: unknown) => {
      await program.kill();
      throw new Error(`${(error as Error).message}\noutput: ${program.output}`);
    });
    return { program, match };
  }

  /** Everything it printed so far, stdout and stderr. */
  get printed(): string {
    return this.output;
  }

  /**
   * Sends SIGTERM to its group (as a service manager would; Ctrl-C reaches the group too),
   * or with `leaderOnly` to the process started alone (`kill PID`), and waits for it to exit.
   */
  async stop(
    timeoutMs = 10_000,
    { leaderOnly = false } = {},
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (leaderOnly) this.child.kill("SIGTERM");
    else killGroup(this.child, "SIGTERM");
    try {
      return await within(this.exited, timeoutMs, `${this.description} to exit after SIGTERM`);
    } catch (error) {
      await this.kill();
      throw new Error(`${(error as Error).message}\noutput: ${this.output}`);
    } finally {
      running.delete(this);
    }
  }

  /** SIGKILL to its whole group; waits (bounded) for its exit. */
  async kill(): Promise<void> {
    running.delete(this);
    killGroup(this.child, "SIGKILL");
    await within(this.exited, 5_000, `${this.description} to exit after SIGKILL`).catch(() => {});
  }
}

const running = new Set<Program>();

/** Kills (by process group) every program still running: for afterEach/afterAll. */
export async function killPrograms(): Promise<void> {
  await Promise.all([...running].map((program) => program.kill()));
}
