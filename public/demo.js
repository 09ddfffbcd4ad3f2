// @ts-check
// wsraw demo page. Plain browser JavaScript, no build step. The DOM is always
// built with createElement/textContent: received data is never parsed as HTML.
import { WsrawClient } from "/client.js";

const wsScheme = location.protocol === "https:" ? "wss:" : "ws:";

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return /** @type {T} */ (el);
}

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---------------------------------------------------------------------------
// (a) Echo: the seed's page, with the plain browser WebSocket.

/** @type {HTMLInputElement} */ const echoInput = $("message");
const echoStatus = $("echo_status");
const echoReceived = $("messagecontainer");
/** @type {WebSocket | null} */
let echoSocket = null;

$("connect_websocket").addEventListener("click", () => {
  // If already connected, close the old one first (as the seed does).
  if (echoSocket) echoSocket.close();
  const ws = new WebSocket(`${wsScheme}//${location.host}/echo`);
  echoSocket = ws;
  echoStatus.textContent = "connecting…";
  ws.onopen = () => {
    if (ws === echoSocket) echoStatus.textContent = "connected";
  };
  ws.onmessage = (ev) => {
    echoReceived.prepend(el("p", undefined, String(ev.data)));
  };
  ws.onerror = () => {
    if (ws === echoSocket) echoStatus.textContent = "error";
  };
  ws.onclose = (ev) => {
    if (ws !== echoSocket) return;
    echoSocket = null;
    echoStatus.textContent = `closed (code ${ev.code})`;
  };
});

$("send_message").addEventListener("click", () => {
  if (!echoSocket || echoSocket.readyState !== WebSocket.OPEN) {
    echoStatus.textContent = "not connected: press Connect first";
    return;
  }
  echoSocket.send(echoInput.value);
});

$("close_websocket").addEventListener("click", () => {
  if (!echoSocket) return;
  echoSocket.close();
  echoStatus.textContent = "closing…";
});

// ---------------------------------------------------------------------------
// (b) Chat: WsrawClient keeps the connection alive (heartbeat, reconnect, queue).

/** Client options from the query string (?hb=&hbTimeout=&connectTimeout=&minDelay=&maxDelay=, in ms). */
function clientOptions() {
  const params = new URLSearchParams(location.search);
  /** @param {string} name */
  const ms = (name) => {
    const raw = params.get(name);
    const value = raw === null || raw === "" ? NaN : Number(raw);
    return Number.isFinite(value) && value >= 0 ? value : undefined;
  };
  return {
    heartbeatIntervalMs: ms("hb") ?? 25000,
    heartbeatTimeoutMs: ms("hbTimeout"),
    connectTimeoutMs: ms("connectTimeout"),
    minDelayMs: ms("minDelay"),
    maxDelayMs: ms("maxDelay"),
  };
}

/** @type {HTMLInputElement} */ const nameInput = $("chat_name");
/** @type {HTMLInputElement} */ const roomInput = $("chat_room");
/** @type {HTMLButtonElement} */ const joinButton = $("chat_join");
/** @type {HTMLButtonElement} */ const leaveButton = $("chat_leave");
/** @type {HTMLInputElement} */ const textInput = $("chat_text");
/** @type {HTMLButtonElement} */ const sendButton = $("chat_send");
const chatStatus = $("chat_status");
const online = $("chat_online");
const chatLog = $("chat_log");

/** @type {WsrawClient | null} */
let chat = null;
/** @type {ReturnType<typeof setInterval> | undefined} */
let countdown;

/** @param {Node} entry */
function logEntry(entry) {
  const atBottom = chatLog.scrollHeight - chatLog.scrollTop - chatLog.clientHeight < 8;
  chatLog.append(entry);
  if (atBottom) chatLog.scrollTop = chatLog.scrollHeight;
}

/**
 * @param {string} from
 * @param {string} text
 * @param {number} [at]
 */
function logMessage(from, text, at) {
  const div = el("div", "msg");
  div.append(el("b", "from", from), el("span", "text", text));
  if (typeof at === "number") div.title = new Date(at).toLocaleString();
  logEntry(div);
}

/** @param {string} text */
function logSystem(text) {
  logEntry(el("div", "sys", text));
}

