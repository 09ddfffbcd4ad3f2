/**
 * Liveness while paused (issue 14, item 5): a connection that backpressure has paused (its
 * application does not read, so the server stops reading the socket) is exempt from the
 * heartbeat and idle timeouts, since its pong may wait unread; TCP keepalive watches its
 * peer instead, and each check asks the kernel whether it has given up on the connection.
 *
 * - In a network namespace of its own (fixtures/paused-peer.mjs under `unshare -n`), once
 *   the connection is paused every packet is lost, as when a peer loses power: the server
 *   ends it within the keepalive bound. Beside it, in another namespace, a paused peer that
 *   stays alive is kept open past that bound, and all it sent is read once the application
 *   catches up. Without `unshare`, iproute2 or the privilege these are skipped, saying
 *   what is missing, except under CI=true, where they fail.
 * - In this process: a paused live peer is not pinged and stays open through many
 *   heartbeat rounds; a paused peer that reset the connection (the kernel knows, Node does
 *   not read) is dropped within one check, over TCP and over TLS.
 */
import { spawnSync } from "node:child_process";
import { type Socket, connect as connectTcp } from "node:net";
import { connect as connectTls } from "node:tls";
import { fileURLToPath } from "node:url";
import type { Duplex } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ReadyState, type ServerOptions, type WebSocket } from "../../src/index.js";
import { Op, RawClient, type TestServer, cleanupAll, clientFrame, neverRead, onCleanup, startServer, upgradeRequest } from "./helpers.js";
import { KiB, MiB, delay, runProgram, within } from "../support/index.js";
import { type TestCerts, makeCerts, opensslSkip, removeCerts } from "../client/certs.js";

/** The fixture's too: a paused peer's keepalive starts after 1 s, the timeout rounded up. */
const HEARTBEAT = { intervalMs: 200, timeoutMs: 200 };
const KEEPALIVE_MS = 1_000;
/** libuv's keepalive on each socket: 10 probes, 1 s apart (TCP_KEEPCNT, TCP_KEEPINTVL). */
const PROBES_MS = 10 * 1_000;
/** Allowance for late timers and a busy event loop, on top of each documented bound. */
const SLACK_MS = 2_000;
/** The documented bound for a vanished paused peer, plus the slack. */
const VANISHED_BOUND_MS = KEEPALIVE_MS + PROBES_MS + HEARTBEAT.intervalMs + SLACK_MS;

afterEach(cleanupAll);

// ---------------------------------------------------------------------------------------
// In a network namespace: packet loss
// ---------------------------------------------------------------------------------------

const FIXTURE = fileURLToPath(new URL("./fixtures/paused-peer.mjs", import.meta.url));
/** Root makes the namespace itself; anyone else through a user namespace (`-r`). */
const UNSHARE_ARGS = process.getuid?.() === 0 ? ["-n"] : ["-rn"];

