import { ConnectionClosedError } from "../connection/errors.js";
import { checkLimit } from "../connection/limits.js";
import type { BinaryData } from "../frame/buffer-view.js";
import type { UserId } from "./request.js";
import { SharedMessage } from "../connection/shared-message.js";
import { ReadyState, type WebSocket } from "../connection/websocket.js";

/**
 * What a broadcast does with a member whose outgoing buffer is over the group's limit
 * (a client that stopped reading): `"skip"` leaves the message out for that member and
 * counts it; `"close"` closes the member with 1008. Either way the others are not held
 * up and memory does not grow.
 */
export type SlowMemberPolicy = "skip" | "close";

export interface GroupOptions {
  /** Default `"skip"`. */
  slowMemberPolicy?: SlowMemberPolicy;
  /**
   * A member with more unsent bytes than this is "slow". Default 1 MiB (the default
   * `sendHighWaterMark`).
   */
  maxBufferedAmount?: number;
}

export interface BroadcastOptions {
  /** Leave this connection out, typically the sender. */
  except?: WebSocket;
}

/** What a broadcast did. */
export interface BroadcastReport {
  /** Members the message was queued for. */
  delivered: number;
  /** Slow members the message was left out for (policy `"skip"`). */
  skipped: number;
  /** Slow members closed with 1008 (policy `"close"`). */
  closed: number;
}

/**
 * Sends one message to each connection of `members`, each of its encodings made once
 * (see `SharedMessage`), applying the slow-member policy. Shared by groups, the whole
 * server, users and `wsraw/redis`.
 */
export function deliver(
  message: string | BinaryData | SharedMessage,
  members: Iterable<WebSocket>,
  except: WebSocket | undefined,
  policy: SlowMemberPolicy,
  maxBufferedAmount: number,
): BroadcastReport {
  const report: BroadcastReport = { delivered: 0, skipped: 0, closed: 0 };
  const shared = message instanceof SharedMessage ? message : SharedMessage.of(message);
  for (const ws of members) {
    if (ws === except || ws.readyState !== ReadyState.OPEN) continue;
    if (ws.bufferedAmount > maxBufferedAmount) {
      if (policy === "close") {
        ws.close(1008, "too slow: the outgoing buffer is full");
        report.closed++;
      } else {
        report.skipped++;
        ws.skippedAsSlow();
      }
      continue;
    }
    try {
      ws.sendShared(shared);
      report.delivered++;
    } catch (error) {
      // The member passed its hard buffer limit and was failed: count it as closed.
      if (!(error instanceof ConnectionClosedError)) throw error;
      report.closed++;
    }
  }
  return report;
}

export const DEFAULT_GROUP_BUFFER_LIMIT = 1024 * 1024;

/**
 * Throws for a policy that is not one, or a limit no buffer can be compared with: checked
 * where given, since either would otherwise turn every broadcast into silent skips.
 */
export function checkSlowMemberOptions(options: GroupOptions): void {
  const policy = options.slowMemberPolicy;
  if (policy !== undefined && policy !== "skip" && policy !== "close") {
    throw new TypeError(`slowMemberPolicy must be "skip" or "close", got ${JSON.stringify(policy)}`);
  }
  if (options.maxBufferedAmount !== undefined) checkLimit("maxBufferedAmount", options.maxBufferedAmount, "limit");
}

const NO_MEMBERS: ReadonlySet<WebSocket> = new Set();

/**
 * Told when a group gains its first member or loses its last, and when a user's first
 * connection opens or last one closes: what an adapter that shares groups and users
 * between servers (`wsraw/redis`) subscribes and unsubscribes by. See
 * `server.watchMembership()`.
 */
export interface MembershipWatcher {
  groupOccupied?(name: string): void;
  groupVacated?(name: string): void;
  userOnline?(user: UserId): void;
  userOffline?(user: UserId): void;
}

