import { randomUUID } from "node:crypto";
import type { RedisGroups } from "../redis/index.js";
import type { WebSocket } from "../server/index.js";
import { type ChatRooms, chatGroupName } from "./chat.js";

/** The Redis hash commands the presence table needs; a node-redis client has them. */
export interface PresenceStore {
  hSet(key: string, fields: Record<string, string>): Promise<unknown>;
  hDel(key: string, fields: string[]): Promise<unknown>;
  hGetAll(key: string): Promise<Record<string, string>>;
  pExpire(key: string, ms: number): Promise<unknown>;
}

export interface RedisChatRoomsOptions {
  /** The first part of the presence keys. Default `"wsraw-chat"`. */
  prefix?: string;
  /**
   * How long a server's entries in a room's presence outlive its last refresh (it
   * refreshes them every third of this): how long the users of a crashed server are still
   * listed. Default 30 s.
   */
  ttlMs?: number;
  /** Hears of Redis errors; the chat goes on with what it knows. Default `console.error`. */
  onError?: (error: Error) => void;
}

/**
 * Chat rooms shared by every server attached to the same Redis: messages go through the
 * shared groups of `shared`, and who is in a room is a Redis hash per room, whose field
 * `server id \n name` holds the time until which that server vouches for the name. A
 * server refreshes its own entries while it has them and deletes them as its users leave,
 * so a server that dies without a word drops out of the lists after `ttlMs`.
 */
export function redisChatRooms(
  shared: RedisGroups,
  store: PresenceStore,
  options: RedisChatRoomsOptions = {},
): ChatRooms & { close(): Promise<void> } {
  const prefix = options.prefix ?? "wsraw-chat";
  const ttlMs = options.ttlMs ?? 30_000;
  const onError = options.onError ?? ((error: Error) => console.error(`wsraw chat: ${error.message}`));
  const serverId = randomUUID();
  /** This server's users by room, with how many connections each has there. */
  const local = new Map<string, Map<string, number>>();
  const key = (room: string): string => `${prefix}:presence:${room}`;
  // Names have no control characters (the chat checks them), so "\n" cannot be in one.
  const field = (name: string): string => `${serverId}\n${name}`;
  const group = (room: string) => shared.group(chatGroupName(room));
  const report = (error: unknown): void => onError(error as Error);

  const vouch = async (room: string, names: Iterable<string>): Promise<void> => {
    const until = String(Date.now() + ttlMs);
    const fields: Record<string, string> = {};
    for (const name of names) fields[field(name)] = until;
    await Promise.all([store.hSet(key(room), fields), store.pExpire(key(room), 2 * ttlMs)]);
  };
  const refresh = setInterval(() => {
    for (const [room, names] of local) vouch(room, names.keys()).catch(report);
  }, ttlMs / 3);
  refresh.unref();

  return {
    async join(room: string, ws: WebSocket): Promise<void> {
      group(room).add(ws);
      const name = String(ws.user);
      let names = local.get(room);
      if (names === undefined) local.set(room, (names = new Map()));
      names.set(name, (names.get(name) ?? 0) + 1);
      await vouch(room, [name]).catch(report);
    },

    async leave(room: string, ws: WebSocket): Promise<void> {
      group(room).remove(ws);
      const name = String(ws.user);
      const names = local.get(room);
      const count = names?.get(name) ?? 0;
      if (count > 1) {
        names!.set(name, count - 1);
        return;
      }
      names?.delete(name);
      if (names?.size === 0) local.delete(room);
      await store.hDel(key(room), [field(name)]).catch(report);
    },

    send(room: string, event: string, except?: WebSocket): Promise<unknown> {
      return group(room).broadcast(event, { except }).catch(report);
    },

    async users(room: string): Promise<string[]> {
      const names = new Set(local.get(room)?.keys());
      let entries: Record<string, string>;
      try {
        entries = await store.hGetAll(key(room));
      } catch (error) {
        report(error);
        return [...names].sort();
      }
      const now = Date.now();
      const expired: string[] = [];
      for (const [entry, until] of Object.entries(entries)) {
        if (Number(until) > now) names.add(entry.slice(entry.indexOf("\n") + 1));
        else expired.push(entry);
      }
      if (expired.length > 0) store.hDel(key(room), expired).catch(report);
      return [...names].sort();
    },

    /** Stops refreshing and takes this server's users out of every room's list. */
    async close(): Promise<void> {
      clearInterval(refresh);
      const rooms = [...local];
      local.clear();
      await Promise.all(rooms.map(([room, names]) => store.hDel(key(room), [...names.keys()].map(field)).catch(report)));
    },
  };
}
