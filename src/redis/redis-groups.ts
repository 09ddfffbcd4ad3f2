import { randomBytes } from "node:crypto";
import { DEFAULT_GROUP_BUFFER_LIMIT, type SlowMemberPolicy, checkSlowMemberOptions, deliver } from "../server/group.js";
import { SharedMessage } from "../connection/shared-message.js";
import type { BinaryData } from "../frame/buffer-view.js";
import {
  type BroadcastOptions,
  type MembershipWatcher,
  ReadyState,
  type UserId,
  type WebSocket,
  type WsrawServer,
} from "../server/index.js";
import { EnvelopeError, ORIGIN_SIZE, decodeEnvelope, encodeEnvelope } from "./envelope.js";

/**
 * The part of a node-redis client (the `redis` package, version 5 or later) that this
 * adapter uses: `createClient()` returns one.
 */
export interface RedisClient {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  /** A new client with the same options: the subscriber (a subscribed connection can do nothing else). */
  duplicate(): RedisClient;
  publish(channel: string, message: Buffer): Promise<number>;
  subscribe(channel: string, listener: (message: Buffer, channel: Buffer) => unknown, bufferMode: true): Promise<void>;
  /** Without a channel: every channel. */
  unsubscribe(channel?: string, listener?: (message: Buffer, channel: Buffer) => unknown, bufferMode?: true): Promise<void>;
  close(): Promise<unknown>;
  on(event: "error", listener: (error: Error) => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
}

export interface RedisGroupsOptions {
  /**
   * The first part of every channel name, so that several applications can share one
   * Redis. Servers share groups and users exactly when they use the same prefix. Default
   * `"wsraw"`.
   */
  prefix?: string;
  /** What a message does to a member that stopped reading. Default `"skip"`. */
  slowMemberPolicy?: SlowMemberPolicy;
  /** A member with more unsent bytes than this is slow. Default 1 MiB. */
  maxBufferedAmount?: number;
  /**
   * Hears of what goes wrong: Redis unreachable (the client reconnects and resubscribes
   * by itself), a failed subscription, a message on our channels that no wsraw server
   * wrote (it is dropped). Default: printed with `console.error`, a repeat of the same
   * error at most every 10 s.
   */
  onError?: (error: Error) => void;
}

type Listener = (message: Buffer) => void;

/**
 * Groups and users shared by every server attached to the same Redis with the same
 * prefix: the article's "groups belong in Redis, not in process memory". Each server
 * keeps its own connections; a message goes out once through Redis pub/sub, as the frame
 * its members receive, and every server writes it to its members. A server listens only
 * to the groups and users that have a connection on it, and to the whole-cluster channel.
 *
 * Every server delivers a group's messages in the order Redis received them, its own
 * included, so all members see the same conversation. Like Redis pub/sub, this is
 * at-most-once: a server that is disconnected from Redis misses what is sent meanwhile.
 *
 * @example
 * ```ts
 * import { createClient } from "redis";
 * import { createServer, requireWebSocket } from "wsraw";
 * import { RedisGroups } from "wsraw/redis";
 *
 * const server = createServer();
 * const shared = await RedisGroups.attach(server, createClient({ url: "redis://127.0.0.1:6379" }));
 * server.route("/room", requireWebSocket(async ({ websocket }) => {
 *   const room = shared.group("lobby").add(websocket);
 *   for await (const message of websocket) await room.broadcast(message, { except: websocket });
 * }));
 * ```
 */
export class RedisGroups {
  /** This instance's id in the envelopes it publishes. */
  private readonly id = randomBytes(ORIGIN_SIZE);
  private readonly prefix: string;
  private readonly options: RedisGroupsOptions;
  /** The listener of each channel subscribed to, to unsubscribe it. */
  private readonly listeners = new Map<string, Listener>();
  /** Subscriptions and unsubscriptions not yet confirmed by Redis. */
  private settling: Promise<unknown> = Promise.resolve();
  /** Connections left out of a broadcast, by the serial the envelope carries. */
  private readonly bySerial = new Map<number, WebSocket>();
  private readonly serials = new WeakMap<WebSocket, number>();
  private nextSerial = 1;
  private unwatch: (() => void) | undefined;
  private closed = false;
  private lastError: { message: string; at: number } | undefined;
  private readonly reportError = (error: Error): void => this.report(error);