/**
 * The server's membership table: which connections are in which named group. Membership
 * belongs to the name, not to a `Group` object, so every handle on a name sees the same
 * members. A name is forgotten when its last member leaves, so names that come from users
 * (chat rooms) cannot pile up.
 * @internal
 */
export class GroupRegistry {
  constructor(private readonly watchers: ReadonlySet<MembershipWatcher>) {}

  private readonly members = new Map<string, Set<WebSocket>>();
  /** The handle listed in `server.groups` for each occupied name: the one that filled it. */
  readonly handles = new Map<string, Group>();
  /** The names each connection is in, to leave them all when it closes. */
  private readonly memberships = new Map<WebSocket, Set<string>>();

  membersOf(name: string): ReadonlySet<WebSocket> {
    return this.members.get(name) ?? NO_MEMBERS;
  }

  join(group: Group, ws: WebSocket): void {
    let members = this.members.get(group.name);
    if (members === undefined) {
      this.members.set(group.name, (members = new Set()));
      this.handles.set(group.name, group);
      for (const watcher of this.watchers) watcher.groupOccupied?.(group.name);
    }
    members.add(ws);
    let names = this.memberships.get(ws);
    if (names === undefined) this.memberships.set(ws, (names = new Set()));
    names.add(group.name);
  }

  leave(name: string, ws: WebSocket): boolean {
    const members = this.members.get(name);
    if (members === undefined || !members.delete(ws)) return false;
    if (members.size === 0) {
      this.members.delete(name);
      this.handles.delete(name);
      for (const watcher of this.watchers) watcher.groupVacated?.(name);
    }
    const names = this.memberships.get(ws)!;
    names.delete(name);
    if (names.size === 0) this.memberships.delete(ws);
    return true;
  }

  /** Removes a closed connection from every group it was in. */
  leaveAll(ws: WebSocket): void {
    const names = this.memberships.get(ws);
    if (names === undefined) return;
    for (const name of [...names]) this.leave(name, ws);
  }
}

/**
 * A handle on a named set of connections (a chat room, a live-comment channel) that can
 * be sent to at once. Get one with `server.group(name)`. A connection leaves every group
 * automatically when it closes.
 *
 * @example
 * ```ts
 * const room = server.group("lobby");
 * room.add(ws);
 * room.broadcast(JSON.stringify({ from: "alice", text: "hi" }), { except: ws });
 * ```
 */
export class Group {
  /** @internal Created by `server.group()`. */
  constructor(
    /** The group's name. */
    readonly name: string,
    private readonly registry: GroupRegistry,
    private readonly options: GroupOptions = {},
  ) {
    checkSlowMemberOptions(options);
  }

  /** Number of members. */
  get size(): number {
    return this.registry.membersOf(this.name).size;
  }

  /** Adds a connection; it is removed when it closes. Closing or closed connections are not added. */
  add(ws: WebSocket): this {
    if (ws.readyState === ReadyState.OPEN) this.registry.join(this, ws);
    return this;
  }

  /** Removes a connection; returns whether it was a member. */
  remove(ws: WebSocket): boolean {
    return this.registry.leave(this.name, ws);
  }

  has(ws: WebSocket): boolean {
    return this.registry.membersOf(this.name).has(ws);
  }

  /** The members, in the order they joined. */
  [Symbol.iterator](): IterableIterator<WebSocket> {
    return this.registry.membersOf(this.name).values();
  }

  /**
   * Sends `data` to every member (except `options.except`): the frame is encoded once
   * (and compressed once for the members with permessage-deflate that keep no context)
   * and the same bytes are queued for each member, then written at the end of the tick.
   */
  broadcast(data: string | BinaryData, options: BroadcastOptions = {}): BroadcastReport {
    return deliver(
      data,
      this.registry.membersOf(this.name),
      options.except,
      this.options.slowMemberPolicy ?? "skip",
      this.options.maxBufferedAmount ?? DEFAULT_GROUP_BUFFER_LIMIT,
    );
  }
}
