/**
 * The package as users get it: `npm pack`, the tarball installed into a fresh project in
 * a temporary folder (offline: wsraw has no dependencies), then used only through that
 * project: the `wsraw` command through `npx`, the entry points through `import`,
 * `require` and strict TypeScript (NodeNext and Bundler resolution).
 *
 * Packs `dist/` as it is (`--ignore-scripts`): `npm test` builds it first; run
 * `npm run build` before running this file alone. The project gets `redis` and
 * `@types/node` as links to the repository's copies, standing in for the user's own
 * `npm install redis @types/node`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WsPeer, within } from "../support/index.js";
import { NPM_ENV, Program, killPrograms, run, runOk } from "../support/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

let temp: string;
let project: string;
let packed: string[];

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist", "cli.js"))) {
    throw new Error("dist/ is missing: run `npm run build` first (npm test does it)");
  }
  temp = mkdtempSync(join(tmpdir(), "wsraw-package-"));
  const pack = await runOk("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", temp], {
    cwd: ROOT,
    env: NPM_ENV,
  });
  const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = info.files.map((file) => file.path);

  project = join(temp, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "wsraw-user", private: true, type: "module" }));
  await runOk("npm", ["install", "--offline", join(temp, info.filename)], { cwd: project, env: NPM_ENV, timeoutMs: 60_000 });
  for (const name of ["redis", "@types/node"]) {
    mkdirSync(dirname(join(project, "node_modules", name)), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", name), join(project, "node_modules", name), "dir");
  }
}, 90_000);

afterEach(killPrograms);

afterAll(() => {
  if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
});

describe("the tarball", () => {
  it("holds the built code, the demo's files, the license and the changelog, and no tests", () => {
    for (const file of [
      "package.json",
      "README.md",
      "LICENSE",
      "CHANGELOG.md",
      "dist/cli.js",
      "public/index.html",
      "public/demo.js",
      "public/demo.css",
      "src/client/browser/client.js",
    ]) {
      expect(packed, file).toContain(file);
    }
    // Every file `exports` points to.
    for (const target of Object.values(manifest.exports as Record<string, string | Record<string, string>>)) {
      for (const path of typeof target === "string" ? [target] : Object.values(target)) {
        expect(packed, path).toContain(path.replace(/^\.\//, ""));
      }
    }
    const stray = packed.filter((path) => /^(test|bench|examples|node_modules|\.ci|dist-bench|seed)\//.test(path));
    expect(stray).toEqual([]);
  });

  it("installs with no dependencies, and with the license's text", () => {
    const installed = JSON.parse(readFileSync(join(project, "node_modules", "wsraw", "package.json"), "utf8"));
    expect(installed.dependencies ?? {}).toEqual({});
    expect(installed.license).toBe("MIT");
    expect(readFileSync(join(project, "node_modules", "wsraw", "LICENSE"), "utf8")).toMatch(/^MIT License/);
  });
});

describe("npx wsraw", () => {
  it("demo serves the page, the browser client as JavaScript, the echo and /stats; SIGTERM stops it", async () => {
    const { program, match } = await Program.start("npx", ["--no", "wsraw", "demo", "--port", "0"], /open http:\/\/127\.0\.0\.1:(\d+)\//, {
      cwd: project,
      env: NPM_ENV,
    });
    const base = `http://127.0.0.1:${match[1]}`;
    const get = async (path: string) => {
      const response = await within(fetch(base + path), 10_000, `GET ${path}`);
      return { status: response.status, type: response.headers.get("content-type"), body: await response.text() };
    };

    const page = await get("/");
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toMatch(/<html/i);
    const client = await get("/client.js");
    expect(client.status).toBe(200);
    expect(client.type).toMatch(/^text\/javascript/);
    expect(client.body).toContain("export class WsrawClient");
    for (const path of ["/demo.js", "/demo.css"]) expect((await get(path)).status, path).toBe(200);
    expect((await get("/echo?message=hi%20there")).body).toBe("hi there");

    const peer = await WsPeer.open(`ws://127.0.0.1:${match[1]}/echo`);
    peer.ws.send("over the installed package");
    expect(await peer.next()).toBe("over the installed package");
    const stats = await get("/stats");
    expect(stats.type).toMatch(/^application\/json/);
    expect(JSON.parse(stats.body)).toBeTypeOf("object");

    await program.stop();
    expect((await peer.closed()).code).toBe(1001);
  });

  it("echo echoes text and binary messages", async () => {
    const { program, match } = await Program.start(
      "npx",
      ["--no", "wsraw", "echo", "--port", "0"],
      /listening on ws:\/\/127\.0\.0\.1:(\d+)\//,
      { cwd: project, env: NPM_ENV },
    );
    const peer = await WsPeer.open(`ws://127.0.0.1:${match[1]}/anything`);
    peer.ws.send("text");
    peer.ws.send(Buffer.from([0, 1, 2, 255]));
    expect(await peer.next()).toBe("text");
    expect(await peer.next()).toEqual(Buffer.from([0, 1, 2, 255]));
    peer.ws.close(1000);
    expect((await peer.closed()).code).toBe(1000);
    await program.stop();
  });
});

describe("the entry points", () => {
  it("wsraw, wsraw/frame, wsraw/http and wsraw/redis load with import", async () => {
    const script = `
      import * as wsraw from "wsraw";
      import * as frame from "wsraw/frame";
      import * as http from "wsraw/http";
      import * as redis from "wsraw/redis";
      console.log(JSON.stringify({
        createServer: typeof wsraw.createServer,
        requireWebSocket: typeof wsraw.requireWebSocket,
        FrameParser: typeof frame.FrameParser,
        accept: http.acceptKey("dGhlIHNhbXBsZSBub25jZQ=="),
        RedisGroups: typeof redis.RedisGroups,
      }));`;
    const { stdout } = await runOk(process.execPath, ["--input-type=module", "-e", script], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({
      createServer: "function",
      requireWebSocket: "function",
      FrameParser: "function",
      accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", // RFC 6455 §1.3's example
      RedisGroups: "function",
    });
  });

  it("importing wsraw opens none of the process's standard streams", async () => {
    // Node makes process.stdin, stdout and stderr when first asked for (an ES import of
    // node:process or node:http2 asks): sockets when they are pipes, as here. A library
    // should not, and sockets made before a server's first connection also make V8 size
    // every later net.Socket in the process larger (+40 B a connection, measured).
    const script = `
      await import("wsraw");
      await import("wsraw/frame");
      await import("wsraw/http");
      const opened = process.getActiveResourcesInfo().filter((kind) => kind === "PipeWrap" || kind === "TTYWrap");
      console.log(JSON.stringify(opened));`;
    const { stdout } = await runOk(process.execPath, ["--input-type=module", "-e", script], { cwd: project });
    expect(JSON.parse(stdout)).toEqual([]);
  });

  // require() of an ES module: on by default from Node 20.19 and 22.12, behind
  // --experimental-require-module from 20.17 and 22.0.
  const [major, minor] = process.versions.node.split(".").map(Number);
  const unflagged = major >= 23 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);
  const flag = unflagged ? [] : ["--experimental-require-module"];

  it(`require("wsraw") works (${unflagged ? "no flag needed" : flag[0]} on Node ${process.versions.node})`, async () => {
    const script = `
      const wsraw = require("wsraw");
      const frame = require("wsraw/frame");
      console.log(typeof wsraw.createServer, typeof frame.encodeMessage);`;
    const { stdout } = await runOk(process.execPath, [...flag, "-e", script], { cwd: project });
    expect(stdout.trim()).toBe("function function");
  });

  // Side by side: checking every declaration file (@types/node's included) takes ~10 s.
  for (const resolution of ["NodeNext", "Bundler"] as const) {
    it.concurrent(`type-check under strict TypeScript with moduleResolution ${resolution}`, async () => {
      const folder = join(project, resolution.toLowerCase());
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, "use.ts"), TYPED_USE);
      writeFileSync(
        join(folder, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: resolution === "NodeNext" ? "NodeNext" : "ESNext",
            moduleResolution: resolution,
            lib: ["ES2022"],
            types: ["node"],
            strict: true,
            noEmit: true,
            // wsraw's own .d.ts files are checked too, once (checking every library's takes ~10 s)
            skipLibCheck: resolution === "Bundler",
            verbatimModuleSyntax: true,
          },
          files: ["use.ts"],
        }),
      );
      const result = await run(process.execPath, [TSC, "-p", folder], { cwd: project, timeoutMs: 55_000 });
      expect(result.stdout + result.stderr).toBe("");
      expect(result.code).toBe(0);
    }, 60_000);
  }
});

/** Uses each entry point with its types; each `@ts-expect-error` fails if the types were `any`. */
const TYPED_USE = `
import { type CloseInfo, type Message, type ServerOptions, CloseCode, createServer, requireWebSocket } from "wsraw";
import { FrameParser, ProtocolError, encodeMessage } from "wsraw/frame";
import { type RequestHead, RequestHeadParser, acceptKey } from "wsraw/http";
import { RedisGroups, type RedisGroupsOptions } from "wsraw/redis";
import { createClient } from "redis";

const options: ServerOptions = { maxPayload: 1 << 20 };
const server = createServer(options);
server.route("/echo", requireWebSocket(async ({ websocket: ws }) => {
  const message: Message | null = await ws.wait();
  if (message !== null) ws.send(message);
  const info: CloseInfo = await ws.closed;
  const code: number = info.code;
  // @ts-expect-error: a message is a string or a Buffer
  const wrong: number = message;
  void code, wrong;
}));
// @ts-expect-error: route needs a path and a route
server.route(42);
const normal: number = CloseCode.Normal;

const parser = new FrameParser(
  { onMessage: (payload: Buffer, binary: boolean) => void [payload, binary], onPing: () => {}, onPong: () => {}, onClose: () => {} },
  { role: "server", maxPayload: 1024 },
);
for (const chunk of encodeMessage("hi", { mask: true })) parser.push(chunk);
const failure = new ProtocolError(1002, "bad");
const closeCode: number = failure.closeCode;

const accept: string = acceptKey("dGhlIHNhbXBsZSBub25jZQ==");
// @ts-expect-error: the key is a string
acceptKey(1);
const headParser = new RequestHeadParser({ maxHeaderSize: 8192 });
let head: RequestHead | undefined;
void headParser, head;

const groupsOptions: RedisGroupsOptions = { prefix: "app" };
const shared: RedisGroups = await RedisGroups.attach(server, createClient(), groupsOptions);
const sent: number = await shared.group("room").broadcast("hello");

export { normal, closeCode, accept, sent };
`;
