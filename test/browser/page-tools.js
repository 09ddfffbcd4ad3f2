// In-page helpers for the browser tests. Installed with `context.addInitScript` in
// Chromium and as a WebDriver BiDi preload script in Firefox (test/support/browsers.ts),
// so it runs in every page before the page's own scripts. Plain browser JavaScript: the test
// files call into it by name (see `call` in helpers.ts), so the code that runs in the page
// is never rewritten by the test runner's TypeScript transform.
(() => {
  /** @param {string} selector */
  const element = (selector) => {
    const el = document.querySelector(selector);
    if (!el) throw new Error(`no element matches ${selector}`);
    return el;
  };

  /** Texts each selector has shown since `watchText` was called. @type {Map<string, string[]>} */
  const histories = new Map();

  /**
   * WsrawClients made by `startClient`, with what they reported.
   * @type {Array<{ client: any, events: string[], messages: unknown[] }>}
   */
  const clients = [];

  const tools = {
    /** @param {string} selector */
    text: (selector) => element(selector).textContent ?? "",

    /** @param {string} selector */
    texts: (selector) => [...document.querySelectorAll(selector)].map((el) => el.textContent ?? ""),

    /** True when some element matching `selector` has exactly `text`. */
    hasText: (/** @type {string} */ selector, /** @type {string} */ text) => tools.texts(selector).includes(text),

    /** The chat log's messages as "from: text" (system lines left out). */
    chatLines: () =>
      [...document.querySelectorAll("#chat_log .msg")].map(
        (el) => `${el.querySelector(".from")?.textContent}: ${el.querySelector(".text")?.textContent}`,
      ),

    /** True when the chat log has the line "from: text". */
    hasChatLine: (/** @type {string} */ line) => tools.chatLines().includes(line),

    /** True when the online list holds exactly `names` (in any order). */
    onlineIs: (/** @type {string[]} */ names) => {
      const shown = tools.texts("#chat_online li").sort();
      return JSON.stringify(shown) === JSON.stringify([...names].sort());
    },

    /** True when the element's text matches the regular expression source. */
    textMatches: (/** @type {string} */ selector, /** @type {string} */ source) =>
      new RegExp(source).test(tools.text(selector)),

    /** Starts recording every text the element shows. */
    watchText: (/** @type {string} */ selector) => {
      const el = element(selector);
      const history = [el.textContent ?? ""];
      histories.set(selector, history);
      new MutationObserver(() => {
        const now = el.textContent ?? "";
        if (history[history.length - 1] !== now) history.push(now);
      }).observe(el, { childList: true, characterData: true, subtree: true });
    },

    history: (/** @type {string} */ selector) => histories.get(selector) ?? [],

    // ---- WsrawClient driven directly ----

    /** Imports the client module the server serves, as an application would. */
    loadClient: async () => {
      const module = await import("/client.js");
      /** @type {any} */ (window).WsrawClient = module.WsrawClient;
      return typeof module.WsrawClient;
    },

    /**
     * Creates a WsrawClient and records its events; returns its index.
     * @param {string} url
     * @param {object} options
     */
    startClient: (url, options) => {
      const client = new /** @type {any} */ (window).WsrawClient(url, options);
      const record = { client, events: /** @type {string[]} */ ([]), messages: /** @type {unknown[]} */ ([]) };
      client.addEventListener("open", () => record.events.push("open"));
      client.addEventListener("close", (/** @type {any} */ ev) => record.events.push(`close ${ev.code}`));
      client.addEventListener("reconnecting", () => record.events.push("reconnecting"));
      client.addEventListener("error", () => record.events.push("error"));
      client.addEventListener("message", (/** @type {MessageEvent} */ ev) => record.messages.push(ev.data));
      clients.push(record);
      return clients.length - 1;
    },

    /** @param {number} id */
    clientState: (id) => {
      const { client, events, messages } = clients[id];
      return { readyState: client.readyState, queued: client.queued, events: [...events], messages: [...messages] };
    },

    /** Sends each message; returns what `send` returned, or "threw: <message>". */
    send: (/** @type {number} */ id, /** @type {string[]} */ data) =>
      data.map((item) => {
        try {
          return clients[id].client.send(item);
        } catch (error) {
          return `threw: ${/** @type {Error} */ (error).message}`;
        }
      }),

    /** @param {number} id */
    closeClient: (id) => clients[id].client.close(),

    /** True once the client has reported `count` events of `type`. */
    eventCount: (/** @type {number} */ id, /** @type {string} */ type, /** @type {number} */ count) =>
      clients[id].events.filter((event) => event === type).length >= count,

    /** True once the client has received `count` messages. */
    messageCount: (/** @type {number} */ id, /** @type {number} */ count) => clients[id].messages.length >= count,
  };

  /** @type {any} */ (window).pageTools = tools;
})();
