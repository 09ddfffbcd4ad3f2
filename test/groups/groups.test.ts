/**
 * Group membership and broadcast semantics: `except`, server-wide broadcast, members
 * leaving on close, empty groups forgotten, `add` of a closed connection, `remove`, and
 * idle members expiring.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { GroupOptions, WebSocket } from "../../src/server/index.js";
import { type RawClient, TestServer, type TestServerOptions, connectMany } from "./helpers.js";
import { within } from "../support/index.js";

/** What every test opened; closed after each test. */
let server: TestServer | undefined;
let clients: RawClient[] = [];

afterEach(async () => {
  for (const client of clients) client.destroy();
  clients = [];
  await server?.close();
  server = undefined;
});

/** A server with `count` connected clients; returns the clients and their server-side connections. */
async function setUp(
  count: number,
  options: TestServerOptions = {},
): Promise<{ srv: TestServer; clients: RawClient[]; conns: WebSocket[] }> {
  server = await new TestServer(options).start();
  clients = await connectMany(server.port, count);
  const conns = await server.connectionsAccepted(count);
  return { srv: server, clients, conns };
}

/**
 * What each client received since the last call (then forgotten). Sends `marker` on each
 * connection: a connection's frames leave in the order they were queued, so once a client
 * has the marker, it has everything queued for it before, and nothing is still on its way.
 */
async function received(conns: WebSocket[], cs: RawClient[], marker = "marker"): Promise<string[][]> {
  for (const ws of conns) ws.send(marker);
  await Promise.all(cs.map((client) => client.waitForMessage(marker)));
  const result = cs.map((client) => {
    expect(client.messages.at(-1)).toBe(marker);
    return client.messages.slice(0, -1);
  });
  for (const client of cs) client.messages.length = 0;
  return result;
}

describe("broadcast", () => {
  it("sends to every member except the one named in `except`", async () => {
    const { srv, clients: cs, conns } = await setUp(3);
    const room = srv.server.group("room");
    for (const ws of conns) room.add(ws);
    // Adding twice changes nothing: one membership, one copy.
    room.add(conns[1]);
    expect(room.size).toBe(3);

    expect(room.broadcast("from 0", { except: conns[0] })).toEqual({ delivered: 2, skipped: 0, closed: 0 });
    expect(await received(conns, cs)).toEqual([[], ["from 0"], ["from 0"]]);

    expect(room.broadcast("to all")).toEqual({ delivered: 3, skipped: 0, closed: 0 });
    expect(await received(conns, cs)).toEqual([["to all"], ["to all"], ["to all"]]);
  });

  it("server.broadcast reaches every open connection, in a group or not", async () => {
    const { srv, clients: cs, conns } = await setUp(3);
    srv.server.group("a").add(conns[0]);
    srv.server.group("b").add(conns[1]);
    expect(srv.server.broadcast("everyone")).toEqual({ delivered: 3, skipped: 0, closed: 0 });
    expect(await received(conns, cs)).toEqual([["everyone"], ["everyone"], ["everyone"]]);

    const bytes = new Uint8Array([1, 2, 3]);
    expect(srv.server.broadcast(bytes, { except: conns[2] })).toEqual({ delivered: 2, skipped: 0, closed: 0 });
    expect(await received(conns, cs)).toEqual([["bin:3"], ["bin:3"], []]);
  });

  it("leaves out members that are closing", async () => {
    const { srv, clients: cs, conns } = await setUp(2, { closeTimeoutMs: 10_000 });
    const room = srv.server.group("room").add(conns[0]).add(conns[1]);
    conns[1].close(1000, "bye");
    expect(room.broadcast("after close")).toEqual({ delivered: 1, skipped: 0, closed: 0 });
    expect(srv.server.broadcast("server-wide")).toEqual({ delivered: 1, skipped: 0, closed: 0 });
    await within(conns[1].closed, 5000, "the closing handshake");
    expect(cs[1].messages).toEqual([]);
  });
});

describe("group options", () => {
  it("refuses a slow-member policy that is not one, and a limit no buffer can be compared with", async () => {
    const { srv } = await setUp(0);
    const bad = { slowMemberPolicy: "drop" } as unknown as GroupOptions;
    expect(() => srv.server.group("g", bad)).toThrow(new TypeError('slowMemberPolicy must be "skip" or "close", got "drop"'));
    for (const maxBufferedAmount of [-1, 0, Number.NaN]) {
      expect(() => srv.server.group("g", { maxBufferedAmount })).toThrow(RangeError);
    }
    expect(() => srv.server.group("g", { slowMemberPolicy: "close", maxBufferedAmount: Infinity })).not.toThrow();
  });
});