  private constructor(
    /** The server whose connections this delivers to. */
    readonly server: WsrawServer,
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    options: RedisGroupsOptions,
  ) {
    this.options = options;
    this.prefix = options.prefix ?? "wsraw";
  }

  /**
   * Connects `server` to the others on the same Redis. `client` publishes (it is connected
   * if it is not yet); a duplicate of it subscribes. Resolves once the server listens to
   * every channel it needs, so a message sent after that reaches it.
   */
  static async attach(server: WsrawServer, client: RedisClient, options: RedisGroupsOptions = {}): Promise<RedisGroups> {
    checkSlowMemberOptions(options);
    const groups = new RedisGroups(server, client, client.duplicate(), options);
    // A client without an 'error' listener would throw its reconnection errors.
    client.on("error", groups.reportError);
    groups.subscriber.on("error", groups.reportError);
    try {
      if (!client.isOpen) await client.connect();
      await groups.subscriber.connect();
    } catch (error) {
      await groups.close();
      throw error;
    }
    groups.listen(groups.channel("all"), () => server.clients);
    groups.unwatch = server.watchMembership(groups.watcher());
    await groups.ready();
    return groups;
  }

  /** A handle on the group called `name`, shared with every attached server. */
  group(name: string): RedisGroup {
    return new RedisGroup(name, this);
  }

  /**
   * Sends `data` to every connection of every attached server (except `options.except`).
   * Resolves with the number of servers that received it.
   */
  broadcast(data: string | BinaryData, options: BroadcastOptions = {}): Promise<number> {
    return this.publish(this.channel("all"), data, options.except);
  }

  /** Sends `data` to every connection of `user` (`req.user`) on every attached server. */
  sendToUser(user: UserId, data: string | BinaryData): Promise<number> {
    return this.publish(this.userChannel(user), data, undefined);
  }

  /** Resolves once Redis has confirmed every subscription asked for so far. */
  async ready(): Promise<void> {
    let settling;
    do {
      settling = this.settling;
      await settling;
    } while (settling !== this.settling);
  }

  /**
   * Stops listening: unsubscribes and closes the subscriber. The client given to `attach`
   * stays open (it is the application's); nothing can be published through this any more.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unwatch?.();
    this.listeners.clear();
    this.bySerial.clear();
    if (this.subscriber.isOpen) {
      // Unsubscribed, with Redis's answer, before the connection goes: once close()
      // resolves, Redis counts no subscription of ours. A closed connection alone is
      // forgotten by Redis some time later, and a PUBLISH meanwhile still counts us.
      await this.subscriber.unsubscribe().catch(this.reportError);
      await this.subscriber.close().catch(this.reportError);
    }
    this.publisher.off("error", this.reportError);
    this.subscriber.off("error", this.reportError);
  }

  /** @internal Publishes `data` on `channel` as one envelope. */
  publish(channel: string, data: string | BinaryData, except: WebSocket | undefined): Promise<number> {
    if (this.closed) return Promise.reject(new Error("wsraw/redis: this RedisGroups is closed"));
    return this.publisher.publish(channel, encodeEnvelope(this.id, except === undefined ? 0 : this.serialOf(except), data));
  }

  /** @internal The channel of a group. */
  groupChannel(name: string): string {
    return this.channel(`group:${name}`);
  }

  private userChannel(user: UserId): string {
    // JSON keeps the user 7 and the user "7" apart, as the server's own table does.
    return this.channel(`user:${JSON.stringify(user)}`);
  }

  private channel(name: string): string {
    return `${this.prefix}:${name}`;
  }

  private watcher(): MembershipWatcher {
    const server = this.server;
    return {
      groupOccupied: (name) => this.listen(this.groupChannel(name), () => server.groups.get(name)),
      groupVacated: (name) => this.unlisten(this.groupChannel(name)),
      userOnline: (user) => this.listen(this.userChannel(user), () => server.connectionsOf(user)),
      userOffline: (user) => this.unlisten(this.userChannel(user)),
    };
  }

