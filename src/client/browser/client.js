// @ts-check
/**
 * wsraw browser client: a WebSocket that stays connected.
 *
 * Plain ES module, no build step, no dependencies. It wraps the standard
 * `WebSocket` (or any constructor with the same shape, e.g. Node's built-in one)
 * and adds what the seed's Vue client did by hand, done carefully:
 *
 *  - heartbeat: every `heartbeatIntervalMs` it sends the text message
 *    `wsraw:ping`; a wsraw route that opts in answers `wsraw:pong`. If nothing
 *    at all arrives within `heartbeatTimeoutMs` of a ping, the connection is
 *    dead: it is closed with code 4000 ("heartbeat timeout") and replaced.
 *    (Browsers cannot send ping frames, hence an application-level ping.)
 *  - reconnect: exponential backoff with full jitter, one socket at a time
 *    (the seed's `lockReconnect`), never after `close()`.
 *  - connect timeout: a handshake not answered within `connectTimeoutMs` is
 *    abandoned and retried. A frozen server whose kernel still accepts TCP
 *    connections would otherwise hold the client in CONNECTING for minutes
 *    (browsers' own handshake timeouts are that long), out of the heartbeat's reach.
 *  - an outgoing queue: `send()` while (re)connecting queues the message and it
 *    goes out, in order, as soon as the next connection opens.
 *
 * Events: `open`, `message` (MessageEvent), `close` (code, reason, wasClean;
 * one per underlying socket), `reconnecting` (attempt, delay), `error`; also
 * the `onopen`/`onmessage`/`onclose`/`onreconnecting`/`onerror` properties.
 *
 * @example
 *   import { WsrawClient } from "/client.js";
 *   const client = new WsrawClient(`ws://${location.host}/chat?room=lobby&name=ann`);
 *   client.onmessage = (ev) => console.log(ev.data);
 *   client.send(JSON.stringify({ type: "message", text: "hi" })); // queued until open
 */

/** Text message the client sends as a heartbeat. */
export const HEARTBEAT_PING = "wsraw:ping";
/** Text message a server route answers a heartbeat with; never dispatched as a message. */
export const HEARTBEAT_PONG = "wsraw:pong";

/** Close code used when the heartbeat times out (4000-4999: private use). */
const HEARTBEAT_TIMEOUT_CODE = 4000;
const HEARTBEAT_TIMEOUT_REASON = "heartbeat timeout";
/** Reason of the close event (code 1006) reported when a handshake times out. */
const CONNECT_TIMEOUT_REASON = "connect timeout";
/** Full jitter may pick 0; never reconnect faster than this, to avoid hot loops. */
const MIN_RECONNECT_DELAY_MS = 50;

/**
 * @typedef {object} WsrawClientOptions
 * @property {string | string[]} [protocols] Subprotocols offered in the handshake.
 * @property {number} [heartbeatIntervalMs=25000] Ping period; 0 disables the heartbeat.
 * @property {number} [heartbeatTimeoutMs=10000] Dead if nothing arrives this long after a ping; 0 never times out.
 * @property {number} [connectTimeoutMs=10000] Give up on a handshake not answered this long; 0 leaves it to the browser.
 * @property {number} [minDelayMs=1000] Backoff base: the first reconnect waits up to this long.
 * @property {number} [maxDelayMs=30000] Backoff cap.
 * @property {number} [stableAfterMs=10000] The backoff resets once a connection has stayed open this long.
 * @property {number} [maxQueue=100] Messages kept while not connected; 0 disables queueing.
 * @property {BinaryType} [binaryType="arraybuffer"] Applied to every underlying socket.
 * @property {typeof WebSocket} [WebSocket] Constructor to use; defaults to `globalThis.WebSocket`.
 */

/** @typedef {string | ArrayBufferLike | Blob | ArrayBufferView} WsrawData */

/** @typedef {Event & { readonly code: number, readonly reason: string, readonly wasClean: boolean }} WsrawCloseEvent */

/** Dispatched when a reconnect is scheduled. */
export class ReconnectingEvent extends Event {
  /**
   * @param {number} attempt 1-based number of this reconnect attempt since the last stable connection.
   * @param {number} delay Milliseconds until the new connection is opened.
   */
  constructor(attempt, delay) {
    super("reconnecting");
    this.attempt = attempt;
    this.delay = delay;
  }
}

/**
 * A CloseEvent where the runtime has one (browsers), else an Event with the same fields (Node 20).
 * @param {number} code
 * @param {string} reason
 * @param {boolean} wasClean
 * @returns {WsrawCloseEvent}
 */
