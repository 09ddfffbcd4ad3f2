/**
 * `wsraw trace` and `wsraw connect` as child processes from `dist/` (built by `npm test`
 * before vitest; run `npm run build` first when running this file alone). stdout and
 * stderr are pipes, so no colour is expected. Every child is killed by PID at teardown.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { echoRoute } from "../../src/apps/echo.js";
import http2 from "node:http2";
import { createServer, requireWebSocket } from "../../src/index.js";
import { killChild, runNode, useResources, within } from "../support/index.js";
import { type TestCerts, makeCerts, opensslSkip, removeCerts, tlsTitle } from "../client/certs.js";
import { until } from "./helpers.js";

const resources = useResources();
const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);
});

/** `node dist/cli.js ...args` with piped stdio; its output so far and its exit, bounded. */
function spawnCli(args: string[]) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [CLI, ...args], { stdio: "pipe" });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  resources.defer(async () => {
    killChild(child);
    await within(exited, 10_000, "the child process to exit");
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exit: () => within(exited, 10_000, `wsraw ${args.join(" ")} to exit`).catch((error: Error) => {
      throw new Error(`${error.message}; stdout: ${stdout}; stderr: ${stderr}`);
    }),
    waitFor: (pattern: RegExp, stream: "stdout" | "stderr" = "stdout") =>
      until(() => pattern.test(stream === "stdout" ? stdout : stderr), `${pattern} on ${stream}; stdout: ${stdout}; stderr: ${stderr}`),
  };
}

describe("wsraw trace and wsraw connect", () => {
  it("a line goes out through the relay, the echo is printed, EOF closes with 1000; the relay printed it all", async () => {
    const echo = await resources.server({ "/echo": echoRoute() });
    const trace = spawnCli(["trace", "--listen", "0", "--target", `ws://127.0.0.1:${echo.port}/echo`]);
    await trace.waitFor(/listening on ws:\/\/127\.0\.0\.1:\d+\/echo, relaying to ws:\/\/127\.0\.0\.1:\d+\/echo/);
    const relayPort = /127\.0\.0\.1:(\d+)\/echo,/.exec(trace.stdout())![1];

    const client = spawnCli(["connect", `ws://127.0.0.1:${relayPort}/echo`]);
    await client.waitFor(/^connected to /m);
    client.child.stdin.write("hello, relay\n");
    await client.waitFor(/^< hello, relay$/m);
    client.child.stdin.end();
    expect(await client.exit()).toBe(0);
    expect(client.stdout()).toMatch(/^closed: 1000 \(normal closure[^)]*\), clean$/m);

    await trace.waitFor(/closed: \d+ bytes from the client, \d+ from the server, forwarded/);
    const output = trace.stdout();
    expect(output).not.toContain("\x1b["); // a pipe gets no colour
    expect(output).toContain("#1 client → server  opening handshake request");
    expect(output).toMatch(/received {4}\S+ {2}matches/);
    expect(output).toContain('payload (unmasked) "hello, relay"');
    expect(output).toMatch(/server → client {2}text frame at byte \d+: header 81 0c \+ 12 payload bytes/);
    expect(output).toContain("close code 1000: normal closure");
    expect(output).not.toContain("violation");
  });

  it("--protocol, --header, --binary-hex and --trace (with --json)", async () => {
    const server = await resources.server({
      "/app": requireWebSocket(
        async ({ websocket: ws, headers }) => {
          ws.send(`token ${headers["x-token"]}`);
          for await (const message of ws) ws.send(message);
        },
        { protocols: ["chat.v2"] },
      ),
    });
    const client = spawnCli([
      "connect", `ws://127.0.0.1:${server.port}/app`,
      "--protocol", "chat.v1", "--protocol", "chat.v2",
      "--header", "X-Token: secret",
      "--binary-hex", "--trace", "--json",
    ]);
    await client.waitFor(/^connected to \S+ \(subprotocol chat\.v2\)$/m);
    await client.waitFor(/^< token secret$/m);
    client.child.stdin.write("ff 00 7f\nnot hex\n");
    await client.waitFor(/^< \(binary, 3 bytes\) ff 00 7f$/m);
    await client.waitFor(/not hex, not sent/, "stderr");
    client.child.stdin.end();
    expect(await client.exit()).toBe(0);

    const events = client.stderr().split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
    const request = events.find((e) => e.type === "request");
    expect(request.protocols).toEqual(["chat.v1", "chat.v2"]);
    expect(request.headers).toContainEqual({ name: "X-Token", value: "secret", note: "" });
    expect(events.find((e) => e.type === "response")).toMatchObject({ status: 101, protocol: "chat.v2", accept: { matches: true } });
    const binary = events.filter((e) => e.type === "frame" && e.opcodeName === "binary");
    expect(binary.map((e) => [e.direction, e.masked, e.payload.shown])).toEqual([
      ["client", true, "ff 00 7f"],
      ["server", false, "ff 00 7f"],
    ]);
    expect(events.filter((e) => e.type === "frame" && e.opcodeName === "close").map((e) => e.close.code)).toEqual([1000, 1000]);
    expect(events.flatMap((e) => e.violations ?? [])).toEqual([]);
  });

  it("connect --http2 opens over an HTTP/2 stream (RFC 8441); --http2 with --trace is a usage error", async () => {
    const wsraw = createServer().route("/echo", echoRoute());
    const h2 = http2.createServer({ settings: { enableConnectProtocol: true } });
    h2.on("stream", (stream, headers) => {
      if (wsraw.handleHttp2Stream(stream, headers)) return;
      stream.respond({ ":status": 404 });
      stream.end();
    });
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    resources.defer(async () => {
      await wsraw.close();
      await new Promise((resolve) => h2.close(resolve));
    });
    const url = `ws://127.0.0.1:${(h2.address() as { port: number }).port}/echo`;
    const client = spawnCli(["connect", url, "--http2"]);
    await client.waitFor(/^connected to /m);
    client.child.stdin.write("hello over HTTP/2\n");
    await client.waitFor(/^< hello over HTTP\/2$/m);
    client.child.stdin.end();
    expect(await client.exit()).toBe(0);
    expect(wsraw.stats().handshakes.accepted).toBe(1);
    const traced = await runNode([CLI, "connect", url, "--http2", "--trace"]);
    expect(traced.code).toBe(2);
    expect(traced.stderr).toMatch(/--trace reads HTTP\/1\.1 connections: it cannot trace --http2/);
  });

  it("connect to nothing fails with status 1 and says why", async () => {
    const { code, stderr } = await runNode([CLI, "connect", "ws://127.0.0.1:1/"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/ECONNREFUSED/);
  });

  it.each([
    ["trace without --listen", ["trace", "--target", "ws://127.0.0.1:9/"], /needs --listen/],
    ["trace without --target", ["trace", "--listen", "0"], /needs --target/],
    ["trace to http://", ["trace", "--listen", "0", "--target", "http://127.0.0.1:9/"], /must be a ws:\/\/ or wss:\/\/ URL, got http:/],
    ["an unreadable --ca", ["trace", "--listen", "0", "--target", "wss://127.0.0.1:9/", "--ca", "/nonexistent/ca.pem"], /--ca: cannot read \/nonexistent\/ca\.pem/],
    ["connect without a URL", ["connect"], /needs one ws:\/\/ or wss:\/\/ URL/],
    ["connect with a bad --header", ["connect", "ws://127.0.0.1:9/", "--header", "nocolon"], /--header must be "Name: value"/],
    ["an unknown option", ["trace", "--listen", "0", "--bogus"], /Unknown option '--bogus'/],
  ])("%s exits with status 2 and the usage", async (_, args, message) => {
    const { code, stderr } = await runNode([CLI, ...args]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/usage:/);
  });
});

