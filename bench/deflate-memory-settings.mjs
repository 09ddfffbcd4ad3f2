/**
 * What each permessage-deflate setting costs per connection, in server RSS: the figures of
 * the README's table.
 *
 *   npm run build && node bench/deflate-memory-settings.mjs [--connections N] [--runs N]
 *
 * For each setting, a wsraw echo server starts in a child process (--expose-gc); N clients
 * (the `ws` client, offering permessage-deflate as Chromium does: `client_max_window_bits`)
 * connect, each sends one compressible 4 KiB JSON message, gets it back compressed, then
 * stays idle. The child reports RSS after full collections: before the clients, and once
 * they are idle. The cost is the difference divided by N; medians of --runs.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const SETTINGS = [
  ["deflate off", false],
  ["defaults: no context takeover either way", true],
  ["server context takeover (window 15, memLevel 8)", { serverNoContextTakeover: false }],
  ["server context takeover (window 10, memLevel 4)", { serverNoContextTakeover: false, serverMaxWindowBits: 10, memLevel: 4 }],
  ["client context takeover (window 15)", { clientNoContextTakeover: false }],
  ["client context takeover (window 10)", { clientNoContextTakeover: false, clientMaxWindowBits: 10 }],
  ["both takeover, windows 15, memLevel 8", { serverNoContextTakeover: false, clientNoContextTakeover: false }],
];

if (process.argv[2] === "--child") {
  const { createServer } = await import("../dist/index.js");
  const { echoRoute } = await import("../dist/apps/echo.js");
  const server = createServer({ perMessageDeflate: JSON.parse(process.env.DEFLATE) });
  server.route("*", echoRoute());
  const { port } = await server.listen(0);
  const { collect } = await import("./servers/harness.mjs");
  const rss = async () => {
    await collect();
    return process.memoryUsage().rss;
  };
  process.on("message", async (request) => {
    if (request === "rss") process.send({ rss: await rss(), connections: server.connections });
    if (request === "exit") process.exit(0);
  });
  process.send({ port });
} else {
  const { WebSocket } = await import("ws");
  const option = (name, fallback) => {
    const at = process.argv.indexOf(name);
    return at === -1 ? fallback : Number(process.argv[at + 1]);
  };
  const connections = option("--connections", 2000);
  const runs = option("--runs", 3);
  const message = JSON.stringify(
    Array.from({ length: 60 }, (_, i) => ({ id: i, user: `user${i % 7}`, text: "hello, this is a chat message" })),
  ).slice(0, 4096);

  const ask = (child, request) => new Promise((resolve) => child.once("message", resolve) && child.send(request));

  async function measure(setting) {
    const child = fork(fileURLToPath(import.meta.url), ["--child"], {
      execArgv: ["--expose-gc"],
      env: { ...process.env, DEFLATE: JSON.stringify(setting) },
    });
    const { port } = await new Promise((resolve) => child.once("message", resolve));
    const before = (await ask(child, "rss")).rss;
    const clients = [];
    let extensions = "";
    for (let start = 0; start < connections; start += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, connections - start) }, async () => {
          const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } });
          clients.push(client);
          await new Promise((resolve, reject) => client.once("open", resolve).once("error", reject));
          const echoed = new Promise((resolve) => client.once("message", resolve));
          client.send(message);
          if (String(await echoed) !== message) throw new Error("echo differs");
          extensions = client._extensions["permessage-deflate"]?.params ?? {};
        }),
      );
    }
    const after = await ask(child, "rss");
    if (after.connections !== connections) throw new Error(`${after.connections} connections open, expected ${connections}`);
    for (const client of clients) client.terminate();
    child.send("exit");
    return { perConnection: (after.rss - before) / connections, extensions };
  }

  console.log(`server RSS per connection: ${connections} connections, each idle after one 4 KiB message; medians of ${runs} runs`);
  console.log("| setting | negotiated | B/conn |");
  console.log("|---|---|---|");
  for (const [name, setting] of SETTINGS) {
    const results = [];
    let extensions;
    for (let run = 0; run < runs; run++) {
      const result = await measure(setting);
      results.push(result.perConnection);
      extensions = result.extensions;
    }
    results.sort((a, b) => a - b);
    const params = Object.keys(extensions ?? {}).map((key) => (extensions[key] === true ? key : `${key}=${extensions[key]}`));
    console.log(`| ${name} | ${setting === false ? "(none)" : params.join("; ") || "permessage-deflate"} | ${Math.round(results[Math.floor(runs / 2)]).toLocaleString("en-US")} |`);
  }
}