describe("membership", () => {
  it("a member that closes leaves its groups, and an empty group is forgotten", async () => {
    const { srv, clients: cs, conns } = await setUp(2);
    const room = srv.server.group("room").add(conns[0]).add(conns[1]);
    const side = srv.server.group("side").add(conns[1]);
    expect([...srv.server.groups.keys()].sort()).toEqual(["room", "side"]);
    expect(srv.server.group("room")).toBe(room);

    cs[1].close();
    expect(await within(conns[1].closed, 5000, "conns[1] to close")).toMatchObject({ code: 1000, wasClean: true });
    expect(room.size).toBe(1);
    expect(room.has(conns[1])).toBe(false);
    expect(side.size).toBe(0);
    expect([...srv.server.groups.keys()]).toEqual(["room"]);

    cs[0].close();
    await within(conns[0].closed, 5000, "conns[0] to close");
    expect(room.size).toBe(0);
    expect(srv.server.groups.size).toBe(0);
    // A forgotten name gives a new, empty group.
    expect(srv.server.group("room")).not.toBe(room);
    expect(room.broadcast("nobody")).toEqual({ delivered: 0, skipped: 0, closed: 0 });
  });

  it("membership belongs to the name: handles taken before anyone joined share members", async () => {
    const { srv, clients: cs, conns } = await setUp(2);
    const first = srv.server.group("shared");
    const second = srv.server.group("shared");
    first.add(conns[0]);
    second.add(conns[1]);
    expect(first.size).toBe(2);
    expect([...second]).toEqual([conns[0], conns[1]]);
    expect(srv.server.groups.get("shared")).toBe(first);
    expect(second.broadcast("both")).toEqual({ delivered: 2, skipped: 0, closed: 0 });
    expect(await received(conns, cs)).toEqual([["both"], ["both"]]);
    // A handle with its own options works on the same members.
    expect(srv.server.group("shared", { slowMemberPolicy: "close" }).size).toBe(2);
  });

  it("add() ignores a closed connection", async () => {
    const { srv, clients: cs, conns } = await setUp(1);
    cs[0].close();
    await within(conns[0].closed, 5000, "the connection to close");
    const room = srv.server.group("late").add(conns[0]);
    expect(room.size).toBe(0);
    expect(room.has(conns[0])).toBe(false);
    expect(srv.server.groups.has("late")).toBe(false);
  });

  it("remove() takes a member out without closing it", async () => {
    const { srv, clients: cs, conns } = await setUp(2);
    const room = srv.server.group("room").add(conns[0]).add(conns[1]);
    expect(room.remove(conns[1])).toBe(true);
    expect(room.remove(conns[1])).toBe(false);
    expect([...room]).toEqual([conns[0]]);
    expect(room.broadcast("members only")).toEqual({ delivered: 1, skipped: 0, closed: 0 });
    expect(await received(conns, cs)).toEqual([["members only"], []]);
    expect(conns[1].readyState).toBe(1);

    expect(room.remove(conns[0])).toBe(true);
    expect(srv.server.groups.has("room")).toBe(false);
    // Re-joining registers the group again.
    room.add(conns[1]);
    expect(srv.server.groups.get("room")).toBe(room);
    // A removed member's close no longer touches the group.
    cs[0].close();
    await within(conns[0].closed, 5000, "conns[0] to close");
    expect([...room]).toEqual([conns[1]]);
  });
});

describe("expiry", () => {
  const IDLE_MS = 1000;

  it("an idle member is closed with 1001 and leaves its group; an active one stays", async () => {
    const { srv, clients: cs, conns } = await setUp(2, { idleTimeoutMs: IDLE_MS });
    const room = srv.server.group("room").add(conns[0]).add(conns[1]);
    const start = performance.now();
    // cs[1] keeps talking, ten times per idle period; bounded in count.
    let sent = 0;
    const keepAlive = setInterval(() => {
      if (sent++ < 50) cs[1].sendText("still here");
    }, IDLE_MS / 10);
    try {
      const close = await cs[0].waitForClose(IDLE_MS * 5);
      const elapsed = performance.now() - start;
      expect(close).toEqual({ code: 1001, reason: "idle timeout" });
      expect(elapsed).toBeGreaterThanOrEqual(IDLE_MS * 0.9);
      expect(await within(conns[0].closed, 5000, "the idle connection to close")).toMatchObject({ code: 1001 });
      expect([...room]).toEqual([conns[1]]);
      expect(conns[1].readyState).toBe(1);
      expect(srv.server.groups.get("room")).toBe(room);
    } finally {
      clearInterval(keepAlive);
    }
  });
});
