/**
 * A member that stops reading must not hold up the others or grow the server's memory.
 * One raw client pauses its socket; 1 MiB broadcasts go out until its unsent bytes on the
 * server pass the limit; then the slow-member policy applies ("skip" by default, or
 * "close" with 1008), while the other members receive every message.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { BroadcastReport, GroupOptions, ServerOptions, WebSocket, WsrawServer } from "../../src/server/index.js";
import { type RawClient, TestServer, connectMany, tagOf, taggedMessage } from "./helpers.js";
import { within } from "../support/index.js";

const LIMIT = 64 * 1024;
const MESSAGE_SIZE = 1024 * 1024;
/** Enough to fill the kernel's buffers on loopback many times over; the loop stops much earlier. */
const MAX_ROUNDS = 64;
/** Rounds after the member turned slow, to see the policy hold and the buffer stay put. */
const ROUNDS_WHILE_SLOW = 3;
const FAST_MEMBERS = 3;
/** A frame of MESSAGE_SIZE bytes: payload plus the largest header. */
const FRAME_SIZE = MESSAGE_SIZE + 10;

interface Case {
  name: string;
  broadcast: (server: WsrawServer, conns: WebSocket[], data: string) => BroadcastReport;
  /** What happens to the slow member: left out, closed with 1008, or dropped at once. */
  outcome: "skipped" | "closed" | "terminated";
  serverOptions?: ServerOptions;
}

const group = (options: GroupOptions) => (server: WsrawServer, conns: WebSocket[], data: string) => {
  const room = server.group("room", options);
  for (const ws of conns) room.add(ws);
  return room.broadcast(data);
};

const CASES: Case[] = [
  { name: "group, default policy (skip)", broadcast: group({ maxBufferedAmount: LIMIT }), outcome: "skipped" },
  { name: 'group, policy "skip"', broadcast: group({ maxBufferedAmount: LIMIT, slowMemberPolicy: "skip" }), outcome: "skipped" },
  { name: 'group, policy "close"', broadcast: group({ maxBufferedAmount: LIMIT, slowMemberPolicy: "close" }), outcome: "closed" },
  // server.broadcast skips members over the send high-water mark (LIMIT here).
  { name: "server.broadcast (skip)", broadcast: (server, _, data) => server.broadcast(data), outcome: "skipped" },
  // A group limit above the server's hard limit: the server's limit wins, the member is
  // failed (TCP dropped, 1008 on the server side) and the report counts it as closed.
  {
    name: "the server's maxBufferedAmount below the group's",
    broadcast: group({ maxBufferedAmount: 1024 * 1024 * 1024 }),
    outcome: "terminated",
    serverOptions: { maxBufferedAmount: 2 * MESSAGE_SIZE },
  },
];

let server: TestServer | undefined;
let clients: RawClient[] = [];

afterEach(async () => {
  for (const client of clients) client.destroy();
  clients = [];
  await server?.close();
  server = undefined;
});

