import { clockMs } from "./clock.js";
import { checkLimit } from "./limits.js";
import { ReadyState, type WebSocket } from "./websocket.js";

/**
 * Server pings, to find peers that vanished without closing (the seed's dead network).
 *
 * A connection whose reading is paused by backpressure (its application does not read
 * its messages) is not pinged: its pong would wait, unread, behind those messages. TCP
 * keepalive watches its peer instead (tcp(7)): after `timeoutMs`, rounded up to whole
 * seconds, without a packet from the peer, the kernel sends 10 probes 1 s apart (the
 * interval and count libuv sets on each socket, so the net.ipv4.tcp_keepalive_* sysctls
 * do not apply) and gives up when none is answered; the next round notices. A paused
 * peer that vanished (power loss, cable pulled: no FIN) is thus dropped (1006) about
 * `ceil(timeoutMs / 1 s) + 10 s + intervalMs` after its last packet (11.3 s measured
 * with 200 ms for both; kernel timers run a little late). A live peer answers the probes
 * from its kernel, whatever its application does, and is never dropped for being paused:
 * that is backpressure working.
 *
 * The worst case is when data of ours is in flight as the peer vanishes (a message the
 * application sent to the paused connection, a ping sent just before the pause): TCP
 * then retransmits instead of probing, and gives up after net.ipv4.tcp_retries2
 * retransmissions: at least 924.6 s (15.4 minutes) with the Linux default of 15 (tcp(7),
 * and the kernel's ip-sysctl documentation).
 */
export interface HeartbeatOptions {
  /** Every this many milliseconds, each open connection is sent a ping. */
  intervalMs: number;
  /**
   * A connection that has not answered a ping within this long is terminated (1006). Also
   * how long, in whole seconds, a paused connection's peer may be silent before TCP
   * keepalive probes it (or the idle timeout, when shorter).
   */
  timeoutMs: number;
}

/** Throws `RangeError` (or `TypeError`) for a heartbeat no timer can keep. */
export function checkHeartbeat(options: HeartbeatOptions): void {
  checkLimit("heartbeat.intervalMs", options.intervalMs, "ms");
  checkLimit("heartbeat.timeoutMs", options.timeoutMs, "ms");
}

/**
 * The TCP keepalive delay of a connection paused by backpressure (`ConnectionOptions`):
 * the shorter of the heartbeat's `timeoutMs` and the idle timeout, the silence either
 * tolerates, rounded up to whole seconds (TCP_KEEPIDLE counts seconds, tcp(7); Node
 * truncates), at least 1; undefined when neither is configured.
 */
export function pausedKeepAliveMs(heartbeat: HeartbeatOptions | undefined, idleTimeoutMs = 0): number | undefined {
  const silenceMs = Math.min(heartbeat?.timeoutMs ?? Infinity, idleTimeoutMs > 0 ? idleTimeoutMs : Infinity);
  return silenceMs === Infinity ? undefined : Math.max(1, Math.ceil(silenceMs / 1000)) * 1000;
}

/**
 * Pings every connection each `intervalMs` and terminates those that have not answered
 * within `timeoutMs`: a dead peer is dropped at most `intervalMs + timeoutMs` after it
 * went silent. Two timers for the whole server, not one per connection.
 *
 * A connection whose reading is paused by backpressure is neither pinged nor timed out
 * (see `HeartbeatOptions`): each round asks the kernel whether it gave up on it instead.
 */
export class Heartbeat {
  private readonly interval: NodeJS.Timeout;
  private readonly checks = new Set<NodeJS.Timeout>();

  constructor(
    private readonly connections: ReadonlySet<WebSocket>,
    private readonly options: HeartbeatOptions,
  ) {
    checkHeartbeat(options);
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
      if (ws.isPaused) {
        // Unacknowledged data stops TCP keepalive (the kernel retransmits it instead, for
        // up to tcp_retries2): nothing is written. The ping clock starts again once
        // reading resumes; an answer to an earlier ping may still come.
        ws.pingSentAt = 0;
        ws.probeSocket();
        continue;
      }
      if (ws.pingSentAt === 0) ws.pingSentAt = now;
      ws.heartbeatPing();
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
 * the timeout after its last data.
 *
 * A connection paused by backpressure is not idle (its data waits unread) and is not
 * closed; TCP keepalive watches its peer instead, after `idleTimeoutMs` (or the
 * heartbeat's `timeoutMs`, when shorter) rounded up to whole seconds, as
 * `HeartbeatOptions` tells, and each check asks the kernel whether it gave up on it: a
 * paused peer that vanished is dropped (1006) about `ceil(idleTimeoutMs / 1 s) + 10 s`
 * plus one check period after its last packet.
 */
export class IdleTimeout {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly connections: ReadonlySet<WebSocket>,
    private readonly idleTimeoutMs: number,
  ) {
    checkLimit("idleTimeoutMs", idleTimeoutMs, "ms");
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
      if (ws.readyState !== ReadyState.OPEN) continue;
      if (ws.isPaused) ws.probeSocket();
      else if (ws.lastReceivedAt <= deadline) ws.close(1001, "idle timeout");
    }
  }
}
