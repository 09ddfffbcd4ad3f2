import { Opcode, encodeFrame, encodeTextFrame } from "../frame/index.js";
import { ConnectionClosedError } from "./errors.js";
import { ReadyState, type WebSocket } from "./websocket.js";

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
 * Encodes a data message once, as the bytes every receiver gets: a broadcast writes
 * the same buffer to each socket.
 */
export function encodeBroadcast(data: string | Uint8Array): Buffer {
  if (typeof data === "string") return encodeTextFrame(data);
  const parts = encodeFrame(Opcode.Binary, data);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/**
 * Sends one encoded frame to each connection of `members`, applying the slow-member
 * policy. Shared by groups, the whole server and users.
 */
export function deliver(
  frame: Buffer,
  members: Iterable<WebSocket>,
  except: WebSocket | undefined,
  policy: SlowMemberPolicy,
  maxBufferedAmount: number,
): BroadcastReport {
  const report: BroadcastReport = { delivered: 0, skipped: 0, closed: 0 };
  for (const ws of members) {
    if (ws === except || ws.readyState !== ReadyState.OPEN) continue;
    if (ws.bufferedAmount > maxBufferedAmount) {
      if (policy === "close") {
        ws.close(1008, "too slow: the outgoing buffer is full");
        report.closed++;
      } else {
        report.skipped++;
      }
      continue;
    }
    try {
      ws.sendEncoded(frame);
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
 * A named set of connections (a chat room, a live-comment channel) that can be sent to
 * at once. A connection leaves every group automatically when it closes.
 *
 * @example
 * ```ts
 * const room = server.group("lobby");
 * room.add(ws);
 * room.broadcast(JSON.stringify({ from: "alice", text: "hi" }), { except: ws });
 * ```
 */
export class Group {
  private readonly members = new Set<WebSocket>();
  private readonly leaveOnClose = (ws: WebSocket): void => {
    this.remove(ws);
  };

  constructor(
    /** The group's name. */
    readonly name: string,
    private readonly options: GroupOptions = {},
    /** Called when the group becomes empty or non-empty (the server's registry uses it). */
    private readonly onOccupancy?: (group: Group, occupied: boolean) => void,
  ) {}

  /** Number of members. */
  get size(): number {
    return this.members.size;
  }

  /** Adds a connection; it is removed when it closes. Closed connections are not added. */
  add(ws: WebSocket): this {
    if (ws.readyState === ReadyState.CLOSED || this.members.has(ws)) return this;
    this.members.add(ws);
    ws.onClose(this.leaveOnClose);
    if (this.members.size === 1) this.onOccupancy?.(this, true);
    return this;
  }

  /** Removes a connection; returns whether it was a member. */
  remove(ws: WebSocket): boolean {
    if (!this.members.delete(ws)) return false;
    ws.offClose(this.leaveOnClose);
    if (this.members.size === 0) this.onOccupancy?.(this, false);
    return true;
  }

  has(ws: WebSocket): boolean {
    return this.members.has(ws);
  }

  /** The members, in the order they joined. */
  [Symbol.iterator](): IterableIterator<WebSocket> {
    return this.members.values();
  }

  /**
   * Sends `data` to every member (except `options.except`): the frame is encoded once
   * and the same bytes are queued for each member, then written at the end of the tick.
   */
  broadcast(data: string | Uint8Array, options: BroadcastOptions = {}): BroadcastReport {
    return deliver(
      encodeBroadcast(data),
      this.members,
      options.except,
      this.options.slowMemberPolicy ?? "skip",
      this.options.maxBufferedAmount ?? DEFAULT_GROUP_BUFFER_LIMIT,
    );
  }
}