describe.skipIf(opensslSkip !== undefined)(tlsTitle("wsraw trace and wsraw connect --trace to a wss:// server"), () => {
  let certs: TestCerts;
  beforeAll(async () => {
    certs = await makeCerts();
  });
  afterAll(async () => {
    await removeCerts(certs);
  });

  it("the relay speaks TLS to the target, checks its certificate (--ca) and traces the frames in clear", async () => {
    const echo = await resources.server({ "/echo": echoRoute() }, { tls: { key: certs.localhost.key, cert: certs.localhost.cert } });
    const target = `wss://localhost:${echo.port}/echo`;
    const trace = spawnCli(["trace", "--listen", "0", "--target", target, "--ca", certs.ca.certFile]);
    await trace.waitFor(new RegExp(`listening on ws://127\\.0\\.0\\.1:\\d+/echo, relaying to ${target.replace(/[.]/g, "\\.")}`));
    const relayPort = /127\.0\.0\.1:(\d+)\/echo,/.exec(trace.stdout())![1];

    const client = spawnCli(["connect", `ws://127.0.0.1:${relayPort}/echo`]);
    await client.waitFor(/^connected to /m);
    client.child.stdin.write("through TLS\n");
    await client.waitFor(/^< through TLS$/m);
    client.child.stdin.end();
    expect(await client.exit()).toBe(0);

    await trace.waitFor(/closed: \d+ bytes from the client, \d+ from the server, forwarded/);
    expect(trace.stdout()).toMatch(/connected to the target localhost:\d+ over TLSv1\.[23], certificate verified/);
    expect(trace.stdout()).toContain('payload (unmasked) "through TLS"');
    expect(trace.stdout()).not.toContain("violation");
  });

  it("without --ca the test CA is not trusted: the trace says why and the client is refused", async () => {
    const echo = await resources.server({ "/echo": echoRoute() }, { tls: { key: certs.localhost.key, cert: certs.localhost.cert } });
    const trace = spawnCli(["trace", "--listen", "0", "--target", `wss://localhost:${echo.port}/echo`]);
    await trace.waitFor(/listening on/);
    const relayPort = /127\.0\.0\.1:(\d+)\/echo,/.exec(trace.stdout())![1];
    const { code, stderr } = await runNode([CLI, "connect", `ws://127.0.0.1:${relayPort}/echo`]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/closed the connection before answering/);
    await trace.waitFor(/target localhost:\d+: .*(certificate|issuer)/i);
    expect(echo.server.connections).toBe(0);
  });

  it("connect --trace --ca: the in-process relay does the same", async () => {
    const echo = await resources.server({ "/echo": echoRoute() }, { tls: { key: certs.localhost.key, cert: certs.localhost.cert } });
    const client = spawnCli(["connect", `wss://localhost:${echo.port}/echo`, "--ca", certs.ca.certFile, "--trace"]);
    await client.waitFor(/^connected to wss:/m);
    client.child.stdin.write("traced\n");
    await client.waitFor(/^< traced$/m);
    client.child.stdin.end();
    expect(await client.exit()).toBe(0);
    expect(client.stderr()).toMatch(/over TLSv1\.[23], certificate verified/);
    expect(client.stderr()).toContain('payload (unmasked) "traced"');
  });
});
