/**
 * Interoperability with independent client implementations: the `ws` package, Node's
 * built-in WebSocket (undici), run in a child process since Node 20 needs
 * `--experimental-websocket` for it, and Python's `websockets` (Debian's python3-websockets).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type UpgradedRequest, requireWebSocket } from "../../src/index.js";
import { Tap, echo, runNode, runProgram, useResources, within } from "../support/index.js";

const resources = useResources();
const NODE_CLIENT = fileURLToPath(new URL("./fixtures/node-websocket-client.mjs", import.meta.url));
const PYTHON_CLIENT = fileURLToPath(new URL("./fixtures/python-websockets-client.py", import.meta.url));
const PYTHON = "/usr/bin/python3";

/** Why the Python client cannot run here, or undefined when it can. Under CI=true it always runs. */
const pythonSkip =
  process.env.CI === "true" || spawnSync(PYTHON, ["-c", "import websockets"]).status === 0
    ? undefined
    : "install Debian's python3-websockets to run it";
if (pythonSkip !== undefined) console.warn(`skipping the Python websockets interop test: ${pythonSkip}`);

async function echoServer() {
  const tap = new Tap((req: UpgradedRequest) => echo(req.websocket));
  const { url } = await resources.server({ "/echo": tap.route({ protocols: ["chat"] }) });
  return { tap, url: url("/echo") };
}

describe("interop", () => {
  it("the ws client: text and binary both ways, subprotocol, clean close", async () => {
    const { tap, url } = await echoServer();
    const peer = await resources.ws(url, ["chat"]);
    expect(peer.ws.protocol).toBe("chat");
    const ws = await tap.next();
    peer.ws.send("hello from ws");
    peer.ws.send(Buffer.from([0, 1, 254, 255]));
    peer.ws.send("é 🎉 日本");
    expect(await peer.next()).toBe("hello from ws");
    expect(await peer.next()).toEqual(Buffer.from([0, 1, 254, 255]));
    expect(await peer.next()).toBe("é 🎉 日本");
    // Server-initiated messages of both kinds too.
    ws.send("from the server");
    ws.send(new Uint8Array([42]));
    expect(await peer.next()).toBe("from the server");
    expect(await peer.next()).toEqual(Buffer.from([42]));

    peer.ws.close(1000, "bye");
    expect(await peer.closed()).toEqual({ code: 1000, reason: "" });
    expect(await within(ws.closed, 10_000, "closed")).toEqual({ code: 1000, reason: "bye", wasClean: true });
  });

  it("Node's built-in WebSocket: text and binary, subprotocol, clean close", async () => {
    const { tap, url } = await echoServer();
    // Node 20 and 21 hide the global WebSocket behind the flag; later versions have it.
    const flags = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function" ? [] : ["--experimental-websocket"];
    const { code, stdout, stderr } = await runNode([...flags, NODE_CLIENT, url]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(result).toEqual({
      opened: true,
      protocol: "chat",
      messages: [{ text: "hello from node" }, { binary: [1, 2, 3, 250] }, { text: "é 🎉 日本" }],
      close: { code: 1000, reason: "", wasClean: true },
      error: null,
    });
    const ws = await tap.next();
    expect(await within(ws.closed, 10_000, "closed")).toEqual({ code: 1000, reason: "done", wasClean: true });
  });

  it.skipIf(pythonSkip !== undefined)(
    `Python's websockets: echoes up to 1 MiB, clean close both ways${pythonSkip ? ` (skipped: ${pythonSkip})` : ""}`,
    async () => {
      const tap = new Tap((req: UpgradedRequest) => echo(req.websocket));
      const { url } = await resources.server({
        "/echo": tap.route({ protocols: ["chat"] }),
        "/bye": requireWebSocket(async ({ websocket }) => {
          websocket.close(4001, "bye now");
          await websocket.closed;
        }),
      });
      const { code, stdout, stderr } = await runProgram(PYTHON, [PYTHON_CLIENT, url("")]);
      expect(code, stderr).toBe(0);
      expect(JSON.parse(stdout.trim().split("\n").pop()!)).toEqual({
        protocol: "chat",
        messages: [
          { text: "hello from python" },
          { binary: [1, 2, 3, 250] },
          { text: "é 🎉 日本" },
          { binary_length: 1024 * 1024, same: true },
        ],
        // The server's answer to the client's close: the code echoed, no reason.
        close: { code: 1000, reason: "" },
        server_close: { code: 4001, reason: "bye now", completed: true },
        error: null,
      });
      const ws = await tap.next();
      expect(await within(ws.closed, 10_000, "closed")).toEqual({ code: 1000, reason: "done", wasClean: true });
    },
  );
});
