import { clockMs } from "./clock.js";
import { ReadyState, type WebSocket } from "./websocket.js";

/** Server pings, to find peers that vanished without closing (the seed's dead network). */
export interface HeartbeatOptions {
  /** Every this many milliseconds, each open connection is sent a ping. */
  intervalMs: number;
  /** A connection that has not answered a ping within this long is terminated (1006). */
  timeoutMs: number;
}

/**
 * Pings every connection each `intervalMs` and terminates those that have not answered
 * within `timeoutMs`: a dead peer is dropped at most `intervalMs + timeoutMs` after it
 * went silent. Two timers for the whole server, not one per connection.
 *
 * A connection whose reading is paused by backpressure (its application is behind) is
 * pinged but not timed out: its pong may be waiting, unread, in the socket.
 */
export class Heartbeat {
  private readonly interval: NodeJS.Timeout;
  private readonly checks = new Set<NodeJS.Timeout>();

  constructor(
    private readonly connections: ReadonlySet<WebSocket>,
    private readonly options: HeartbeatOptions,
  ) {
    if (!(options.intervalMs > 0 && options.timeoutMs > 0)) {
      throw new RangeError("heartbeat intervalMs and timeoutMs must be positive");
    }
    this.interval = setInterval(() => this.pingAll(), options.intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.interval);
    for (const check of this.checks) clearTimeout(check);
    this.checks.clear();
  }

  private pingAll(): void {
    const now = clockMs();
    for (const ws of this.connections) {
      if (ws.readyState !== ReadyState.OPEN) continue;
      if (ws.pingSentAt === 0) ws.pingSentAt = now;
      ws.ping();
    }
    const check = setTimeout(() => {
      this.checks.delete(check);
      this.dropSilent();
    }, this.options.timeoutMs).unref();
    this.checks.add(check);
  }

  private dropSilent(): void {
    // Timers fire no earlier than asked, so the outstanding ping is at least timeoutMs old
    // when it was sent in the round that scheduled this check (or an earlier one).
    const deadline = clockMs() - this.options.timeoutMs + 1;
    for (const ws of this.connections) {
      if (ws.pingSentAt !== 0 && ws.pingSentAt <= deadline && !ws.isPaused) ws.terminate("heartbeat timeout");
    }
  }
}

/**
 * Closes (1001) connections that have received nothing for `idleTimeoutMs`, checking a
 * few times per period with one timer: a connection is closed between 1 and 1.25 times
 * the timeout after its last data. Connections paused by backpressure are skipped.
 */
export class IdleTimeout {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly connections: ReadonlySet<WebSocket>,
    private readonly idleTimeoutMs: number,
  ) {
    if (!(idleTimeoutMs > 0)) throw new RangeError("idleTimeoutMs must be positive");
    const period = Math.max(10, Math.min(idleTimeoutMs / 4, 1000));
    this.timer = setInterval(() => this.closeIdle(), period).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private closeIdle(): void {
    // Both times are rounded up: one millisecond off "now" keeps the check from closing a
    // connection that has been silent for a fraction of a millisecond less than the limit.
    const deadline = clockMs() - 1 - this.idleTimeoutMs;
    for (const ws of this.connections) {
      if (ws.readyState === ReadyState.OPEN && ws.lastReceivedAt <= deadline && !ws.isPaused) {
        ws.close(1001, "idle timeout");
      }
    }
  }
}