/** @param {unknown} users */
function showOnline(users) {
  const items = Array.isArray(users) ? users.map((name) => el("li", undefined, String(name))) : [];
  online.replaceChildren(...items);
}

/** @param {string} text */
function setStatus(text) {
  clearInterval(countdown);
  countdown = undefined;
  chatStatus.textContent = text;
}

/**
 * Shows "reconnecting in N s", counting down to the scheduled reconnect.
 * @param {number} delay
 */
function countDown(delay) {
  const due = Date.now() + delay;
  const tick = () => {
    const left = Math.ceil((due - Date.now()) / 1000);
    if (left > 0) chatStatus.textContent = `reconnecting in ${left} s`;
    else setStatus("connecting…");
  };
  setStatus("");
  tick();
  if (Date.now() < due) countdown = setInterval(tick, 250);
}

/** @param {boolean} joined */
function setJoined(joined) {
  leaveButton.disabled = !joined;
  textInput.disabled = !joined;
  sendButton.disabled = !joined;
}

function join() {
  const name = nameInput.value.trim();
  const room = roomInput.value.trim() || "lobby";
  if (!name) {
    logSystem("Pick a name first.");
    nameInput.focus();
    return;
  }
  if (chat) leave();

  const url = `${wsScheme}//${location.host}/chat?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}`;
  const client = new WsrawClient(url, clientOptions());
  chat = client;
  setJoined(true);
  setStatus("connecting…");

  client.onopen = () => {
    if (client === chat) setStatus("connected");
  };
  client.onclose = () => {
    if (client === chat) showOnline([]); // not in the room until the server says so again
  };
  client.onreconnecting = (ev) => {
    if (client === chat) countDown(ev.delay);
  };
  client.onmessage = (ev) => {
    if (client !== chat || typeof ev.data !== "string") return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return; // not for us
    }
    if (msg?.type === "message") logMessage(String(msg.from), String(msg.text), msg.at);
    else if (msg?.type === "presence") showOnline(msg.users);
    else if (msg?.type === "system") logSystem(String(msg.text));
  };
  textInput.focus();
}

function leave() {
  if (!chat) return;
  chat.close();
  chat = null;
  setJoined(false);
  showOnline([]);
  setStatus("disconnected");
}

function sendChat() {
  const text = textInput.value;
  if (!chat || text.trim() === "") return;
  // While reconnecting the client queues the message; false means its queue is full.
  if (chat.send(JSON.stringify({ type: "message", text }))) textInput.value = "";
  else logSystem("Not sent: offline and the send queue is full.");
}

/**
 * Enter triggers `action` (but not while an IME is composing, e.g. typing Chinese).
 * @param {HTMLInputElement} input
 * @param {() => void} action
 */
function onEnter(input, action) {
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.isComposing) {
      ev.preventDefault();
      action();
    }
  });
}

joinButton.addEventListener("click", join);
leaveButton.addEventListener("click", leave);
sendButton.addEventListener("click", sendChat);
onEnter(textInput, sendChat);
onEnter(nameInput, join);
onEnter(roomInput, join);

// ---- Server counters: /stats, refreshed every second ----

const statsPanel = $("stats_panel");

function showStats(stats) {
  const rows = [
    ["open connections", stats.connections],
    ["handshakes accepted", stats.handshakes.accepted],
    ["handshakes refused", Object.entries(stats.handshakes.refused).map(([status, n]) => `${status}: ${n}`).join(", ") || "0"],
    ["messages in / out", `${stats.messages.in} / ${stats.messages.out}`],
    ["bytes in / out", `${stats.bytes.in} / ${stats.bytes.out}`],
    ["close codes", Object.entries(stats.closeCodes).map(([code, n]) => `${code}: ${n}`).join(", ") || "none yet"],
    ["backpressure pauses", stats.backpressurePauses],
    ["slow members skipped", stats.slowMembersSkipped],
  ];
  statsPanel.replaceChildren(...rows.flatMap(([name, value]) => [el("dt", "", name), el("dd", "", String(value))]));
}

async function refreshStats() {
  try {
    const response = await fetch("/stats", { cache: "no-store" });
    if (response.ok) showStats(await response.json());
  } catch {
    // The server is restarting: the next tick tries again.
  }
}

refreshStats();
setInterval(refreshStats, 1000);
