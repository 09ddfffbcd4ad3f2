/**
 * Addressing a user: `req.user` set by the authorize hook, `sendToUser` reaching every
 * connection of that user (two tabs), and `connectionsOf` following closes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type RawClient, TestServer, WS_PATH, connectRaw } from "./helpers.js";
import { within } from "../support/index.js";
import { connect, createServer, requireWebSocket } from "../../src/index.js";

let server: TestServer | undefined;
let clients: RawClient[] = [];

afterEach(async () => {
  for (const client of clients) client.destroy();
  clients = [];
  await server?.close();
  server = undefined;
});

async function connectAs(user: string): Promise<RawClient> {
  const client = await connectRaw(server!.port, `${WS_PATH}?user=${encodeURIComponent(user)}`);
  clients.push(client);
  return client;
}

describe("sendToUser", () => {
  it("reaches every connection of the user, and follows them as they close", async () => {
    server = await new TestServer({
      authorizeRoute: (req) => {
        req.user = req.query.get("user") ?? undefined;
      },
    }).start();
    const srv = server.server;
    const aliceTab1 = await connectAs("alice");
    const aliceTab2 = await connectAs("alice");
    const bob = await connectAs("bob");
    const [alice1, alice2, bobWs] = await server.connectionsAccepted(3);
    expect([alice1.user, alice2.user, bobWs.user]).toEqual(["alice", "alice", "bob"]);
    expect(new Set(srv.connectionsOf("alice"))).toEqual(new Set([alice1, alice2]));

    expect(srv.sendToUser("alice", "hi alice")).toEqual({ delivered: 2, skipped: 0, closed: 0 });
    expect(srv.sendToUser("bob", "hi bob")).toEqual({ delivered: 1, skipped: 0, closed: 0 });
    await Promise.all([aliceTab1.waitForMessages(1), aliceTab2.waitForMessages(1), bob.waitForMessages(1)]);
    expect([aliceTab1.messages, aliceTab2.messages, bob.messages]).toEqual([["hi alice"], ["hi alice"], ["hi bob"]]);

    // One tab closes: only the other is reached.
    aliceTab1.close();
    await within(alice1.closed, 5000, "alice's first tab to close");
    expect([...srv.connectionsOf("alice")]).toEqual([alice2]);
    expect(srv.sendToUser("alice", "still there?")).toEqual({ delivered: 1, skipped: 0, closed: 0 });
    await aliceTab2.waitForMessages(2);
    expect(aliceTab2.messages).toEqual(["hi alice", "still there?"]);
    expect(aliceTab1.messages).toEqual(["hi alice"]);

    // Both closed: nothing left to reach, and the user is forgotten.
    aliceTab2.close();
    await within(alice2.closed, 5000, "alice's second tab to close");
    expect(srv.connectionsOf("alice").size).toBe(0);
    expect(srv.sendToUser("alice", "anyone?")).toEqual({ delivered: 0, skipped: 0, closed: 0 });
    expect(srv.sendToUser("nobody", "anyone?")).toEqual({ delivered: 0, skipped: 0, closed: 0 });
    // Bob was never affected.
    expect([...srv.connectionsOf("bob")]).toEqual([bobWs]);
    expect(bob.messages).toEqual(["hi bob"]);
  });

  it("connections without a user are not addressable", async () => {
    server = await new TestServer().start();
    const anonymous = await connectRaw(server.port);
    clients.push(anonymous);
    const [ws] = await server.connectionsAccepted(1);
    expect(ws.user).toBeUndefined();
    expect(server.server.connectionsOf("undefined").size).toBe(0);
    expect(server.server.sendToUser("undefined", "x").delivered).toBe(0);
  });
});

describe("watchMembership", () => {
  it("a watcher that throws is reported to onError, and the server's registries stay right", async () => {
    const reported: unknown[] = [];
    const srv = createServer({
      onError: (error) => reported.push(error),
      authorize: (req) => {
        req.user = "carol";
        return true;
      },
    });
    srv.route(
      "/room",
      requireWebSocket(async ({ websocket: ws }) => {
        srv.group("room").add(ws);
        for await (const message of ws) ws.send(message);
      }),
    );
    const { port } = await srv.listen(0, "127.0.0.1");
    try {
      const fail = (what: string) => (): never => {
        throw new Error(`watcher failed on ${what}`);
      };
      srv.watchMembership({
        groupOccupied: fail("groupOccupied"),
        groupVacated: fail("groupVacated"),
        userOnline: fail("userOnline"),
        userOffline: fail("userOffline"),
      });
      for (let round = 0; round < 2; round++) {
        const ws = await connect(`ws://127.0.0.1:${port}/room`);
        ws.send("ping");
        expect(await within(ws.wait(), 5000, "the echo")).toBe("ping");
        ws.close();
        await within(ws.closed, 5000, "the close");
        await within(
          (async () => {
            while (srv.connections > 0 || srv.connectionsOf("carol").size > 0) await new Promise((r) => setTimeout(r, 10));
          })(),
          5000,
          "the server to forget the connection",
        );
      }
      // Each round: the user came online and went offline, the group was occupied and vacated.
      expect((reported as Error[]).map((error) => error.message).sort()).toEqual(
        ["groupOccupied", "groupOccupied", "groupVacated", "groupVacated", "userOffline", "userOffline", "userOnline", "userOnline"]
          .map((what) => `watcher failed on ${what}`),
      );
      expect(srv.group("room").size).toBe(0);
    } finally {
      await srv.close();
    }
  });
});