  private listen(channel: string, members: () => Iterable<WebSocket> | undefined): void {
    if (this.closed || this.listeners.has(channel)) return;
    const listener: Listener = (message) => this.receive(channel, message, members());
    this.listeners.set(channel, listener);
    this.settle(this.subscriber.subscribe(channel, listener, true));
  }

  private unlisten(channel: string): void {
    const listener = this.listeners.get(channel);
    if (listener === undefined) return;
    this.listeners.delete(channel);
    this.settle(this.subscriber.unsubscribe(channel, listener, true));
  }

  private settle(command: Promise<void>): void {
    this.settling = Promise.all([this.settling, command.catch(this.reportError)]);
  }

  private receive(channel: string, message: Buffer, members: Iterable<WebSocket> | undefined): void {
    let envelope;
    try {
      envelope = decodeEnvelope(message);
    } catch (error) {
      // Still an EnvelopeError (the type the package exports), now naming its channel.
      this.report(new EnvelopeError(`wsraw/redis: dropped a message on ${channel}: ${(error as Error).message}`));
      return;
    }
    if (members === undefined) return;
    const except = envelope.except !== 0 && envelope.origin.equals(this.id) ? this.bySerial.get(envelope.except) : undefined;
    deliver(
      SharedMessage.fromFrame(envelope.frame),
      members,
      except,
      this.options.slowMemberPolicy ?? "skip",
      this.options.maxBufferedAmount ?? DEFAULT_GROUP_BUFFER_LIMIT,
    );
  }

  /** The number that names `ws` in envelopes; the name is forgotten when it closes. */
  private serialOf(ws: WebSocket): number {
    if (ws.readyState === ReadyState.CLOSED) return 0;
    let serial = this.serials.get(ws);
    if (serial === undefined) {
      serial = this.nextSerial;
      this.nextSerial = serial === 0xffff_ffff ? 1 : serial + 1;
      this.serials.set(ws, serial);
      this.bySerial.set(serial, ws);
      const forget = serial;
      void ws.closed.then(() => this.bySerial.delete(forget));
    }
    return serial;
  }

  private report(error: Error): void {
    if (this.options.onError !== undefined) {
      this.options.onError(error);
      return;
    }
    const now = Date.now();
    if (this.lastError?.message === error.message && now - this.lastError.at < 10_000) return;
    this.lastError = { message: error.message, at: now };
    console.error(`wsraw/redis: ${error.message}`);
  }
}

/**
 * A group shared by every server attached to the same Redis: members join on their own
 * server (`add`), and a broadcast reaches the members on all of them. Get one with
 * `redisGroups.group(name)`; it is the server's local group of the same name, shared.
 */
export class RedisGroup implements Iterable<WebSocket> {
  /** @internal Created by `RedisGroups.group()`. */
  constructor(
    /** The group's name. */
    readonly name: string,
    private readonly groups: RedisGroups,
  ) {}

  /** Adds a connection of this server; it leaves when it closes. */
  add(ws: WebSocket): this {
    this.groups.server.group(this.name).add(ws);
    return this;
  }

  /** Removes a connection of this server; returns whether it was a member. */
  remove(ws: WebSocket): boolean {
    return this.groups.server.group(this.name).remove(ws);
  }

  has(ws: WebSocket): boolean {
    return this.groups.server.groups.get(this.name)?.has(ws) ?? false;
  }

  /** Members on this server. */
  get localSize(): number {
    return this.groups.server.groups.get(this.name)?.size ?? 0;
  }

  /** The members on this server. */
  [Symbol.iterator](): Iterator<WebSocket> {
    return (this.groups.server.groups.get(this.name) ?? [])[Symbol.iterator]();
  }

  /**
   * Sends `data` to every member on every attached server (except `options.except`),
   * encoded once. Resolves with the number of servers that have members in the group.
   */
  broadcast(data: string | BinaryData, options: BroadcastOptions = {}): Promise<number> {
    return this.groups.publish(this.groups.groupChannel(this.name), data, options.except);
  }
}