function closeEvent(code, reason, wasClean) {
  if (typeof CloseEvent === "function") return new CloseEvent("close", { code, reason, wasClean });
  return Object.assign(new Event("close"), { code, reason, wasClean });
}

/**
 * @param {unknown} cause
 * @returns {Event}
 */
function errorEvent(cause) {
  const ev = new Event("error");
  if (cause instanceof Error) return Object.assign(ev, { error: cause, message: cause.message });
  if (cause && typeof cause === "object" && "error" in cause) return Object.assign(ev, { error: cause.error });
  return ev;
}

/**
 * @param {string} name
 * @param {number | undefined} value
 * @param {number} fallback
 */
function duration(name, value, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`WsrawClient: ${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

/** @param {ReturnType<typeof setTimeout> | undefined} timer */
function clear(timer) {
  if (timer !== undefined) clearTimeout(timer);
  return undefined;
}

export class WsrawClient extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;

  /** @type {((this: WsrawClient, ev: Event) => unknown) | null} */
  onopen = null;
  /** @type {((this: WsrawClient, ev: MessageEvent) => unknown) | null} */
  onmessage = null;
  /** @type {((this: WsrawClient, ev: WsrawCloseEvent) => unknown) | null} */
  onclose = null;
  /** @type {((this: WsrawClient, ev: ReconnectingEvent) => unknown) | null} */
  onreconnecting = null;
  /** @type {((this: WsrawClient, ev: Event) => unknown) | null} */
  onerror = null;

  /** @type {string} */ #url;
  /** @type {string | string[] | undefined} */ #protocols;
  /** @type {typeof WebSocket} */ #WebSocket;
  /** @type {BinaryType} */ #binaryType;
  #heartbeatIntervalMs;
  #heartbeatTimeoutMs;
  #connectTimeoutMs;
  #minDelayMs;
  #maxDelayMs;
  #stableAfterMs;
  #maxQueue;

  /** The single current socket; null while waiting to reconnect or once closed. */
  /** @type {WebSocket | null} */ #ws = null;
  /** The current socket has fired `open`. */
  #isOpen = false;
  /** `close()` was called: no reconnect, ever. */
  #closed = false;
  /** Consecutive reconnect attempts since the last stable connection. */
  #attempt = 0;
  /** @type {WsrawData[]} */ #queue = [];

  /** @type {ReturnType<typeof setTimeout> | undefined} */ #reconnectTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */ #pingTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #deadlineTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #stableTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #connectTimer;

  /**
   * Starts connecting at once, like `new WebSocket(url)`.
   * @param {string | URL} url `ws:` or `wss:` URL.
   * @param {WsrawClientOptions} [options]
   */
  constructor(url, options = {}) {
    super();
    const Ctor = options.WebSocket ?? globalThis.WebSocket;
    if (typeof Ctor !== "function") {
      throw new TypeError("WsrawClient: no WebSocket implementation; pass options.WebSocket");
    }
    this.#WebSocket = Ctor;
    this.#url = String(url);
    this.#protocols = options.protocols;
    this.#binaryType = options.binaryType ?? "arraybuffer";
    this.#heartbeatIntervalMs = duration("heartbeatIntervalMs", options.heartbeatIntervalMs, 25000);
    this.#heartbeatTimeoutMs = duration("heartbeatTimeoutMs", options.heartbeatTimeoutMs, 10000);
    this.#connectTimeoutMs = duration("connectTimeoutMs", options.connectTimeoutMs, 10000);
    this.#minDelayMs = duration("minDelayMs", options.minDelayMs, 1000);
    this.#maxDelayMs = duration("maxDelayMs", options.maxDelayMs, 30000);
    this.#stableAfterMs = duration("stableAfterMs", options.stableAfterMs, 10000);
    this.#maxQueue = Math.floor(duration("maxQueue", options.maxQueue, 100));

    // The on* properties behave like listeners registered first.
    this.addEventListener("open", (ev) => this.onopen?.call(this, ev));
    this.addEventListener("message", (ev) => this.onmessage?.call(this, /** @type {MessageEvent} */ (ev)));
    this.addEventListener("close", (ev) => this.onclose?.call(this, /** @type {WsrawCloseEvent} */ (ev)));
    this.addEventListener("reconnecting", (ev) => this.onreconnecting?.call(this, /** @type {ReconnectingEvent} */ (ev)));
    this.addEventListener("error", (ev) => this.onerror?.call(this, ev));

    // A bad URL throws here, as it does from `new WebSocket()`.
    this.#connect(true);
  }

  /** The URL given to the constructor. */
  get url() {
    return this.#url;
  }

  /** CONNECTING (also while waiting to reconnect), OPEN, CLOSING (after `close()`), CLOSED. */
  get readyState() {
    if (this.#closed) return this.#ws ? WsrawClient.CLOSING : WsrawClient.CLOSED;
    return this.#isOpen ? WsrawClient.OPEN : WsrawClient.CONNECTING;
  }

  /** Subprotocol the server selected for the current connection ("" if none). */
  get protocol() {
    return this.#ws?.protocol ?? "";
  }

  /** Bytes the current socket has not sent yet (0 without a socket). Queued messages are not counted. */
  get bufferedAmount() {
    return this.#ws?.bufferedAmount ?? 0;
  }

  /** Messages waiting for the next connection. */
  get queued() {
    return this.#queue.length;
  }

  get binaryType() {
    return this.#binaryType;
  }

  set binaryType(value) {
    this.#binaryType = value;
    if (this.#ws) this.#ws.binaryType = value;
  }

  /**
   * Sends now if connected, else queues the message for the next connection.
   * @param {WsrawData} data
   * @returns {boolean} false if the message was dropped because the queue is full.
   * @throws {Error} after `close()`.
   */
  send(data) {
    if (this.#closed) throw new Error("client closed");
    const ws = this.#ws;
    if (ws && this.#isOpen && ws.readyState === WsrawClient.OPEN) {
      ws.send(data);
      return true;
    }
    if (this.#queue.length >= this.#maxQueue) return false;
    this.#queue.push(data);
    return true;
  }

  /**
   * Closes for good: no reconnect, queued messages are dropped, every timer is cleared.
   * `readyState` is CLOSING until the current socket (if any) fires `close`, then CLOSED.
   * @param {number} [code] 1000 or 3000-4999.
   * @param {string} [reason] At most 123 bytes of UTF-8.
   */
  close(code, reason) {
    if (code !== undefined && code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
      throw new RangeError(`WsrawClient: close code must be 1000 or 3000-4999, got ${code}`);
    }
    if (reason !== undefined && new TextEncoder().encode(reason).length > 123) {
      throw new RangeError("WsrawClient: close reason longer than 123 bytes");
    }
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#reconnectTimer = clear(this.#reconnectTimer);
    this.#stopTimers();
    const ws = this.#ws;
    if (!ws) return;
    if (this.#isOpen) {
      if (code === undefined && reason === undefined) ws.close();
      else ws.close(code ?? 1000, reason);
      return;
    }
    // Still connecting: no close frame can be sent, the handshake is just aborted.
    // Finish now rather than wait for a `close` that some runtimes never fire for
    // an aborted handshake (Node 20's WebSocket); report it as browsers do (1006).
    this.#detach(ws);
    try {
      ws.close();
    } catch {
      // ignore
    }
    this.#socketGone(1006, "", false);
  }

  /** @param {Event} ev */
  #emit(ev) {
    this.dispatchEvent(ev);
  }

  /** @param {boolean} first */
  #connect(first) {
    this.#reconnectTimer = undefined;
    /** @type {WebSocket} */
    let ws;
    try {
      ws = this.#protocols === undefined
        ? new this.#WebSocket(this.#url)
        : new this.#WebSocket(this.#url, this.#protocols);
    } catch (err) {
      if (first) throw err;
      this.#emit(errorEvent(err));
      this.#scheduleReconnect();
      return;
    }
    ws.binaryType = this.#binaryType;
    ws.onopen = () => this.#handleOpen(ws);
    ws.onmessage = (ev) => this.#handleMessage(ws, ev);
    ws.onerror = (ev) => this.#handleError(ws, ev);
    ws.onclose = (ev) => this.#handleClose(ws, ev);
    this.#ws = ws;
    if (this.#connectTimeoutMs > 0) {
      this.#connectTimer = setTimeout(() => this.#connectTimedOut(ws), this.#connectTimeoutMs);
    }
  }

  /** @param {WebSocket} ws */
  #handleOpen(ws) {
    if (ws !== this.#ws) return;
    this.#connectTimer = clear(this.#connectTimer);
    this.#isOpen = true;
    if (this.#closed) return;
    if (this.#stableAfterMs === 0) this.#attempt = 0;
    else this.#stableTimer = setTimeout(() => {
      this.#stableTimer = undefined;
      this.#attempt = 0;
    }, this.#stableAfterMs);
    if (this.#heartbeatIntervalMs > 0) {
      this.#pingTimer = setInterval(() => this.#ping(), this.#heartbeatIntervalMs);
    }
    // Flush before `open` is dispatched: queued messages go before anything sent from onopen.
    const queue = this.#queue;
    this.#queue = [];
    for (const data of queue) {
      try {
        ws.send(data);
      } catch (err) {
        this.#emit(errorEvent(err));
      }
    }
    this.#emit(new Event("open"));
  }

  /**
   * @param {WebSocket} ws
   * @param {MessageEvent} ev
   */
  #handleMessage(ws, ev) {
    if (ws !== this.#ws) return;
    // Any message is a sign of life.
    this.#deadlineTimer = clear(this.#deadlineTimer);
    if (ev.data === HEARTBEAT_PONG) return;
    this.#emit(new MessageEvent("message", { data: ev.data, origin: ev.origin }));
  }

  /**
   * @param {WebSocket} ws
   * @param {Event} ev
   */
  #handleError(ws, ev) {
    if (ws !== this.#ws) return;
    // `error` means the connection failed, and browsers always follow it with
    // `close` (code 1006). Node 20's WebSocket does not when the handshake is
    // refused (e.g. HTTP 400), so finish the socket here, once, the same way.
    this.#detach(ws);
    try {
      ws.close();
    } catch {
      // ignore
    }
    this.#emit(errorEvent(ev));
    if (ws === this.#ws) this.#socketGone(1006, "", false);
  }

  /**
   * @param {WebSocket} ws
   * @param {CloseEvent} ev
   */
  #handleClose(ws, ev) {
    if (ws !== this.#ws) return;
    this.#socketGone(ev.code, ev.reason, ev.wasClean);
  }

  #ping() {
    const ws = this.#ws;
    if (!ws || !this.#isOpen || ws.readyState !== WsrawClient.OPEN) return;
    ws.send(HEARTBEAT_PING);
    // The deadline counts from the oldest unanswered ping.
    if (this.#deadlineTimer === undefined && this.#heartbeatTimeoutMs > 0) {
      this.#deadlineTimer = setTimeout(() => this.#heartbeatTimedOut(), this.#heartbeatTimeoutMs);
    }
  }

  #heartbeatTimedOut() {
    this.#deadlineTimer = undefined;
    const ws = this.#ws;
    if (!ws) return;
    // A dead link may take minutes to report `close`; don't wait for it. The old
    // socket is detached (its events are ignored) and finishes closing on its own.
    this.#detach(ws);
    try {
      ws.close(HEARTBEAT_TIMEOUT_CODE, HEARTBEAT_TIMEOUT_REASON);
    } catch {
      // already closing
    }
    this.#socketGone(HEARTBEAT_TIMEOUT_CODE, HEARTBEAT_TIMEOUT_REASON, false);
  }

  /**
   * The handshake was not answered in time: abandon the socket (a CONNECTING socket
   * has no close frame to send) and report it as browsers report a failed handshake.
   * @param {WebSocket} ws
   */
  #connectTimedOut(ws) {
    this.#connectTimer = undefined;
    if (ws !== this.#ws || this.#isOpen) return;
    this.#detach(ws);
    try {
      ws.close();
    } catch {
      // ignore
    }
    this.#socketGone(1006, CONNECT_TIMEOUT_REASON, false);
  }

  /**
   * The current socket is finished: report it and, unless closed, schedule the next one.
   * @param {number} code
   * @param {string} reason
   * @param {boolean} wasClean
   */
  #socketGone(code, reason, wasClean) {
    if (this.#ws) this.#detach(this.#ws);
    this.#ws = null;
    this.#isOpen = false;
    this.#stopTimers();
    this.#emit(closeEvent(code, reason, wasClean));
    // A close listener may have called close(); #scheduleReconnect checks.
    this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    // The lock: at most one socket and one pending reconnect, none after close().
    if (this.#closed || this.#ws || this.#reconnectTimer !== undefined) return;
    const attempt = ++this.#attempt;
    const cap = Math.min(this.#maxDelayMs, this.#minDelayMs * 2 ** Math.min(attempt - 1, 30));
    const delay = Math.max(MIN_RECONNECT_DELAY_MS, Math.round(Math.random() * cap));
    this.#reconnectTimer = setTimeout(() => this.#connect(false), delay);
    this.#emit(new ReconnectingEvent(attempt, delay));
  }

  /** Clears the per-connection timers (connect, heartbeat, deadline, stability). */
  #stopTimers() {
    this.#connectTimer = clear(this.#connectTimer);
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
    this.#deadlineTimer = clear(this.#deadlineTimer);
    this.#stableTimer = clear(this.#stableTimer);
  }

  /** @param {WebSocket} ws */
  #detach(ws) {
    ws.onopen = null;
    ws.onmessage = null;
    ws.onerror = null;
    ws.onclose = null;
  }
}