/** The last line of the fixture's output, parsed. */
function lastReport(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.trim().split("\n").at(-1);
  try {
    return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What this machine lacks to run the namespace tests, or undefined when it has it all. */
function namespaceUnavailable(): string | undefined {
  const check = spawnSync("unshare", [...UNSHARE_ARGS, process.execPath, FIXTURE, "check"], { encoding: "utf8", timeout: 20_000 });
  if ((check.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    return "the unshare command is missing: install util-linux (and iproute2)";
  }
  const report = lastReport(check.stdout ?? "");
  if (report?.ready === true) return undefined;
  if (typeof report?.unavailable === "string") return report.unavailable;
  if (/Operation not permitted|Permission denied/.test(check.stderr ?? "")) {
    return `unshare ${UNSHARE_ARGS.join(" ")} is not permitted: run as root (CAP_SYS_ADMIN, CAP_NET_ADMIN)`;
  }
  // Anything else is a failure of the fixture: not skipped, the tests report it.
  return undefined;
}

const unavailable = namespaceUnavailable();
const namespaceSkip = process.env.CI === "true" ? undefined : unavailable;
if (namespaceSkip !== undefined) console.warn(`skipping the network namespace tests of paused liveness: ${namespaceSkip}`);

/** Runs the fixture in a new network namespace (killed by PID after `ms`); resolves with its report. */
async function runFixture(mode: "vanish" | "alive", args: string[] = [], ms = 60_000): Promise<Record<string, unknown>> {
  // `unshare` runs node in its own place (exec, no fork): the PID killed on timeout is node's.
  const { code, stdout, stderr } = await runProgram("unshare", [...UNSHARE_ARGS, process.execPath, FIXTURE, mode, ...args], ms);
  const report = lastReport(stdout);
  if (code !== 0 || report === undefined || "error" in report || "unavailable" in report) {
    throw new Error(`the ${mode} fixture exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  return report;
}

describe.skipIf(namespaceSkip !== undefined)(
  `a paused connection, in a network namespace${namespaceSkip ? ` (skipped: ${namespaceSkip})` : ""}`,
  () => {
    let vanished: Promise<Record<string, unknown>>;
    let alive: Promise<Record<string, unknown>>;

    beforeAll(() => {
      if (unavailable !== undefined) throw new Error(unavailable); // only under CI=true
      // Both at once, each in a namespace of its own: together they take as long as one.
      vanished = runFixture("vanish");
      alive = runFixture("alive", [String(VANISHED_BOUND_MS + 1_000)]);
      vanished.catch(() => {}); // awaited by the tests
      alive.catch(() => {});
    });

    it("is ended (1006) within keepalive delay + 10 probes + one round once every packet is lost", async () => {
      const report = await vanished;
      expect(report.pauses, "the server paused the connection").toBeGreaterThanOrEqual(1);
      expect(report.peerBacklog, "TCP pushed back on the peer").toBeGreaterThan(0);
      expect(report.info).toEqual({ code: 1006, reason: "connection lost while paused (ETIMEDOUT)", wasClean: false });
      // Not before the kernel's probes (the heartbeat leaves a paused connection alone), and
      // not long after: the kernel gives up at keepalive delay + 10 probes, the next round sees it.
      expect(report.closedAfterMs).toBeGreaterThanOrEqual(KEEPALIVE_MS);
      expect(report.closedAfterMs, `ended ${report.closedAfterMs} ms after the loss`).toBeLessThanOrEqual(VANISHED_BOUND_MS);
    }, 70_000);

    it("is kept open past that bound while its peer is alive, then everything it sent is read", async () => {
      const report = await alive;
      expect(report.closedEarly, "the live peer's connection was ended").toBeUndefined();
      expect(report.pauses).toBeGreaterThanOrEqual(1);
      expect(report.peerBacklog, "TCP pushed back on the peer").toBeGreaterThan(0);
      expect(report.survivedMs).toBeGreaterThan(VANISHED_BOUND_MS);
      expect(report.stayedPaused, "paused all along: the application read nothing").toBe(true);
      expect(report.openAfterWatch).toBe(1);
      expect(report.read, "every message the peer sent").toBe(report.sent);
    }, 70_000);
  },
);

// ---------------------------------------------------------------------------------------
// In this process: a live peer, and a peer that reset the connection
// ---------------------------------------------------------------------------------------

const FRAME = clientFrame(Op.Binary, Buffer.alloc(60 * KiB));

/**
 * Writes frames on `socket` until the server has paused `ws` and TCP pushes back: the
 * writer's backlog stops draining, so the server's Node no longer reads the socket at all.
 */
async function fillUntilPaused(socket: Duplex, ws: WebSocket): Promise<void> {
  const deadline = performance.now() + 10_000;
  let backlog = -1;
  for (;;) {
    if (ws.isPaused && socket.writableLength === backlog) return;
    if (performance.now() > deadline) throw new Error(`the connection was not paused in 10 s (paused: ${ws.isPaused})`);
    while (socket.writableLength < MiB) socket.write(FRAME);
    backlog = socket.writableLength;
    await delay(50);
  }
}

/** Sends the opening handshake on `socket` and waits for the 101. */
/** Resets `tcp` and expects the paused `ws` ended (1006, ECONNRESET) within one check of `checkMs`. */
async function expectEndedAfterReset(tcp: Socket, ws: WebSocket, checkMs: number): Promise<void> {
  tcp.resetAndDestroy();
  const resetAt = performance.now();
  const info = await within(ws.closed, 5_000, "the server to end the paused connection");
  expect(info).toEqual({ code: 1006, reason: "connection lost while paused (ECONNRESET)", wasClean: false });
  expect(performance.now() - resetAt).toBeLessThanOrEqual(checkMs + 500);
}

async function upgrade(socket: Duplex): Promise<void> {
  socket.write(upgradeRequest("/fill"));
  const head = await within(
    new Promise<string>((resolve) => {
      let received = "";
      const onData = (chunk: Buffer): void => {
        received += chunk.toString("latin1");
        if (!received.includes("\r\n\r\n")) return;
        socket.off("data", onData);
        resolve(received);
      };
      socket.on("data", onData);
    }),
    5_000,
    "the 101 response",
  );
  expect(head.split("\r\n")[0]).toBe("HTTP/1.1 101 Switching Protocols");
  socket.resume(); // reads (and so acknowledges) whatever the server sends
}

/** A TCP connection to the test server; destroyed in cleanup. */
async function tcpTo(port: number): Promise<Socket> {
  const socket = connectTcp({ port, host: "127.0.0.1", noDelay: true });
  socket.on("error", () => {});
  onCleanup(() => socket.destroy());
  await within(new Promise((resolve) => socket.once("connect", resolve)), 5_000, "a TCP connection");
  return socket;
}

/** A server whose one route never reads, pausing a connection at 4 unread messages. */
function pausingServer(options: ServerOptions): Promise<TestServer> {
  return startServer({ maxQueuedMessages: 4, ...options }, neverRead);
}

describe("a paused connection, in process", () => {
  it("is not pinged while its live peer waits, and stays open through many heartbeat rounds", async () => {
    const t = await pausingServer({ heartbeat: HEARTBEAT });
    const client = await RawClient.open(t.port, "/fill");
    const ws = await t.connection(0);
    await fillUntilPaused(client.socket, ws);
    const framesBefore = client.frames.length;

    await delay(10 * HEARTBEAT.intervalMs);
    expect(ws.isPaused).toBe(true);
    expect(ws.readyState).toBe(ReadyState.OPEN);
    const pings = client.frames.slice(framesBefore).filter((frame) => frame.opcode === Op.Ping);
    // A ping in flight would hold TCP keepalive back (the kernel retransmits it instead).
    expect(pings, "pings sent while paused").toHaveLength(0);
    expect(client.ended).toBe(false);
    // Not closed: a paused connection would wait closeTimeoutMs for the peer's close frame.
    ws.terminate();
  });

  const resetCases: Array<{ name: string; options: ServerOptions; checkMs: number }> = [
    { name: "a heartbeat", options: { heartbeat: HEARTBEAT }, checkMs: HEARTBEAT.intervalMs },
    // Checked every idleTimeoutMs / 4.
    { name: "an idle timeout", options: { idleTimeoutMs: 400 }, checkMs: 100 },
  ];
  for (const { name, options, checkMs } of resetCases) {
    it(`with ${name}: is ended within one check once its peer reset the connection`, async () => {
      const t = await pausingServer(options);
      const tcp = await tcpTo(t.port);
      await upgrade(tcp);
      const ws = await t.connection(0);
      await fillUntilPaused(tcp, ws);

      await expectEndedAfterReset(tcp, ws, checkMs);
    });
  }

  describe.skipIf(opensslSkip !== undefined)(`over TLS${opensslSkip ? ` (skipped: ${opensslSkip})` : ""}`, () => {
    let certs: TestCerts | undefined;
    beforeAll(async () => {
      certs = await makeCerts();
    });
    afterAll(() => removeCerts(certs));

    it("is ended within one round once its peer reset the TCP connection under TLS", async () => {
      const t = await pausingServer({ heartbeat: HEARTBEAT, tls: { key: certs!.localhost.key, cert: certs!.localhost.cert } });
      const tcp = await tcpTo(t.port);
      const secure = connectTls({ socket: tcp, servername: "localhost", ca: certs!.ca.cert });
      secure.on("error", () => {});
      onCleanup(() => secure.destroy());
      await within(new Promise((resolve) => secure.once("secureConnect", resolve)), 5_000, "the TLS handshake");
      await upgrade(secure);
      const ws = await t.connection(0);
      await fillUntilPaused(secure, ws);

      await expectEndedAfterReset(tcp, ws, HEARTBEAT.intervalMs);
    });
  });
});
