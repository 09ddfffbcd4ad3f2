/**
 * The demo's chat on several servers sharing one Redis: two `wsraw demo --redis` processes
 * whose users chat in the same rooms and see each other in the room's list, and presence
 * that forgets a server which lost Redis.
 */
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { describe, expect, it } from "vitest";
import { chatRoute } from "../../src/apps/chat.js";
import { redisChatRooms } from "../../src/apps/redis-chat-rooms.js";
import { RedisGroups } from "../../src/redis/index.js";
import { type WsPeer, startNode, useResources } from "../support/index.js";
import { redisSkip, useRedisServer } from "./redis-server.js";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

describe.skipIf(redisSkip !== undefined)("chat across servers through Redis", () => {
  const redisServer = useRedisServer();
  const resources = useResources();

  /** The next chat event of `type` that `peer` receives (others are skipped). */
  async function nextEvent(peer: WsPeer, type: string): Promise<Record<string, unknown>> {
    for (;;) {
      const event = JSON.parse(String(await peer.next()));
      if (event.type === type) return event;
    }
  }

  it("two `wsraw demo --redis` processes: one room, messages both ways, one list of who is there", async () => {
    const ports = [];
    for (let i = 0; i < 2; i++) {
      const { match } = await startNode(resources, [CLI, "demo", "--port", "0", "--redis", redisServer().url], /open http:\/\/127\.0\.0\.1:(\d+)\//);
      ports.push(Number(match[1]));
    }
    const chat = (port: number, name: string, room = "r") =>
      resources.ws(`ws://127.0.0.1:${port}/chat?room=${room}&name=${name}`);
    const ann = await chat(ports[0], "ann");
    expect(await nextEvent(ann, "presence")).toEqual({ type: "presence", room: "r", users: ["ann"] });
    const bob = await chat(ports[1], "bob");
    expect(await nextEvent(bob, "presence")).toEqual({ type: "presence", room: "r", users: ["ann", "bob"] });
    expect(await nextEvent(ann, "system")).toEqual({ type: "system", text: "bob joined" });
    expect(await nextEvent(ann, "presence")).toEqual({ type: "presence", room: "r", users: ["ann", "bob"] });
    // Someone in another room, on the first server, hears none of it.
    const cy = await chat(ports[0], "cy", "other");
    expect(await nextEvent(cy, "presence")).toEqual({ type: "presence", room: "other", users: ["cy"] });

    ann.ws.send(JSON.stringify({ type: "message", text: "hello from server 1" }));
    bob.ws.send(JSON.stringify({ type: "message", text: "hello from server 2" }));
    for (const peer of [ann, bob]) {
      const texts = [(await nextEvent(peer, "message")).text, (await nextEvent(peer, "message")).text];
      expect(texts.sort()).toEqual(["hello from server 1", "hello from server 2"]);
    }

    bob.ws.close();
    expect(await nextEvent(ann, "system")).toEqual({ type: "system", text: "bob left" });
    expect(await nextEvent(ann, "presence")).toEqual({ type: "presence", room: "r", users: ["ann"] });
    expect(cy.messages.length).toBe(0);
  }, 30_000);

  it("a server that lost Redis drops out of the room's list once its entries expire", async () => {
    const probe = createClient({ url: redisServer().url });
    probe.on("error", () => {});
    await probe.connect();
    resources.defer(() => probe.destroy());
    const servers = [];
    for (let i = 0; i < 2; i++) {
      const { server, url } = await resources.server({});
      const client = createClient({ url: redisServer().url });
      const shared = await RedisGroups.attach(server, client, { prefix: "chat-ttl", onError: () => {} });
      const rooms = redisChatRooms(shared, client, { prefix: "chat-ttl", ttlMs: 600, onError: () => {} });
      server.route("/chat", chatRoute(server, rooms));
      resources.defer(async () => {
        await rooms.close().catch(() => {});
        await shared.close();
        client.destroy();
      });
      servers.push({ url, client });
    }
    const ann = await resources.ws(servers[0].url("/chat?room=t&name=ann"));
    await nextEvent(ann, "presence");
    const bob = await resources.ws(servers[1].url("/chat?room=t&name=bob"));
    expect(await nextEvent(bob, "presence")).toMatchObject({ users: ["ann", "bob"] });
    // Server 1 loses Redis: its entry for ann is no longer refreshed.
    servers[0].client.destroy();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const cy = await resources.ws(servers[1].url("/chat?room=t&name=cy"));
    expect(await nextEvent(cy, "presence")).toMatchObject({ users: ["bob", "cy"] });
    expect(Object.keys(await probe.hGetAll("chat-ttl:presence:t"))).toHaveLength(2);
  });
});
