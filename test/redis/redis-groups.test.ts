/**
 * `wsraw/redis` on a real redis-server: groups, users and whole-cluster broadcasts shared
 * by several servers, subscriptions that follow membership, foreign messages on our
 * channels, a Redis that restarts, and `close()`.
 */
import { createClient } from "redis";
import { describe, expect, it } from "vitest";
import { requireWebSocket } from "../../src/index.js";
import { EnvelopeError, RedisGroups, type RedisGroupsOptions } from "../../src/redis/index.js";
import { type WsPeer, useResources, within } from "../support/index.js";
import { redisSkip, useRedisServer } from "./redis-server.js";

describe.skipIf(redisSkip !== undefined)("wsraw/redis", () => {
  const redisServer = useRedisServer();
  const resources = useResources();

  /** A Redis client of the test's own, closed at teardown. */
  async function redisClient() {
    const client = createClient({ url: redisServer().url });
    client.on("error", () => {});
    await client.connect();
    resources.defer(() => client.destroy());
    return client;
  }

  /**
   * A wsraw server attached to the Redis. `/room?room=R&user=U` joins the shared group R as
   * user U and broadcasts every message to the group, leaving out its sender.
   */
  async function attachedServer(options: RedisGroupsOptions = {}) {
    const { server, url } = await resources.server({});
    const client = createClient({ url: redisServer().url });
    const errors: Error[] = [];
    const shared = await RedisGroups.attach(server, client, { onError: (error) => errors.push(error), ...options });
    resources.defer(async () => {
      await shared.close();
      client.destroy();
    });
    server.route(
      "/room",
      requireWebSocket(
        async ({ websocket, query }) => {
          const room = shared.group(query.get("room") ?? "lobby").add(websocket);
          for await (const message of websocket) await room.broadcast(message, { except: websocket });
        },
        {
          authorize: (req) => {
            req.user = req.query.get("user") ?? undefined;
          },
        },
      ),
    );
    const join = async (room: string, user = "anon"): Promise<WsPeer> => {
      const peer = await resources.ws(url(`/room?room=${encodeURIComponent(room)}&user=${encodeURIComponent(user)}`));
      await shared.ready();
      return peer;
    };
    return { server, shared, errors, join };
  }

  async function receive(peer: WsPeer, count: number): Promise<Array<string | Buffer>> {
    const messages = [];
    for (let i = 0; i < count; i++) messages.push(await peer.next());
    return messages;
  }

  it("a group's messages reach its members on every server, in one order for all, never back to their sender", async () => {
    const a = await attachedServer();
    const b = await attachedServer();
    const [aSender, aListener] = [await a.join("r"), await a.join("r")];
    const [bSender, bListener] = [await b.join("r"), await b.join("r")];
    const fromA = Array.from({ length: 30 }, (_, i) => `a${i}`);
    const fromB = Array.from({ length: 30 }, (_, i) => `b${i} é🎉`);
    for (let i = 0; i < 30; i++) {
      aSender.ws.send(fromA[i]);
      bSender.ws.send(fromB[i]);
    }
    aSender.ws.send(Buffer.from([0, 255, 1]));
    const seenOnA = await receive(aListener, 61);
    const seenOnB = await receive(bListener, 61);
    // Redis ordered them once; both servers delivered that order.
    expect(seenOnB).toEqual(seenOnA);
    // Each sender's messages keep the order it sent them in.
    const sentByA = (m: string | Buffer) => typeof m !== "string" || m.startsWith("a");
    expect(seenOnA.filter(sentByA)).toEqual([...fromA, Buffer.from([0, 255, 1])]);
    expect(seenOnA.filter((m) => !sentByA(m))).toEqual(fromB);
    // Each sender gets the other server's messages only.
    expect(await receive(aSender, 30)).toEqual(fromB);
    expect(await receive(bSender, 31)).toEqual([...fromA, Buffer.from([0, 255, 1])]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it("other groups and other prefixes hear nothing", async () => {
    const a = await attachedServer();
    const b = await attachedServer();
    const other = await attachedServer({ prefix: "another-app" });
    const inRoom = await b.join("r");
    const elsewhere = await b.join("elsewhere");
    const otherApp = await other.join("r");
    expect(await a.shared.group("r").broadcast("for r")).toBe(1);
    await a.shared.group("elsewhere").broadcast("for elsewhere");
    await other.shared.group("r").broadcast("for the other app");
    expect(await inRoom.next()).toBe("for r");
    expect(await elsewhere.next()).toBe("for elsewhere");
    expect(await otherApp.next()).toBe("for the other app");
    expect(inRoom.messages.length + elsewhere.messages.length + otherApp.messages.length).toBe(0);
  });

  it("sendToUser reaches every connection of the user on every server", async () => {
    const a = await attachedServer();
    const b = await attachedServer();
    const aliceOnA = await a.join("x", "alice");
    const aliceOnB = await b.join("y", "alice");
    const bob = await b.join("y", "bob");
    // Servers with a connection of alice: both.
    expect(await a.shared.sendToUser("alice", "hi alice")).toBe(2);
    await b.shared.sendToUser("bob", "hi bob");
    expect(await aliceOnA.next()).toBe("hi alice");
    expect(await aliceOnB.next()).toBe("hi alice");
    expect(await bob.next()).toBe("hi bob");
    expect(aliceOnA.messages.length + aliceOnB.messages.length + bob.messages.length).toBe(0);
    expect(await a.shared.sendToUser("nobody", "lost")).toBe(0);
  });

  it("broadcast reaches every connection of every server, but the one left out", async () => {
    const a = await attachedServer();
    const b = await attachedServer();
    const peers = [await a.join("1"), await a.join("2"), await b.join("3")];
    const [sender] = [...a.server.clients];
    expect(await b.shared.broadcast("to everyone")).toBe(2);
    for (const peer of peers) expect(await peer.next()).toBe("to everyone");
    await a.shared.broadcast("to all others", { except: sender });
    await b.shared.broadcast("sentinel");
    const received = await Promise.all(peers.map((peer) => receive(peer, 1)));
    // Exactly one peer (the one left out) gets the sentinel first.
    expect(received.filter(([m]) => m === "sentinel")).toHaveLength(1);
  });

  it("a server subscribes to a group or user while it has a connection in it, and no longer", async () => {
    const probe = await redisClient();
    const a = await attachedServer({ prefix: "subs" });
    const channels = async () => (await probe.pubSubChannels("subs:*")).sort();
    expect(await channels()).toEqual(["subs:all"]);
    const peer = await a.join("room 1", "carol");
    expect(await channels()).toEqual(["subs:all", "subs:group:room 1", 'subs:user:"carol"']);
    peer.ws.close();
    await peer.closed();
    const deadline = Date.now() + 5_000;
    while ((await channels()).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await channels()).toEqual(["subs:all"]);
    // Coming back subscribes again.
    const again = await a.join("room 1", "carol");
    expect(await channels()).toEqual(["subs:all", "subs:group:room 1", 'subs:user:"carol"']);
    await a.shared.group("room 1").broadcast("welcome back");
    expect(await again.next()).toBe("welcome back");
  });

  it("drops and reports a message on its channels that no wsraw server wrote; members get nothing of it", async () => {
    const probe = await redisClient();
    const a = await attachedServer({ prefix: "foreign" });
    const peer = await a.join("r");
    const garbage = [
      Buffer.from("hello"),
      Buffer.alloc(0),
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 5, 0x68]), // length 5, 1 byte
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 1, 0xff]), // not UTF-8
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0]), // a close frame
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x81, 1, 2, 3, 4, 0x41]), // masked
    ];
    for (const message of garbage) await probe.publish("foreign:group:r", message);
    await a.shared.group("r").broadcast("real");
    expect(await peer.next()).toBe("real");
    for (const error of a.errors) expect(error).toBeInstanceOf(EnvelopeError);
    expect(a.errors.map((error) => error.message.replace(/^wsraw\/redis: dropped a message on foreign:group:r: /, ""))).toEqual([
      "too short (5 bytes)",
      "too short (0 bytes)",
      "the frame's length field does not match its 1 payload bytes",
      "a text frame that is not valid UTF-8",
      "not a final text or binary frame (first byte 0x88)",
      "the frame is masked; a server's frames are not (RFC 6455 §5.1)",
    ]);
    expect(a.server.connections).toBe(1);
  });

  it("comes back after Redis restarts: the subscriber resubscribes and messages flow again", async () => {
    const a = await attachedServer({ prefix: "restart" });
    const b = await attachedServer({ prefix: "restart" });
    const peer = await b.join("r");
    await redisServer().restart();
    // Until both clients have reconnected, a broadcast may be lost (pub/sub is at most once).
    const deadline = Date.now() + 15_000;
    let got: string | Buffer | undefined;
    for (let i = 0; got === undefined && Date.now() < deadline; i++) {
      await within(a.shared.group("r").broadcast(`probe ${i}`), 15_000, "a publish after the restart");
      got = await peer.next(200).catch(() => undefined);
    }
    expect(got).toMatch(/^probe \d+$/);
    await a.shared.group("r").broadcast("after");
    // Late copies of earlier probes may come first; "after" comes, and last.
    let last;
    do last = await peer.next();
    while (last !== "after");
    expect(a.errors.length + b.errors.length).toBeGreaterThan(0);
  }, 30_000);

  it("close() stops listening and publishing; the application's client stays open", async () => {
    const probe = await redisClient();
    const { server } = await resources.server({});
    const client = createClient({ url: redisServer().url });
    resources.defer(() => client.destroy());
    const shared = await RedisGroups.attach(server, client, { prefix: "closing" });
    expect(await probe.pubSubNumSub("closing:all")).toEqual({ "closing:all": 1 });
    await shared.close();
    expect(await probe.pubSubNumSub("closing:all")).toEqual({ "closing:all": 0 });
    await expect(shared.broadcast("late")).rejects.toThrow(/closed/);
    expect(client.isOpen).toBe(true);
  });

  it("attach rejects a slow-member option that is not one, before it connects", async () => {
    const { server } = await resources.server({});
    const client = createClient({ url: redisServer().url });
    resources.defer(() => client.destroy());
    const bad = { slowMemberPolicy: "drop" } as unknown as RedisGroupsOptions;
    await expect(RedisGroups.attach(server, client, bad)).rejects.toThrow(
      new TypeError('slowMemberPolicy must be "skip" or "close", got "drop"'),
    );
    await expect(RedisGroups.attach(server, client, { maxBufferedAmount: -1 })).rejects.toThrow(RangeError);
    expect(client.isOpen).toBe(false);
  });

  it("attach rejects, and leaves nothing open, when Redis cannot be reached", async () => {
    const { server } = await resources.server({});
    const client = createClient({ url: "redis://127.0.0.1:1", socket: { reconnectStrategy: false } });
    client.on("error", () => {});
    await expect(RedisGroups.attach(server, client, { onError: () => {} })).rejects.toThrow(/ECONNREFUSED/);
    expect(client.isOpen).toBe(false);
  });
});
