/**
 * Heartbeat and idle timeout over real sockets: a peer that stops answering pings is
 * dropped within `intervalMs + timeoutMs`, a silent peer is closed with 1001 within
 * 1.25 × `idleTimeoutMs`, and healthy peers on the same server are left alone.
 *
 * Bounds carry a slack for timer lateness on a loaded 2-core machine (other test files
 * run at the same time): SLACK_MS is added to every upper bound.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ReadyState } from "../../src/index.js";
import { Op, RawClient, cleanupAll, closeWsClient, expectWsEcho, openWsClient, startServer } from "./helpers.js";
import { delay, within } from "../support/index.js";

/** Allowance for late timers and a busy event loop, on top of each documented bound. */
const SLACK_MS = 300;

afterEach(cleanupAll);

describe("heartbeat", () => {
  const intervalMs = 200;
  const timeoutMs = 200;

  it("drops a peer that never answers pings within interval + timeout, and keeps a healthy one", async () => {
    const t = await startServer({ heartbeat: { intervalMs, timeoutMs } });
    const healthy = await openWsClient(t.port);
    let pingsSeen = 0;
    healthy.on("ping", () => pingsSeen++);
    const healthySide = await t.connection(0);

    // Reads everything (so TCP never backs up) but never sends a pong.
    const silent = await RawClient.open(t.port);
    const handshakeDone = performance.now();
    const silentSide = await t.connection(1);

    await silent.endReceived(intervalMs + timeoutMs + 3_000);
    const droppedAfter = performance.now() - handshakeDone;
    expect(droppedAfter).toBeLessThanOrEqual(intervalMs + timeoutMs + SLACK_MS);
    expect(silent.frames.some((frame) => frame.opcode === Op.Ping), "the silent peer was pinged").toBe(true);
    expect(silent.closeFrame, "a heartbeat timeout is not a closing handshake").toBeUndefined();
    expect(await within(silentSide.closed, 2_000, "closed")).toMatchObject({ code: 1006, wasClean: false });

    // The ws client answers every ping by itself: still open after several rounds.
    await within(
      new Promise<void>((resolve) => healthy.on("ping", () => pingsSeen >= 5 && resolve())),
      5 * intervalMs + 3_000,
      "five pings to the healthy client",
    );
    expect(healthy.readyState).toBe(healthy.OPEN);
    expect(healthySide.readyState).toBe(ReadyState.OPEN);
    await expectWsEcho(healthy, "still here");
    expect(t.server.connections).toBe(1);
    await closeWsClient(healthy);
  });
});

describe("idle timeout", () => {
  const idleTimeoutMs = 300;

  it("closes a silent peer with 1001 within 1.25 × the timeout, and not an active one", async () => {
    const t = await startServer({ idleTimeoutMs });

    const active = await openWsClient(t.port);
    let activeClosed = false;
    active.on("close", () => (activeClosed = true));
    const activeSession = (async () => {
      // 12 messages, one every 100 ms: 1.2 s of activity, four times the idle timeout.
      for (let i = 0; i < 12; i++) {
        await expectWsEcho(active, `tick ${i}`);
        await delay(100);
      }
    })();

    const silent = await RawClient.open(t.port);
    const handshakeDone = performance.now();
    const silentSide = await t.connection(1);
    silent.answerClose = true;

    const close = await silent.closeFrameReceived(idleTimeoutMs * 1.25 + 3_000);
    const closedAfter = performance.now() - handshakeDone;
    expect(close.code).toBe(1001);
    expect(close.reason.length, "a reason is given").toBeGreaterThan(0);
    expect(closedAfter).toBeGreaterThanOrEqual(idleTimeoutMs - 20);
    expect(closedAfter).toBeLessThanOrEqual(idleTimeoutMs * 1.25 + SLACK_MS);
    // Our close reply completes the handshake: the server closes TCP and reports it clean.
    await silent.endReceived();
    expect(await within(silentSide.closed, 2_000, "closed")).toEqual({ code: 1001, reason: "", wasClean: true });

    await within(activeSession, 10_000, "the active client's session");
    expect(activeClosed).toBe(false);
    expect(t.server.connections).toBe(1);
    await closeWsClient(active);
  });
});