describe.each(CASES)("slow member: $name", ({ broadcast, outcome, serverOptions }) => {
  it("does not hold up the others, and its buffer stays bounded", async () => {
    // drained() resolves below sendHighWaterMark: with it at LIMIT, a drained member is
    // not slow. The close timeout is long so a closed slow member keeps its close frame
    // queued until the test reads it.
    server = await new TestServer({ sendHighWaterMark: LIMIT, closeTimeoutMs: 30_000, ...serverOptions }).start();
    clients = await connectMany(server.port, FAST_MEMBERS + 1);
    const conns = await server.connectionsAccepted(FAST_MEMBERS + 1);
    const [slowClient, ...fastClients] = clients;
    const [slowWs, ...fastWs] = conns;
    slowClient.pause();

    const reports: BroadcastReport[] = [];
    const sent: string[] = [];
    let firstSlowRound = -1;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // The fast members have caught up (so they are not slow): wait for their buffers.
      await within(Promise.all(fastWs.map((ws) => ws.drained())), 10_000, "the fast members to drain");
      const data = taggedMessage(`m${round}`, MESSAGE_SIZE);
      sent.push(tagOf(data));
      const report = broadcast(server.server, conns, data);
      reports.push(report);
      const slowNow = report[outcome === "skipped" ? "skipped" : "closed"] === 1;
      // The fast members always get it; the slow one until it is found slow.
      expect(report.delivered).toBe(FAST_MEMBERS + (firstSlowRound === -1 && !slowNow ? 1 : 0));
      await within(
        Promise.all(fastClients.map((client) => client.waitForMessages(round + 1, 10_000))),
        15_000,
        `the fast members to receive message ${round}`,
      );
      if (firstSlowRound === -1 && slowNow) firstSlowRound = round;
      if (firstSlowRound !== -1) {
        // Its unsent bytes: under the limit when the last message was queued, plus that
        // message (a dropped member has no buffer left to check).
        if (outcome !== "terminated") expect(slowWs.bufferedAmount).toBeLessThanOrEqual(LIMIT + FRAME_SIZE);
        if (round - firstSlowRound >= ROUNDS_WHILE_SLOW) break;
      }
    }
    expect(firstSlowRound, "the paused member never became slow").toBeGreaterThan(0);
    for (const client of fastClients) expect(client.messages.map(tagOf)).toEqual(sent);

    const afterSlow = reports.slice(firstSlowRound);
    const deliveredToSlow = sent.slice(0, firstSlowRound);
    if (outcome === "skipped") {
      // Counted as skipped every round, and left open.
      expect(afterSlow.map((r) => r.skipped)).toEqual(afterSlow.map(() => 1));
      expect(slowWs.readyState).toBe(1);
      // Once it reads again, it gets the messages it was sent, whole and in order, and
      // the next broadcast reaches it again.
      slowClient.resume();
      await slowClient.waitForMessages(deliveredToSlow.length, 20_000);
      await within(slowWs.drained(), 10_000, "the slow member to drain");
      expect(broadcast(server.server, conns, "caught up")).toEqual({ delivered: FAST_MEMBERS + 1, skipped: 0, closed: 0 });
      await slowClient.waitForMessage("caught up");
      expect(slowClient.messages.map(tagOf)).toEqual([...deliveredToSlow, "caught up"]);
    } else {
      // Closed once, then simply not a recipient any more.
      expect(afterSlow.map((r) => r.closed)).toEqual([1, ...afterSlow.slice(1).map(() => 0)]);
      expect(afterSlow.every((r) => r.skipped === 0 && r.delivered === FAST_MEMBERS)).toBe(true);
      slowClient.resume();
      if (outcome === "closed") {
        // The close frame waits behind the queued messages; the handshake then completes.
        expect(slowWs.readyState).toBe(2);
        const close = await slowClient.waitForClose(20_000);
        expect(close.code).toBe(1008);
        expect(close.reason).toMatch(/slow/);
        expect(slowClient.messages.map(tagOf)).toEqual(deliveredToSlow);
        expect(await within(slowWs.closed, 10_000, "the slow member to close")).toMatchObject({ code: 1008, wasClean: true });
      } else {
        // Dropped without a close frame; the server records why.
        const info = await within(slowWs.closed, 10_000, "the slow member to be dropped");
        expect(info).toMatchObject({ code: 1008, wasClean: false });
        expect(info.reason).toMatch(/unsent data/);
        await within(slowClient.waitForEnd(), 10_000, "the slow member's TCP connection to end");
        expect(slowClient.closeFrame).toBeUndefined();
        expect(slowWs.readyState).toBe(3);
      }
      const room = server.server.groups.get("room");
      expect(room?.has(slowWs)).toBe(false);
      expect(room?.size).toBe(FAST_MEMBERS);
    }
  }, 60_000);
});
