/**
 * The `wsraw` command, run as a child process from `dist/` (built by `npm test` before
 * vitest; run `npm run build` first when running this file alone). Each process listens on
 * port 0, prints its real port, and is killed by PID at teardown.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { plainRequest, runNode, startNode, useResources } from "../support/index.js";

const resources = useResources();
const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);
});

async function startEcho(...extra: string[]) {
  const { match } = await startNode(resources, [CLI, "echo", "--port", "0", ...extra], /listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
  const port = Number(match[1]);
  expect(port).toBeGreaterThan(0);
  return { port, url: (path: string) => `ws://127.0.0.1:${port}${path}` };
}

describe("wsraw echo", () => {
  it("echoes on any path, keeping the opcode", async () => {
    const { url } = await startEcho();
    for (const path of ["/", "/anything", "/a/b/c?x=1"]) {
      const peer = await resources.ws(url(path));
      peer.ws.send("text stays text");
      peer.ws.send(Buffer.from([0xff, 0x00, 0x7f]));
      expect(await peer.next()).toBe("text stays text");
      expect(await peer.next()).toEqual(Buffer.from([0xff, 0x00, 0x7f]));
      peer.ws.close(1000);
      expect((await peer.closed()).code).toBe(1000);
    }
  });

  it("/broadcast delivers every message to all peers, the sender included", async () => {
    const { url } = await startEcho();
    const peers = [];
    for (let i = 0; i < 3; i++) peers.push(await resources.ws(url("/broadcast")));
    // An echo peer on another path is not a broadcast member.
    const outsider = await resources.ws(url("/elsewhere"));
    peers[1].ws.send("to everyone");
    peers[2].ws.send(Buffer.from([1, 2, 3]));
    for (const peer of peers) {
      expect(await peer.next()).toBe("to everyone");
      expect(await peer.next()).toEqual(Buffer.from([1, 2, 3]));
    }
    outsider.ws.send("ping?");
    expect(await outsider.next()).toBe("ping?");
    expect(outsider.messages.length).toBe(0);
  });

  it("--heartbeat-ms is accepted: the server pings its clients", async () => {
    const { url } = await startEcho("--heartbeat-ms", "500");
    const peer = await resources.ws(url("/"));
    await peer.pings.next(10_000);
    // `ws` answers pings, so the connection survives the heartbeat's timeout.
    await peer.pings.next(10_000);
    peer.ws.send("still here");
    expect(await peer.next()).toBe("still here");
  });

  it("--max-payload is applied: a larger message fails with 1009", async () => {
    const { url } = await startEcho("--max-payload", "1000");
    const peer = await resources.ws(url("/"));
    peer.ws.send(Buffer.alloc(1000, 1));
    expect(((await peer.next()) as Buffer).length).toBe(1000);
    peer.ws.send(Buffer.alloc(1001, 1));
    expect((await peer.closed()).code).toBe(1009);
  });

  it.each([
    ["echo without --port", ["echo"], /needs --port/],
    ["an unknown command", ["serve"], /unknown command/],
    ["a port that is not a number", ["echo", "--port", "eighty"], /non-negative integer/],
    ["a negative port", ["echo", "--port=-1"], /non-negative integer/],
    ["--redis with echo", ["echo", "--port", "0", "--redis", "redis://127.0.0.1:6379"], /--redis is for wsraw demo/],
  ])("%s exits with status 2 and the usage", async (_, args, message) => {
    const { code, stderr } = await runNode([CLI, ...args]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/usage:/);
  });
});

describe("wsraw demo", () => {
  it("--redis to a Redis that is not there exits with status 1 and says so", async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const { code, stderr } = await runNode([CLI, "demo", "--port", "0", "--redis", "redis://127.0.0.1:1"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
  });

  it("serves the page, the browser client and /echo?message=", async () => {
    const { match } = await startNode(resources, [CLI, "demo", "--port", "0"], /open http:\/\/127\.0\.0\.1:(\d+)\//);
    const port = Number(match[1]);

    const page = await resources.request(port, plainRequest({ path: "/" }));
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body.toString()).toContain('id="connect_websocket"');

    const script = await resources.request(port, plainRequest({ path: "/client.js" }));
    expect(script.status).toBe(200);
    expect(script.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(script.body.length).toBeGreaterThan(100);

    const echoed = await resources.request(port, plainRequest({ path: "/echo?message=hi" }));
    expect(echoed.status).toBe(200);
    expect(echoed.body.toString()).toBe("hi");

    const peer = await resources.ws(`ws://127.0.0.1:${port}/echo`);
    peer.ws.send("over the socket");
    expect(await peer.next()).toBe("over the socket");
  });
});
